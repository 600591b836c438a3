//! The admin HTTP server: `/readyz`, `/healthz`, `/metrics`, `/api/v1/status` and
//! `/api/v1/config`.
//!
//! It knows nothing of the proxy: the binary publishes readiness, status and the config
//! summary into an [`AdminState`], and metrics into the shared Prometheus registry.
//!
//! Every request, to the built-in routes and to those the binary adds, passes one layer that
//! applies the [`AdminAccess`] policy first (see [`access`]): DNS-rebinding and cross-origin
//! defences, the bearer token, and loopback-only changes without one.

pub mod access;

pub use access::{
    AdminAccess, AdminToken, AdminTokenFileError, AllowedHost, InvalidAdminToken,
    InvalidAllowedHost, Refusal, UnprotectedAdminError,
};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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
    refused: RefusedRequests,
}

/// Requests the access layer refused, by reason.
type RefusedRequests = Family<[(&'static str, &'static str); 1], Counter>;

/// A status section computed when `/api/v1/status` is read (for state that changes between
/// config applies, such as origin health).
pub type LiveSection = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

impl AdminState {
    /// A state that is not ready, with the given metrics registry.
    pub fn new(mut registry: Registry) -> Arc<Self> {
        let refused = RefusedRequests::default();
        for reason in Refusal::ALL {
            let _ = refused.get_or_create(&[("reason", reason.label())]);
        }
        registry.register(
            "torii_admin_refused_requests",
            "Admin API requests refused before any route ran, by reason",
            refused.clone(),
        );
        Arc::new(AdminState {
            ready: AtomicBool::new(false),
            registry: Mutex::new(registry),
            refused,
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

/// The admin routes and `extra` (the binary's APIs over state this crate does not know, such
/// as rollouts and comparisons), every one behind the [`AdminAccess`] layer. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`: without the peer's address, changes
/// without a token are refused.
pub fn router(state: Arc<AdminState>, access: AdminAccess, extra: Router) -> Router {
    let guard = Arc::new(Guard {
        access,
        refused: state.refused.clone(),
    });
    Router::new()
        .route("/readyz", get(readyz))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/config", get(config))
        .with_state(state)
        .merge(extra)
        .layer(axum::middleware::from_fn_with_state(guard, guard_layer))
}

/// Binds the admin address now (so errors surface at startup) and returns the server future.
pub async fn bind(
    access: AdminAccess,
    state: Arc<AdminState>,
) -> Result<impl std::future::Future<Output = ()>, AdminBindError> {
    bind_with(access, state, Router::new()).await
}

/// [`bind`] with more routes, merged beside the built-in ones and behind the same layer.
pub async fn bind_with(
    access: AdminAccess,
    state: Arc<AdminState>,
    extra: Router,
) -> Result<impl std::future::Future<Output = ()>, AdminBindError> {
    let address = access.address();
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| AdminBindError { address, source })?;
    let app = router(state, access, extra).into_make_service_with_connect_info::<SocketAddr>();
    Ok(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "admin server stopped");
        }
    })
}

/// The access layer's state.
struct Guard {
    access: AdminAccess,
    refused: RefusedRequests,
}

/// Runs [`AdminAccess::check`] before every route (and the 404 and 405 answers).
async fn guard_layer(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    match guard
        .access
        .check(request.method(), request.uri(), request.headers(), peer)
    {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            guard
                .refused
                .get_or_create(&[("reason", refusal.label())])
                .inc();
            tracing::debug!(reason = refusal.label(), ?peer, "admin request refused");
            refusal.into_response()
        }
    }
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends `head` (request line and headers, without the blank line) and `body`; the status
    /// and the whole answer.
    async fn send(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("{head}\r\nConnection: close\r\n\r\n{body}");
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            s.read_to_string(&mut out),
        )
        .await
        .expect("answer within 5 s")
        .unwrap();
        let code = out[9..12].parse().unwrap();
        (code, out)
    }

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let (code, out) = send(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}"), "").await;
        let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (code, body)
    }

    fn free_address() -> SocketAddr {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    }

    #[tokio::test]
    async fn readiness_status_and_metrics() {
        let mut registry = Registry::default();
        let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
        registry.register("torii_test", "a test counter", counter.clone());
        counter.inc();
        let state = AdminState::new(registry);
        let addr = free_address();
        let access = AdminAccess::new(addr, None).unwrap();
        let server = bind(access, state.clone()).await.unwrap();
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

    /// The layer covers the routes the binary adds, the 404 and 405 answers, and counts what
    /// it refuses.
    #[tokio::test]
    async fn every_route_passes_the_access_layer() {
        let state = AdminState::new(Registry::default());
        let addr = free_address();
        let token = AdminToken::parse("0123456789abcdef0123456789abcdef").unwrap();
        let access = AdminAccess::new(addr, Some(token)).unwrap();
        let changed = Arc::new(AtomicBool::new(false));
        let flag = changed.clone();
        let extra = Router::new().route(
            "/api/v1/things/{name}/pause",
            axum::routing::post(move || {
                flag.store(true, Ordering::SeqCst);
                async { "paused\n" }
            }),
        );
        tokio::spawn(bind_with(access, state.clone(), extra).await.unwrap());
        let post = "POST /api/v1/things/a/pause HTTP/1.1\r\nContent-Length: 0";
        let bearer = "Authorization: Bearer 0123456789abcdef0123456789abcdef";

        let cases = [
            (format!("{post}\r\nHost: rebind.evil.example\r\nOrigin: http://evil.example\r\n{bearer}"), 403),
            (format!("{post}\r\nHost: {addr}\r\nX-Torii-Request: 1"), 401),
            (format!("{post}\r\nHost: {addr}\r\nAuthorization: Bearer wrong-token-wrong-token"), 401),
            ("GET /nope HTTP/1.1\r\nHost: rebind.evil.example".to_owned(), 403),
            (format!("GET /nope HTTP/1.1\r\nHost: {addr}"), 401),
            (format!("GET /api/v1/things/a/pause HTTP/1.1\r\nHost: {addr}\r\n{bearer}"), 405),
            (format!("OPTIONS /api/v1/things/a/pause HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST"), 403),
        ];
        for (head, expect) in &cases {
            let (code, out) = send(addr, head, "").await;
            assert_eq!(code, *expect, "{head}\n{out}");
            assert!(
                !out.to_ascii_lowercase().contains("access-control-allow"),
                "{out}"
            );
            if code == 401 {
                assert!(out.contains("www-authenticate: Bearer"), "{out}");
            }
        }
        assert!(
            !changed.load(Ordering::SeqCst),
            "a refused request reached the route"
        );

        let (code, out) = send(addr, &format!("{post}\r\nHost: {addr}\r\n{bearer}"), "").await;
        assert_eq!(code, 200, "{out}");
        assert!(changed.load(Ordering::SeqCst));

        let metrics = state.render_metrics();
        for line in [
            r#"torii_admin_refused_requests_total{reason="host"} 2"#,
            r#"torii_admin_refused_requests_total{reason="missing_token"} 2"#,
            r#"torii_admin_refused_requests_total{reason="wrong_token"} 1"#,
            r#"torii_admin_refused_requests_total{reason="origin"} 1"#,
            r#"torii_admin_refused_requests_total{reason="content_type"} 0"#,
        ] {
            assert!(metrics.contains(line), "{line} in\n{metrics}");
        }
    }
}
