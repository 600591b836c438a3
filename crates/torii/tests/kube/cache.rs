//! A torii started while the API server is down serves the last set from its cache directory,
//! then switches to live data when the API server is back.

use crate::env::{self, KubeEnv};
use crate::support::{free_port, loopback, Torii};
use crate::{answer, backend, gateway_and_route, route, service, wait_answer, yaml};
use std::net::SocketAddr;
use std::time::Duration;

#[tokio::test]
async fn a_start_without_the_apiserver_serves_the_cached_set() {
    if !env::available("a_start_without_the_apiserver_serves_the_cached_set") {
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
    let cache_dir = tempfile::tempdir().expect("temp dir");
    let cache = cache_dir.path().join("cache");
    let first = Torii::ready(Torii::spawn_kube(ip, &kube.kubeconfig(), Some(&cache), &[])).await;
    wait_answer(http, "/a", "a").await;
    let written = crate::support::eventually(Duration::from_secs(10), || async {
        cache.join("resources.json").is_file().then_some(())
    })
    .await;
    assert!(written.is_some(), "the cache is written");
    first.sigterm();
    assert!(first.wait_exit(Duration::from_secs(15)).await.is_some());
    drop(first);

    kube.kill_apiserver();
    let started = std::time::Instant::now();
    let second = Torii::spawn_kube(ip, &kube.kubeconfig(), Some(&cache), &[]);
    // Startup waits 10 s for the API server, then serves the cache.
    let ready = crate::support::eventually(Duration::from_secs(30), || async {
        matches!(second.admin_get("/readyz").await, Ok((200, _))).then_some(())
    })
    .await;
    assert!(
        ready.is_some(),
        "ready from the cache; stderr:\n{}",
        second.stderr()
    );
    eprintln!("ready from the cache {:?} after start", started.elapsed());
    assert_eq!(
        answer(http, "/a").await.as_deref(),
        Some("a"),
        "the cached route serves"
    );
    assert!(
        second.stderr().contains("serving the cached set"),
        "{}",
        second.stderr()
    );

    // The API server is back: the live lists replace the cache, and edits apply.
    kube.start_apiserver().await;
    kube.apply(&route(&[("/a", "a"), ("/b", "b")]));
    wait_answer(http, "/b", "b").await;
    assert_eq!(answer(http, "/a").await.as_deref(), Some("a"));
}
