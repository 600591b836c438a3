//! The proxy handle: applies configs (build snapshot → bind new sockets → swap → close old
//! sockets) and drains on shutdown.

use crate::listener::{bind_socket, ListenerHandle};
use crate::metrics::ProxyMetrics;
use crate::migration::Migrations;
use crate::pools::LoadBalancing;
use crate::snapshot::{Snapshot, SnapshotError};
use crate::upstream::Upstreams;
use arc_swap::ArcSwap;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify, Semaphore};
use torii_config::Config;

/// Limits and timeouts of the data plane.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Time a client may take to send request headers, and to start the next request on a
    /// keep-alive connection.
    pub header_read_timeout: Duration,
    /// Time an idle keep-alive connection is kept open waiting for its next request.
    pub keep_alive_timeout: Duration,
    /// Time to read a TLS ClientHello.
    pub handshake_timeout: Duration,
    /// Largest request head (request line and headers) in bytes.
    pub max_header_bytes: usize,
    /// Most request headers.
    pub max_headers: usize,
    /// Timeout to connect to an upstream endpoint.
    pub connect_timeout: Duration,
    /// Mirrored requests in flight at most; more are shed.
    pub max_mirrors_in_flight: usize,
    /// Whether to write one JSON access-log line per request.
    pub access_log: bool,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            header_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(75),
            handshake_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            connect_timeout: Duration::from_secs(5),
            max_mirrors_in_flight: 1024,
            access_log: false,
        }
    }
}

/// Applying a config failed; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A port's runtime could not be built.
    #[error("invalid snapshot")]
    Snapshot(#[from] SnapshotError),
}

/// What applying a config did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// The generation now served.
    pub generation: u64,
    /// Addresses newly bound.
    pub bound: Vec<SocketAddr>,
    /// Addresses closed.
    pub closed: Vec<SocketAddr>,
    /// Addresses that could not be bound (their listeners are not served).
    pub bind_errors: Vec<(SocketAddr, std::io::Error)>,
}

/// State shared by every task of the proxy.
pub(crate) struct Shared {
    pub(crate) snapshot: ArcSwap<Snapshot>,
    pub(crate) options: ProxyOptions,
    pub(crate) metrics: Arc<ProxyMetrics>,
    pub(crate) upstreams: Upstreams,
    /// HTTP/1.1 server settings (torii-http1).
    pub(crate) http1: torii_http1::server::ServerOptions,
    /// HTTP/2 only (prior knowledge or ALPN `h2`).
    pub(crate) http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    pub(crate) mirror_permits: Arc<Semaphore>,
    /// Pools, load balancers, health and client location.
    pub(crate) load_balancing: Arc<LoadBalancing>,
    /// Comparisons and rollouts.
    pub(crate) migrations: Arc<Migrations>,
    /// Whether the CPU is saturated (comparisons then give way to users).
    pub(crate) cpu: Arc<crate::load::CpuLoad>,
    open_connections: AtomicUsize,
    idle: Notify,
}

impl Shared {
    /// Registers an open downstream connection; the guard unregisters it.
    pub(crate) fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.open_connections.fetch_add(1, Ordering::AcqRel);
        self.metrics.open_connections.inc();
        self.metrics.connections.inc();
        ConnectionGuard {
            shared: self.clone(),
        }
    }
}

/// Counts one open downstream connection while alive.
pub(crate) struct ConnectionGuard {
    shared: Arc<Shared>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.shared.metrics.open_connections.dec();
        if self.shared.open_connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.idle.notify_waiters();
        }
    }
}

/// The running data plane.
pub struct Proxy {
    shared: Arc<Shared>,
    listeners: Mutex<HashMap<SocketAddr, ListenerHandle>>,
    generation: AtomicU64,
}

