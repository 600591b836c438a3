//! Shared helpers of the integration tests: loopback addresses, an echo backend, a `torii serve`
//! child process, HTTP/1.1 and HTTP/2 clients (plain and TLS), a throwaway PKI and YAML builders.
//!
//! Every test takes a loopback address of its own ([`loopback`]) so tests run in parallel
//! without port clashes; every wait is bounded.
#![allow(dead_code)]

pub mod backend;
pub mod client;
pub mod pki;
pub mod torii;
pub mod yaml;

pub use backend::Backend;
pub use pki::{Ca, Leaf};
pub use torii::Torii;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The counter behind [`loopback`]; starts at an offset from the process id so two test runs
/// at the same time mostly use different addresses.
static NEXT_IP: AtomicU32 = AtomicU32::new(u32::MAX);

/// A loopback address of its own for one test, in 127.0.0.2 ..= 127.0.0.250.
pub fn loopback() -> IpAddr {
    let _ = NEXT_IP.compare_exchange(
        u32::MAX,
        std::process::id() % 249,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    let n = NEXT_IP.fetch_add(1, Ordering::AcqRel);
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, (2 + n % 249) as u8))
}

/// `count` distinct ports free on `ip` now (probed by binding port 0; all probes are held until
/// every port is chosen, so they differ).
pub fn free_ports(ip: IpAddr, count: usize) -> Vec<u16> {
    let probes: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind((ip, 0)).expect("bind a probe socket on loopback"))
        .collect();
    probes
        .iter()
        .map(|p| p.local_addr().expect("probe has an address").port())
        .collect()
}

/// One port free on `ip` now.
pub fn free_port(ip: IpAddr) -> u16 {
    free_ports(ip, 1)[0]
}

/// An address nothing listens on (a probed port, closed again).
pub fn refused_address(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, free_port(ip))
}

/// Runs `future` with a deadline; panics naming `what` when it passes.
pub async fn within<F: Future>(limit: Duration, what: &str, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: not done within {limit:?}"),
    }
}

/// Polls `check` every 10 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
