//! Test origins: small hyper servers on 127.0.0.x that tests start, stop, slow down and make
//! fail, and a throwaway PKI for the https ones.

#![allow(dead_code)]

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// A request the origin saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub host: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// How the origin answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
    /// Path (and query) → `Location` of a 302.
    pub redirects: HashMap<String, String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            status: 200,
            body: "ok".into(),
            delay: Duration::ZERO,
            redirects: HashMap::new(),
        }
    }
}

#[derive(Default)]
struct Shared {
    behaviour: Mutex<Behaviour>,
    seen: Mutex<Vec<Seen>>,
    accepted: AtomicUsize,
}

/// An HTTP (or HTTPS) origin on a loopback address.
pub struct TestOrigin {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    task: Option<JoinHandle<()>>,
}

impl TestOrigin {
    /// Starts an HTTP origin on `ip` (a 127.0.0.x address), on a free port.
    pub async fn start(ip: [u8; 4]) -> Self {
        Self::start_with(ip, None).await
    }

    /// Starts an HTTPS origin with `config`.
    pub async fn start_tls(ip: [u8; 4], config: Arc<ServerConfig>) -> Self {
        Self::start_with(ip, Some(TlsAcceptor::from(config))).await
    }

    async fn start_with(ip: [u8; 4], tls: Option<TlsAcceptor>) -> Self {
        assert_eq!(ip[0], 127, "tests use loopback addresses only");
        let listener = TcpListener::bind(SocketAddr::from((ip, 0))).await.unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(serve(listener, Arc::clone(&shared), tls.clone()));
        Self {
            address,
            shared,
            tls,
            task: Some(task),
        }
    }

    /// Stops listening and drops every open connection (when this returns, connecting is
    /// refused).
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same address.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("rebind {}: {error}", self.address),
            }
        };
        self.task = Some(tokio::spawn(serve(
            listener,
            Arc::clone(&self.shared),
            self.tls.clone(),
        )));
    }

    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.shared.behaviour.lock().unwrap());
    }

    pub fn set_status(&self, status: u16) {
        self.set(|b| b.status = status);
    }

    pub fn set_body(&self, body: &str) {
        self.set(|b| b.body = body.to_string());
    }

    pub fn set_delay(&self, delay: Duration) {
        self.set(|b| b.delay = delay);
    }

    pub fn redirect(&self, from: &str, to: &str) {
        self.set(|b| {
            b.redirects.insert(from.to_string(), to.to_string());
        });
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Connections accepted so far (TLS ones included, handshake or not).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    pub fn clear_seen(&self) {
        self.shared.seen.lock().unwrap().clear();
    }
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, tls: Option<TlsAcceptor>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| respond(Arc::clone(&shared), request));
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

async fn respond(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    shared.seen.lock().unwrap().push(Seen {
        method: request.method().to_string(),
        path: path.clone(),
        host: request
            .headers()
            .get(http::header::HOST)
            .map(|h| h.to_str().unwrap().to_string()),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
    });
    let behaviour = shared.behaviour.lock().unwrap().clone();
    if !behaviour.delay.is_zero() {
        tokio::time::sleep(behaviour.delay).await;
    }
    if let Some(location) = behaviour.redirects.get(&path) {
        return Ok(Response::builder()
            .status(StatusCode::FOUND)
            .header(http::header::LOCATION, location)
            .body(Full::new(Bytes::new()))
            .unwrap());
    }
    Ok(Response::builder()
        .status(behaviour.status)
        .body(Full::new(Bytes::from(behaviour.body)))
        .unwrap())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config for one certificate chain and key.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Arc<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A self-signed certificate for `names`.
pub fn self_signed(names: &[&str]) -> Arc<ServerConfig> {
    let certified =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    server_config(vec![certified.cert.der().clone()], key.into())
}

/// A throwaway certificate authority.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    /// The CA certificate (to trust).
    pub fn root(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server config with a leaf for `names` signed by this CA.
    pub fn server(&self, names: &[&str]) -> Arc<ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let leaf = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivatePkcs8KeyDer::from(key.serialize_der());
        server_config(vec![leaf.der().clone(), self.root()], key.into())
    }
}
