//! The API server goes away: torii keeps serving its last set without a failed request,
//! reconnects when the API server is back, and applies later edits. An etcd compaction makes
//! the resumed watches fail with 410 Gone: torii relists, and since nothing changed, nothing
//! is applied again (no blip).

use crate::env::{self, KubeEnv};
use crate::support::{eventually, free_port, loopback, Torii};
use crate::{backend, gateway_and_route, route, service, wait_answer, yaml, Load};
use std::net::SocketAddr;
use std::time::Duration;

#[tokio::test]
async fn apiserver_outage_and_compaction_never_fail_a_request() {
    if !env::available("apiserver_outage_and_compaction_never_fail_a_request") {
        return;
    }
    let kube = KubeEnv::up().await;
    let ip = loopback();
    let http = SocketAddr::new(ip, free_port(ip));
    let (a, b) = (backend("a").await, backend("b").await);
    kube.apply(&yaml::docs(&[
        gateway_and_route(ip, http.port(), &[("/a", "a")]),
        service("a", &a),
        service("b", &b),
    ]));
    let torii = Torii::start_kube(ip, &kube.kubeconfig(), &[]).await;
    wait_answer(http, "/a", "a").await;
    let load = Load::start(http, "/a", "a");

    // The API server dies under load; torii keeps serving.
    kube.kill_apiserver();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = load.sent();
    assert!(load.failures().is_empty(), "{:?}", load.failures());
    kube.start_apiserver().await;
    // Reconnected: a later edit applies.
    kube.apply(&route(&[("/a", "a"), ("/b", "b")]));
    wait_answer(http, "/b", "b").await;

    // Compaction: writes torii does not watch move etcd's revision past every
    // resourceVersion torii holds, the history is compacted, and the API server restarts (a
    // new watch cache), so resuming watches get 410 Gone and relist.
    for i in 0..3 {
        let output = kube.kubectl(
            &[
                "create",
                "configmap",
                &format!("filler-{i}"),
                "--from-literal=x=y",
            ],
            None,
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let generation = torii.generation().await;
    let mark = torii.stderr().len();
    let revision = kube.compact();
    kube.kill_apiserver();
    kube.start_apiserver().await;
    let relisted = eventually(Duration::from_secs(60), || async {
        let stderr = torii.stderr();
        let since = &stderr[mark..];
        (since.contains("410 Gone") && since.contains("relisted")).then_some(())
    })
    .await;
    assert!(
        relisted.is_some(),
        "no relist after compaction at revision {revision}; stderr:\n{}",
        torii.stderr()
    );
    // Let every watch relist, then check that nothing was applied again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        torii.generation().await,
        generation,
        "a relist of unchanged objects applies nothing"
    );
    assert!(
        !torii.stderr()[mark..].contains("changed=true"),
        "no relist after the compaction found a change"
    );
    // Still live after the relist.
    kube.apply(&route(&[("/a", "a"), ("/c", "b")]));
    wait_answer(http, "/c", "b").await;

    let (sent, failures) = load.finish().await;
    assert!(sent > during, "the load kept running");
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed: {failures:?}",
        failures.len()
    );
    eprintln!("{sent} requests during two API server restarts and a compaction, none failed");
}
