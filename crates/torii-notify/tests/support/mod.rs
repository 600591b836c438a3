//! Test support: a recording webhook receiver, a real SMTP server (aiosmtpd), waiting helpers.
#![allow(dead_code)]

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use torii_notify::{Notifier, SinkStats};

/// One request the webhook receiver got.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// How the receiver answers.
#[derive(Clone, Default)]
pub struct Script {
    /// Statuses of the first requests, in order.
    pub first: Vec<u16>,
    /// The status after those (200 if 0).
    pub then: u16,
    /// Hold every answer until [`HookServer::release`] gives a permit.
    pub gated: bool,
    /// Wait this long before answering.
    pub delay: Duration,
}

/// A webhook receiver on 127.0.0.1 that records every request.
pub struct HookServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    gate: Arc<Semaphore>,
    task: tokio::task::JoinHandle<()>,
}

impl HookServer {
    /// Answers `first` in order, then 200.
    pub async fn start(first: &[u16]) -> Self {
        Self::start_with(Script {
            first: first.to_vec(),
            ..Script::default()
        })
        .await
    }

    pub async fn start_with(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Semaphore::new(0));
        let statuses = Arc::new(Mutex::new(
            script.first.iter().copied().collect::<VecDeque<_>>(),
        ));
        let then = if script.then == 0 { 200 } else { script.then };
        let task = {
            let requests = Arc::clone(&requests);
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let requests = Arc::clone(&requests);
                    let gate = Arc::clone(&gate);
                    let statuses = Arc::clone(&statuses);
                    let script = script.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request: hyper::Request<Incoming>| {
                            let requests = Arc::clone(&requests);
                            let gate = Arc::clone(&gate);
                            let statuses = Arc::clone(&statuses);
                            let script = script.clone();
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body.collect().await?.to_bytes();
                                requests.lock().unwrap().push(Recorded {
                                    method: parts.method,
                                    path: parts.uri.path().to_owned(),
                                    headers: parts.headers,
                                    body,
                                });
                                if script.gated {
                                    gate.acquire().await.expect("gate open").forget();
                                }
                                tokio::time::sleep(script.delay).await;
                                let status = statuses.lock().unwrap().pop_front().unwrap_or(then);
                                let mut response =
                                    Response::new(Full::new(Bytes::from_static(b"{}")));
                                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                                Ok::<_, hyper::Error>(response)
                            }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        };
        HookServer {
            addr,
            requests,
            gate,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Lets `n` held answers go.
    pub fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    pub async fn wait_for_requests(&self, n: usize) -> Vec<Recorded> {
        wait_until(&format!("{n} requests at {}", self.addr), || {
            self.count() >= n
        })
        .await;
        self.requests()
    }
}

impl Drop for HookServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address on 127.0.0.1 where nothing listens.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

/// Polls `done` every 10 ms for up to 20 s.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The stats of sink `name`.
pub fn stats(notifier: &Notifier, name: &str) -> SinkStats {
    notifier
        .stats()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no sink {name}"))
}

/// Waits until sink `name` has a final outcome for `n` events (delivered + failed).
pub async fn wait_for_outcomes(notifier: &Notifier, name: &str, n: u64) -> SinkStats {
    wait_until(&format!("{n} outcomes of sink {name}"), || {
        let s = stats(notifier, name);
        s.delivered + s.failed >= n
    })
    .await;
    stats(notifier, name)
}

/// A fast retry policy for tests.
pub fn fast_retry(attempts: u32) -> torii_notify::RetryPolicy {
    torii_notify::RetryPolicy {
        attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    }
}

/// A real SMTP server: Python's aiosmtpd, run by `tests/support/smtp_server.py`, writing each
/// message it accepts as a JSON file.
pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: tokio::process::Child,
}

/// How the SMTP server is set up.
#[derive(Default)]
pub struct SmtpOptions<'a> {
    /// `none`, `starttls` or `tls`.
    pub tls: &'a str,
    /// Certificate chain and key PEM files for TLS.
    pub certificate: Option<(&'a Path, &'a Path)>,
    /// Require AUTH with this login and password.
    pub auth: Option<(&'a str, &'a str)>,
    /// Answer 451 to the first this many messages.
    pub fail_first: u32,
}

/// One message the SMTP server accepted, as Python's `email` package parsed it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub login: Option<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub content_type: String,
    /// The `MIME-Version` header, if any.
    pub mime_version: Option<String>,
    /// Every `Message-ID` header.
    pub message_ids: Vec<String>,
    pub body: String,
}

fn python() -> String {
    std::env::var("TORII_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

impl SmtpServer {
    pub async fn start(options: SmtpOptions<'_>) -> Self {
        let python = python();
        let check = std::process::Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {python} ({e}); the e-mail tests need Python 3 with aiosmtpd")
            });
        assert!(
            check.status.success(),
            "the e-mail tests need a real SMTP server: Python's aiosmtpd is not installed for \
             {python} (install it with `pip install aiosmtpd`, or set TORII_TEST_PYTHON to a \
             Python that has it): {}",
            String::from_utf8_lossy(&check.stderr).trim()
        );
        let dir = tempfile::tempdir().expect("temporary directory");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
        let mut command = tokio::process::Command::new(&python);
        command
            .arg(script)
            .arg("--dir")
            .arg(dir.path())
            .arg("--tls")
            .arg(if options.tls.is_empty() {
                "none"
            } else {
                options.tls
            })
            .arg("--fail-first")
            .arg(options.fail_first.to_string());
        if let Some((chain, key)) = options.certificate {
            command.arg("--cert").arg(chain).arg("--key").arg(key);
        }
        if let Some((login, password)) = options.auth {
            command.arg("--auth").arg(format!("{login}:{password}"));
        }
        let log = std::fs::File::create(dir.path().join("server.log")).expect("create the log");
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start the SMTP server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the SMTP server starts within 30 s")
            .expect("read the SMTP server's output")
            .expect("the SMTP server prints its port");
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected SMTP server output {line:?}"));
        SmtpServer { port, dir, child }
    }

    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read the mail directory")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                serde_json::from_slice(&std::fs::read(path).expect("read a message"))
                    .expect("a message record")
            })
            .collect()
    }

    /// What the server wrote to stderr (session errors, tracebacks).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub async fn wait_for_messages(&self, n: usize) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {n} messages at SMTP port {}; server log:\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A throwaway CA and a server certificate for 127.0.0.1, written as PEM files.
pub struct TestPki {
    pub ca_pem: String,
    pub chain: PathBuf,
    pub key: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
    _dir: tempfile::TempDir,
}

impl TestPki {
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server params")
            .signed_by(&key, &ca)
            .expect("CA signs");
        let dir = tempfile::tempdir().expect("temporary directory");
        let chain = dir.path().join("chain.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&chain, format!("{}{}", leaf.pem(), ca.pem())).expect("write chain");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");

        let certs = vec![leaf.der().clone(), ca.der().clone()];
        let private = rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .expect("server config");
        TestPki {
            ca_pem: ca.pem(),
            chain,
            key: key_path,
            server_config: Arc::new(server_config),
            _dir: dir,
        }
    }
}
