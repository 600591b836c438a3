//! Kubernetes mode against a real kube-apiserver and etcd (`scripts/kube-env`): `torii serve
//! --kubernetes` reads the resources `kubectl` writes and serves them; edits, outages of the
//! API server, etcd compaction, a start from the cache and missing permissions.
//!
//! A real API server refuses EndpointSlices with loopback addresses, so every backend here
//! listens on 127.0.0.1 and is named `<name>.localhost` in an EndpointSlice of `addressType:
//! FQDN` (RFC 6761 §6.3: names under `localhost.` are the loopback address; torii answers them
//! itself). Skipped, with a message, when the kube-env binaries are not built
//! (`scripts/kube-env build`); `TORII_REQUIRE_KUBE_ENV=1` makes that a failure.

#[path = "../support/mod.rs"]
mod support;

mod cache;
mod env;
mod outage;
mod rbac;
mod rollout;
mod status;
mod traffic;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::client::get_once;
use support::{yaml, Backend};

/// How long a change may take to reach traffic before a test fails.
const APPLY: Duration = Duration::from_secs(15);

/// The Host every request carries.
const HOST: &str = "kube.test";

/// A backend on 127.0.0.1 (the address `*.localhost` names).
async fn backend(name: &str) -> Backend {
    Backend::start(name, IpAddr::V4(Ipv4Addr::LOCALHOST)).await
}

/// Service `default/<name>` whose FQDN EndpointSlice names `backend` as
/// `<backend name>.localhost` at its port.
fn service(name: &str, backend: &Backend) -> String {
    let host = format!("{}.localhost", backend.name);
    yaml::service_fqdn(name, &[(&host, backend.addr.port())])
}

/// GatewayClass `torii`, Gateway `gw` on `ip` with an HTTP listener on `port`, and HTTPRoute
/// `web` with a rule per `(prefix, service)`.
fn gateway_and_route(ip: IpAddr, port: u16, rules: &[(&str, &str)]) -> String {
    let rules: String = rules
        .iter()
        .map(|(prefix, service)| yaml::prefix_rule(prefix, service))
        .collect();
    yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::http_route("web", "gw", &[], &rules),
    ])
}

/// The route `web` alone, with these rules.
fn route(rules: &[(&str, &str)]) -> String {
    let rules: String = rules
        .iter()
        .map(|(prefix, service)| yaml::prefix_rule(prefix, service))
        .collect();
    yaml::http_route("web", "gw", &[], &rules)
}

/// The backend that answers `GET path` (status 200), if any.
async fn answer(addr: SocketAddr, path: &str) -> Option<String> {
    let reply = get_once(addr, HOST, path).await.ok()?;
    (reply.status == http::StatusCode::OK).then(|| reply.backend())
}

/// Waits up to [`APPLY`] until `GET path` is answered by `backend`; the time it took.
async fn wait_answer(addr: SocketAddr, path: &str, backend: &str) -> Duration {
    let started = std::time::Instant::now();
    let reached = support::eventually(APPLY, || async {
        (answer(addr, path).await.as_deref() == Some(backend)).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "GET {path} not answered by {backend} within {APPLY:?} (last: {:?})",
        answer(addr, path).await
    );
    started.elapsed()
}

/// Requests sent in a loop until stopped, each on a fresh connection, counting answers that
/// are not `200` from the expected backend.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    /// Starts sending `GET path` to `addr`, expecting `backend`, every 5 ms.
    fn start(addr: SocketAddr, path: &'static str, backend: &'static str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (stop, sent, failures) = (stop.clone(), sent.clone(), failures.clone());
            async move {
                while !stop.load(Ordering::Acquire) {
                    let reply = get_once(addr, HOST, path).await;
                    sent.fetch_add(1, Ordering::AcqRel);
                    let failure = match reply {
                        Ok(reply) if reply.status == http::StatusCode::OK => {
                            let who = reply.backend();
                            (who != backend).then(|| format!("answered by {who}"))
                        }
                        Ok(reply) => Some(format!("status {}", reply.status)),
                        Err(error) => Some(format!("error {error}")),
                    };
                    if let Some(failure) = failure {
                        failures.lock().expect("not poisoned").push(failure);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Load {
            stop,
            sent,
            failures,
            task,
        }
    }

    /// Requests sent so far.
    fn sent(&self) -> usize {
        self.sent.load(Ordering::Acquire)
    }

    /// Failures so far.
    fn failures(&self) -> Vec<String> {
        self.failures.lock().expect("not poisoned").clone()
    }

    /// Stops and returns (requests sent, failures).
    async fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::Release);
        let (sent, failures) = (self.sent.clone(), self.failures.clone());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        let failures = failures.lock().expect("not poisoned").clone();
        (sent.load(Ordering::Acquire), failures)
    }
}
