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
    /// How requests are normalised (paths, escaped slashes, upgrades).
    pub normalize: crate::service::NormalizeOptions,
    /// Longest wait for the next bytes of a request body (nginx `client_body_timeout`);
    /// a client that stalls longer gets 408.
    pub request_body_timeout: Duration,
    /// Longest wait for an upstream's response head when the route sets no timeout (nginx
    /// `proxy_read_timeout`), counted from the last request body bytes sent.
    pub upstream_response_timeout: Duration,
    /// Longest wait for the next bytes of an upstream's response body (Envoy
    /// `stream_idle_timeout`).
    pub stream_idle_timeout: Duration,
    /// Longest life of one request, response body included (upgraded connections excepted).
    pub max_request_duration: Duration,
    /// Longest silence on a spliced connection (TCPRoute, TLS passthrough, WebSocket).
    pub tcp_idle_timeout: Duration,
    /// Most downstream connections open at once in the process; beyond it accepting pauses.
    pub max_connections: usize,
    /// Most downstream connections open at once on one listening address.
    pub max_connections_per_listener: usize,
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
            normalize: crate::service::NormalizeOptions::default(),
            request_body_timeout: Duration::from_secs(60),
            upstream_response_timeout: Duration::from_secs(60),
            stream_idle_timeout: Duration::from_secs(300),
            max_request_duration: Duration::from_secs(3600),
            tcp_idle_timeout: Duration::from_secs(3600),
            max_connections: 100_000,
            max_connections_per_listener: 100_000,
        }
    }
}

/// Applying a config failed; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A port's TLS config could not be built.
    #[error("invalid snapshot")]
    Snapshot(#[from] SnapshotError),
}

/// A config ready to be put in force ([`Proxy::prepare`]); dropping it changes nothing.
pub struct PreparedConfig {
    config: Arc<Config>,
    tls: crate::snapshot::TlsConfigs,
    load_balancing: crate::pools::PreparedLb,
    migrations: crate::migration::MigrationSet,
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
    /// Downstream connections the process may still open (`max_connections`).
    pub(crate) connection_slots: Arc<Semaphore>,
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
            connection_slots: Arc::new(Semaphore::new(options.max_connections)),
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

    /// Applies a config: [`Proxy::prepare`], then [`Proxy::commit`]. Nothing changes on
    /// error.
    pub async fn apply(&self, config: Config) -> Result<ApplyReport, ApplyError> {
        let prepared = self.prepare(config).await?;
        Ok(self.commit(prepared).await)
    }

    /// Everything about applying `config` that can fail, and nothing that changes what is
    /// served: origin names resolved (bounded), TLS configs built, comparison and rollout
    /// runtimes made. Dropping the result changes nothing.
    pub async fn prepare(&self, config: Config) -> Result<PreparedConfig, ApplyError> {
        let tls = crate::snapshot::prepare_tls(&config)?;
        let load_balancing = self.shared.load_balancing.prepare(&config).await;
        let migrations = self.shared.migrations.prepare(&config);
        Ok(PreparedConfig {
            config: Arc::new(config),
            tls,
            load_balancing,
            migrations,
        })
    }

    /// Puts a prepared config in force; never fails. Pools and health targets move to it,
    /// its snapshot is built, sockets are bound for new addresses, the snapshot is swapped in,
    /// and sockets whose addresses are gone are closed. Requests in flight finish on the
    /// snapshot they started on; sockets kept are not touched; an address that cannot be
    /// bound is reported (its listeners are not served).
    pub async fn commit(&self, prepared: PreparedConfig) -> ApplyReport {
        let PreparedConfig {
            config,
            tls,
            load_balancing,
            migrations,
        } = prepared;
        let mut listeners = self.listeners.lock().await;
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let load_balancing = self.shared.load_balancing.commit(load_balancing);
        let migrations = Arc::new(migrations);
        let snapshot = Snapshot::build(
            config,
            generation,
            &self.shared.metrics,
            &load_balancing,
            &migrations,
            tls,
        );
        self.shared.migrations.commit(migrations);
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
        report
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