impl Proxy {
    /// A proxy serving nothing yet. Must be created inside a tokio runtime.
    pub fn new(
        options: ProxyOptions,
        metrics: Arc<ProxyMetrics>,
        load_balancing: Arc<LoadBalancing>,
    ) -> Self {
        let http1 = torii_http1::server::ServerOptions {
            max_head_bytes: options.max_header_bytes,
            max_headers: options.max_headers,
            header_read_timeout: options.header_read_timeout,
            keep_alive_timeout: options.keep_alive_timeout,
            ..torii_http1::server::ServerOptions::default()
        };
        let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_header_list_size(options.max_header_bytes as u32)
            .max_concurrent_streams(256)
            // Upstream responses carry their own Date; formatting one per response is waste.
            .auto_date_header(false)
            .keep_alive_interval(None);
        let cpu = Arc::new(crate::load::CpuLoad::default());
        crate::load::CpuLoad::spawn(
            &cpu,
            tokio::runtime::Handle::current().metrics().num_workers(),
        );
        let shared = Arc::new(Shared {
            snapshot: ArcSwap::from_pointee(Snapshot::empty()),
            upstreams: Upstreams::new(&options),
            mirror_permits: Arc::new(Semaphore::new(options.max_mirrors_in_flight)),
            load_balancing,
            migrations: Arc::new(Migrations::new()),
            cpu: cpu.clone(),
            options,
            metrics,
            http1,
            http2,
            open_connections: AtomicUsize::new(0),
            idle: Notify::new(),
        });
        Proxy {
            shared,
            listeners: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The snapshot served now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    /// Applies a config: builds its snapshot, binds sockets for new addresses, swaps the
    /// snapshot in, and closes sockets whose addresses are gone. Requests in flight finish on
    /// the snapshot they started on; sockets kept are not touched. Nothing changes on error.
    pub async fn apply(&self, config: Config) -> Result<ApplyReport, ApplyError> {
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let load_balancing = self.shared.load_balancing.build(&config).await;
        let config = Arc::new(config);
        let snapshot = Snapshot::build(
            config.clone(),
            generation,
            &self.shared.metrics,
            &load_balancing,
        )?;
        self.shared.migrations.apply(&config);
        let mut listeners = self.listeners.lock().await;
        let mut report = ApplyReport {
            generation,
            ..ApplyReport::default()
        };
        let mut new_listeners = Vec::new();
        for address in snapshot.ports.keys() {
            if !listeners.contains_key(address) {
                match bind_socket(*address) {
                    Ok(socket) => new_listeners.push((*address, socket)),
                    Err(error) => report.bind_errors.push((*address, error)),
                }
            }
        }
        self.shared.snapshot.store(Arc::new(snapshot));
        self.generation.store(generation, Ordering::Release);
        self.shared
            .metrics
            .snapshot_generation
            .set(generation as i64);
        for (address, socket) in new_listeners {
            listeners.insert(
                address,
                ListenerHandle::spawn(self.shared.clone(), address, socket),
            );
            report.bound.push(address);
        }
        let current = self.shared.snapshot.load();
        let gone: Vec<SocketAddr> = listeners
            .keys()
            .filter(|a| !current.ports.contains_key(a))
            .copied()
            .collect();
        for address in gone {
            if let Some(handle) = listeners.remove(&address) {
                handle.close();
                report.closed.push(address);
            }
        }
        report.bound.sort();
        report.closed.sort();
        Ok(report)
    }

    /// Addresses bound now.
    pub async fn bound_addresses(&self) -> Vec<SocketAddr> {
        let mut addresses: Vec<_> = self.listeners.lock().await.keys().copied().collect();
        addresses.sort();
        addresses
    }

    /// Pools, load balancers and their health.
    pub fn load_balancing(&self) -> &Arc<LoadBalancing> {
        &self.shared.load_balancing
    }

    /// Comparisons and rollouts of the applied config.
    pub fn migrations(&self) -> &Arc<Migrations> {
        &self.shared.migrations
    }

    /// The metrics the proxy records.
    pub fn metrics(&self) -> &Arc<ProxyMetrics> {
        &self.shared.metrics
    }

    /// Stops accepting, asks open connections to finish their requests and close, and waits
    /// up to `grace` for them. Returns the number of connections still open at the end.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        for (_, handle) in self.listeners.lock().await.drain() {
            handle.close();
        }
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.shared.idle.notified();
            let open = self.shared.open_connections.load(Ordering::Acquire);
            if open == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.shared.open_connections.load(Ordering::Acquire);
            }
        }
    }
}
