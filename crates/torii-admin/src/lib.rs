//! The admin HTTP server: `/readyz`, `/healthz`, `/metrics`, `/api/v1/status` and
//! `/api/v1/config`.
//!
//! It knows nothing of the proxy: the binary publishes readiness, status and the config
//! summary into an [`AdminState`], and metrics into the shared Prometheus registry.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// What the admin server shows; shared with whoever updates it.
pub struct AdminState {
    ready: AtomicBool,
    registry: Mutex<Registry>,
    status: RwLock<Arc<serde_json::Value>>,
    config: RwLock<Arc<serde_json::Value>>,
    live: RwLock<Vec<(String, LiveSection)>>,
}

/// A status section computed when `/api/v1/status` is read (for state that changes between
/// config applies, such as origin health).
pub type LiveSection = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

impl AdminState {
    /// A state that is not ready, with the given metrics registry.
    pub fn new(registry: Registry) -> Arc<Self> {
        Arc::new(AdminState {
            ready: AtomicBool::new(false),
            registry: Mutex::new(registry),
            status: RwLock::new(Arc::new(serde_json::Value::Null)),
            config: RwLock::new(Arc::new(serde_json::Value::Null)),
            live: RwLock::new(Vec::new()),
        })
    }

    /// Marks the process ready (the first snapshot is applied and its listeners are bound).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Replaces the document served at `/api/v1/status`.
    pub fn set_status(&self, status: serde_json::Value) {
        *self.status.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(status);
    }

    /// Replaces the document served at `/api/v1/config`.
    pub fn set_config(&self, config: serde_json::Value) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    /// Adds a section `name` to `/api/v1/status`, computed at each read.
    pub fn add_live_section(&self, name: &str, section: LiveSection) {
        self.live
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.to_owned(), section));
    }

    /// The current status document, with the live sections.
    pub fn status(&self) -> Arc<serde_json::Value> {
        let status = self
            .status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        if live.is_empty() {
            return status;
        }
        let mut status = (*status).clone();
        if let Some(object) = status.as_object_mut() {
            for (name, section) in live.iter() {
                object.insert(name.clone(), section());
            }
        }
        Arc::new(status)
    }

    /// The current config summary.
    pub fn config(&self) -> Arc<serde_json::Value> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adds a collector to the registry (for components created after the state).
    pub fn register_collector(&self, collector: Box<dyn prometheus_client::collector::Collector>) {
        self.registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .register_collector(collector);
    }

    /// Renders the registry in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The admin server could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind admin server on {address}")]
pub struct AdminBindError {
    /// The address asked for.
    pub address: SocketAddr,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// The admin routes, for embedding or testing.
pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/readyz", get(readyz))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/config", get(config))
        .with_state(state)
}

/// Binds the admin address now (so errors surface at startup) and returns the server future.
pub async fn bind(
    address: SocketAddr,
    state: Arc<AdminState>,
) -> Result<impl std::future::Future<Output = ()>, AdminBindError> {
    bind_with(address, state, Router::new()).await
}

/// [`bind`] with more routes (the binary's APIs over state this crate does not know, such as
/// rollouts and comparisons), merged beside the built-in ones.
pub async fn bind_with(
    address: SocketAddr,
    state: Arc<AdminState>,
    extra: Router,
) -> Result<impl std::future::Future<Output = ()>, AdminBindError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| AdminBindError { address, source })?;
    if !address.ip().is_loopback() {
        tracing::warn!(%address, "admin server listens beyond loopback and has no authentication");
    }
    Ok(async move {
        if let Err(error) = axum::serve(listener, router(state).merge(extra)).await {
            tracing::error!(%error, "admin server stopped");
        }
    })
}

async fn readyz(State(state): State<Arc<AdminState>>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<Arc<AdminState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.render_metrics(),
    )
        .into_response()
}

async fn status(State(state): State<Arc<AdminState>>) -> Response {
    json(state.status())
}

async fn config(State(state): State<Arc<AdminState>>) -> Response {
    json(state.config())
}

fn json(value: Arc<serde_json::Value>) -> Response {
    let body = serde_json::to_vec_pretty(&*value).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let code = out[9..12].parse().unwrap();
        let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (code, body)
    }

    #[tokio::test]
    async fn readiness_status_and_metrics() {
        let mut registry = Registry::default();
        let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
        registry.register("torii_test", "a test counter", counter.clone());
        counter.inc();
        let state = AdminState::new(registry);
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let server = bind(addr, state.clone()).await.unwrap();
        tokio::spawn(server);

        assert_eq!(get(addr, "/readyz").await.0, 503);
        state.set_ready(true);
        assert_eq!(get(addr, "/readyz").await.0, 200);
        assert_eq!(get(addr, "/healthz").await.0, 200);
        state.set_status(serde_json::json!({"generation": 7}));
        let (code, body) = get(addr, "/api/v1/status").await;
        assert_eq!(code, 200);
        assert!(body.contains("\"generation\": 7"), "{body}");
        let (_, metrics) = get(addr, "/metrics").await;
        assert!(metrics.contains("torii_test_total 1"), "{metrics}");
        assert_eq!(get(addr, "/nope").await.0, 404);
    }
}
