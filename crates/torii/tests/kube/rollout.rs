//! Kubernetes mode keeps a Rollout's state in the Rollout's status: a replica started with an
//! empty state directory resumes where the last leader was.

use crate::env::{self, KubeEnv};
use crate::support::{free_port, loopback, yaml, Torii};
use crate::{backend, service};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Status and body of one admin request (HTTP/1.1, `Connection: close`), within 10 s.
async fn admin(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-Torii-Request: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n")?;
        Some((head.get(9..12)?.parse().ok()?, body.to_owned()))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .ok()
        .flatten()
        .unwrap_or((0, String::new()))
}

/// The phase of rollout `default/shop` as this replica's admin API shows it.
async fn phase(torii: &Torii) -> String {
    let (status, body) = admin(torii.admin, "GET", "/api/v1/rollouts").await;
    if status != 200 {
        return String::new();
    }
    let all: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    all["rollouts"][0]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Polls `check` every 100 ms for up to `limit`.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_new_replica_resumes_a_rollout_from_its_status() {
    if !env::available("a_new_replica_resumes_a_rollout_from_its_status") {
        return;
    }
    let kube = KubeEnv::up().await;
    let ip = loopback();
    let port = free_port(ip);
    let (stable, candidate) = (backend("stable").await, backend("candidate").await);
    kube.apply(&yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        service("stable", &stable),
        service("candidate", &candidate),
        yaml::http_route(
            "shop",
            "gw",
            &["shop.test"],
            "  - backendRefs: [{name: stable, port: 80, weight: 100}, {name: candidate, port: 80, weight: 0}]\n",
        ),
        "apiVersion: torii.dev/v1alpha1
kind: Rollout
metadata: {name: shop, namespace: default}
spec:
  targetRef: {kind: HTTPRoute, name: shop}
  stableRef: {name: stable, port: 80}
  candidateRef: {name: candidate, port: 80}
  steps:
    - {weight: 10, pause: 1h}
    - {weight: 100}
  analysis: {minRequests: 10, interval: 1s}
"
        .to_owned(),
    ]));
    let state = tempfile::tempdir().expect("a state dir");
    let state_dir = state.path().to_str().expect("UTF-8");
    let first = Torii::start_kube(ip, &kube.kubeconfig(), &["--state-dir", state_dir]).await;
    assert!(
        eventually(Duration::from_secs(30), async || phase(&first).await
            == "Progressing")
        .await,
        "the rollout starts: {:?}\n{}",
        phase(&first).await,
        first.stderr()
    );
    // Pause it (the first replica leads once it holds the Lease: retry while it answers 409).
    let paused = eventually(Duration::from_secs(30), async || {
        admin(first.admin, "POST", "/api/v1/rollouts/default/shop/pause")
            .await
            .0
            == 200
    })
    .await;
    assert!(paused, "pause accepted\n{}", first.stderr());
    // The state reaches the Rollout's status.
    let in_status = eventually(Duration::from_secs(30), async || {
        let output = kube.kubectl(&["get", "rollout", "shop", "-o", "json"], None);
        let rollout: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        rollout["status"]["phase"] == "Paused"
    })
    .await;
    let output = kube.kubectl(&["get", "rollout", "shop", "-o", "json"], None);
    assert!(
        in_status,
        "status says paused: {}\nadmin phase {:?}\n{}",
        String::from_utf8_lossy(&output.stdout),
        phase(&first).await,
        first.stderr()
    );
    first.kill();

    // A replica with a new, empty state directory reads the state back from the status.
    let fresh = tempfile::tempdir().expect("a state dir");
    let fresh_dir = fresh.path().to_str().expect("UTF-8");
    let second = Torii::start_kube(ip, &kube.kubeconfig(), &["--state-dir", fresh_dir]).await;
    assert!(
        eventually(Duration::from_secs(40), async || phase(&second).await
            == "Paused")
        .await,
        "the second replica resumes paused: {:?}\n{}",
        phase(&second).await,
        second.stderr()
    );
    assert_eq!(
        std::fs::read_dir(fresh.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing written to the state directory in Kubernetes mode"
    );
}
