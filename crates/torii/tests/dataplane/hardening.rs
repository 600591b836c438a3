//! The edge as an attacker tries it (issue 11): raw bytes on a socket against the real binary,
//! backends that record what they receive. One test per class:
//! - one request is seen one way: path bypasses, escaped slashes, Host, absolute-form,
//!   `Connection`, upgrades, framing;
//! - client faults are never origin faults;
//! - every wait is bounded: stalled bodies, silent upstreams, connection caps.

use crate::support::{eventually, free_port, loopback, yaml, Backend, Torii};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A raw exchange's answer: status, head text and body text.
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.head, self.body))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Sends `bytes` on a new connection and reads until the server closes it (at most 10 s).
async fn raw(addr: SocketAddr, bytes: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    read_answer(&mut stream).await
}

async fn read_answer(stream: &mut TcpStream) -> Raw {
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "no answer within 10 s: {:?}",
        String::from_utf8_lossy(&out)
    );
    parse(&out)
}

fn parse(bytes: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Raw {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(target: &str, host: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A gateway on a fresh address: `/admin` to backend `admin`, everything else to `public`,
/// for any host; `extra` documents and `args` added.
struct Edge {
    torii: Torii,
    addr: SocketAddr,
    admin: Backend,
    public: Backend,
}

async fn edge(extra: &[String], args: &[&str]) -> Edge {
    let ip = loopback();
    let admin = Backend::start("admin", ip).await;
    let public = Backend::start("public", ip).await;
    let port = free_port(ip);
    let mut docs = vec![
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("admin", &[admin.addr]),
        yaml::service("public", &[public.addr]),
        yaml::http_route(
            "edge",
            "gw",
            &[],
            &format!(
                "{}{}",
                yaml::prefix_rule("/admin", "admin"),
                yaml::prefix_rule("/", "public")
            ),
        ),
    ];
    docs.extend(extra.iter().cloned());
    let torii = Torii::start_with(ip, &[("config.yaml", &yaml::docs(&docs))], args).await;
    Edge {
        torii,
        addr: SocketAddr::new(ip, port),
        admin,
        public,
    }
}

/// RFC 3986 §6.2.2 and §5.2.4: every spelling of `/admin` takes the `/admin` rule, and the
/// backend gets the path that was matched.
#[tokio::test]
async fn path_bypasses_take_the_rule_of_the_path_they_stand_for() {
    let edge = edge(&[], &[]).await;
    for (target, forwarded) in [
        ("/public/../admin", "/admin"),
        ("/./admin", "/admin"),
        ("/public/%2e%2e/admin", "/admin"),
        ("/public/.%2E/admin/users", "/admin/users"),
        ("/%61dmin", "/admin"),
        ("//admin", "/admin"),
        ("/admin;x=1", "/admin;x=1"),
        ("/static/..//admin?q=1", "/admin?q=1"),
        ("http://h.test/public/../admin", "/admin"),
    ] {
        let answer = raw(edge.addr, &get(target, "h.test")).await;
        assert_eq!(answer.status, 200, "{target}: {}", answer.head);
        let seen = answer.json();
        assert_eq!(
            seen["name"], "admin",
            "{target} walked around the /admin rule"
        );
        assert_eq!(
            seen["path"], forwarded,
            "{target}: the backend got another path"
        );
    }
    assert_eq!(
        edge.public.count(),
        0,
        "no bypass reached the public backend"
    );
}

/// Escaped slashes (`%2F`, `%5C`, `\`): clients that follow redirects are sent to the decoded
/// path, gRPC (which cannot) is refused; neither reaches a backend.
#[tokio::test]
async fn escaped_slashes_are_redirected_to_the_decoded_path() {
    let edge = edge(&[], &[]).await;
    for (target, location) in [
        ("/public%2F..%2Fadmin", "/admin"),
        ("/public%5c..%5cadmin?x", "/admin?x"),
        ("/a%2fb", "/a/b"),
    ] {
        let answer = raw(edge.addr, &get(target, "h.test")).await;
        assert_eq!(answer.status, 308, "{target}: {}", answer.head);
        assert_eq!(answer.header("location").as_deref(), Some(location));
    }
    let grpc = b"POST /pkg.Admin%2FDelete HTTP/1.1\r\nHost: h.test\r\nContent-Type: application/grpc\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(edge.addr, grpc).await.status, 400);
    assert_eq!(edge.admin.count() + edge.public.count(), 0);
}

/// RFC 9112 §3.2: a Host that is not one `uri-host[:port]` is a 400, never routed or copied;
/// §3.2.2: an absolute-form target's authority wins over Host; HTTP/1.0 may omit Host and
/// still reaches its backend with one.
#[tokio::test]
async fn hosts_are_one_valid_authority() {
    let ip_route = yaml::http_route(
        "admin-host",
        "gw",
        &["admin.test"],
        &yaml::prefix_rule("/", "admin"),
    );
    let edge = edge(&[ip_route], &[]).await;
    for request in [
        "GET / HTTP/1.1\r\nHost: public.test,admin.test\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: evil@admin.test\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: admin.test/x\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: admin.test\r\nHost: public.test\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
    ] {
        let answer = raw(edge.addr, request.as_bytes()).await;
        assert_eq!(answer.status, 400, "{request:?}: {}", answer.head);
    }
    assert_eq!(edge.admin.count() + edge.public.count(), 0);

    let absolute =
        b"GET http://admin.test/x HTTP/1.1\r\nHost: public.test\r\nConnection: close\r\n\r\n";
    let seen = raw(edge.addr, absolute).await.json();
    assert_eq!(seen["name"], "admin", "the target's authority routes");
    assert_eq!(seen["headers"]["host"][0], "admin.test");
    assert_eq!(seen["headers"]["x-forwarded-host"][0], "admin.test");

    let old = raw(edge.addr, b"GET /x HTTP/1.0\r\n\r\n").await;
    assert_eq!(old.status, 200, "{}", old.head);
    let host = old.json()["headers"]["host"][0]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        !host.is_empty(),
        "HTTP/1.0 without Host is sent upstream with one"
    );
}

/// RFC 9110 §7.6.1: `Connection` names hop-by-hop headers of the client's request; it cannot
/// remove Host or what a route's filter sets.
#[tokio::test]
async fn connection_cannot_delete_what_the_gateway_sets() {
    let ip = loopback();
    let echo = Backend::start("echo", ip).await;
    let port = free_port(ip);
    let rule = "  - matches: [{path: {type: PathPrefix, value: /}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-set-by-filter, value: \"yes\"}]}
    backendRefs: [{name: echo, port: 80}]
";
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("echo", &[echo.addr]),
        yaml::http_route("r", "gw", &[], rule),
    ]);
    let _torii = Torii::start(ip, &config).await;
    let request = b"GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close, host, x-set-by-filter, content-length, x-forwarded-for\r\nX-Private: 1\r\nConnection: x-private\r\n\r\n";
    let seen = raw(SocketAddr::new(ip, port), request).await.json();
    assert_eq!(seen["headers"]["host"][0], "h.test");
    assert_eq!(seen["headers"]["x-set-by-filter"][0], "yes");
    assert!(seen["headers"]["x-forwarded-for"][0].is_string());
    assert!(
        seen["headers"]["x-private"].is_null(),
        "named hop-by-hop header forwarded"
    );
}

/// Only the upgrades torii forwards (WebSocket) switch protocols; `Upgrade: h2c` (removed by
/// RFC 9113 §3.1) is served as a plain request and its tunnel is never opened; an upstream
/// that switches protocols unasked is a bad gateway.
#[tokio::test]
async fn only_allowed_upgrades_open_a_tunnel() {
    let ip = loopback();
    let echo = Backend::start("echo", ip).await;
    let rogue = switching_backend(ip).await;
    let port = free_port(ip);
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("echo", &[echo.addr]),
        yaml::service("rogue", &[rogue]),
        yaml::http_route(
            "r",
            "gw",
            &[],
            &format!(
                "{}{}",
                yaml::prefix_rule("/rogue", "rogue"),
                yaml::prefix_rule("/", "echo")
            ),
        ),
    ]);
    let _torii = Torii::start(ip, &config).await;
    let addr = SocketAddr::new(ip, port);
    let h2c = b"GET /admin/users HTTP/1.1\r\nHost: h.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n";
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(h2c).await.expect("write");
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    let answer = parse(&buf[..n]);
    assert_eq!(
        answer.status, 200,
        "served as a plain request: {}",
        answer.head
    );
    assert!(!answer.head.contains("101"));
    let seen = echo.requests();
    let last = seen.last().expect("the backend saw the request");
    assert!(last.headers.get("upgrade").is_none(), "Upgrade forwarded");
    assert!(
        last.headers.get("http2-settings").is_none(),
        "HTTP2-Settings forwarded"
    );

    let websocket = b"GET /ws HTTP/1.1\r\nHost: h.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(websocket).await.expect("write");
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 101"),
        "websocket upgrades still work"
    );

    let answer = raw(addr, &get("/rogue", "h.test")).await;
    assert_eq!(answer.status, 502, "unrequested 101: {}", answer.head);
}

/// A backend that answers every request `101 Switching Protocols`.
async fn switching_backend(ip: IpAddr) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
        }
    });
    addr
}

/// RFC 9112 §6: agreeing duplicate lengths are forwarded as one, transfer-codings torii does
/// not implement are 501, a malformed chunked body is the client's 400 (never a 503).
#[tokio::test]
async fn framing_faults_are_answered_by_their_class() {
    let edge = edge(&[], &[]).await;
    let twice = b"POST /x HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let answer = raw(edge.addr, twice).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    let lengths = answer.json()["headers"]["content-length"].clone();
    assert_eq!(
        lengths,
        serde_json::json!(["5"]),
        "one Content-Length forwarded"
    );
    for coding in ["chunked, chunked", "gzip, chunked", "identity, chunked"] {
        let request = format!(
            "POST /x HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: {coding}\r\nConnection: close\r\n\r\n0\r\n\r\n"
        );
        assert_eq!(
            raw(edge.addr, request.as_bytes()).await.status,
            501,
            "{coding}"
        );
    }
    let malformed = b"POST /x HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\nzz\r\n";
    assert_eq!(raw(edge.addr, malformed).await.status, 400);
}

async fn origin_healthy(torii: &Torii, origin: &str) -> Option<bool> {
    let (_, body) = torii.admin_get("/api/v1/status").await.ok()?;
    let status: Value = serde_json::from_str(&body).ok()?;
    status["origins"]
        .as_array()?
        .iter()
        .find(|o| o["key"].as_str().is_some_and(|k| k.ends_with(origin)))
        .and_then(|o| o["healthy"].as_bool())
}

/// Aborted uploads, malformed chunked bodies and stalled bodies are the client's fault: they
/// are answered 400/408 (or counted as 499 when the client is gone), and an origin with
/// outlier detection at 2 consecutive failures stays healthy after 12 of them.
#[tokio::test]
async fn client_faults_never_eject_an_origin() {
    let ip = loopback();
    let origin = Backend::start("only", ip).await;
    let port = free_port(ip);
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        format!(
            "apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {{name: web}}
spec:
  origins: [{{name: only, address: \"{}\"}}]
  outlierDetection: {{consecutiveFailures: 2}}
",
            origin.addr
        ),
        yaml::http_route(
            "web",
            "gw",
            &[],
            "  - backendRefs: [{group: torii.dev, kind: OriginPool, name: web}]\n",
        ),
    ]);
    let torii = Torii::start_with(
        ip,
        &[("config.yaml", &config)],
        &["--request-body-timeout", "1s"],
    )
    .await;
    let addr = SocketAddr::new(ip, port);
    for i in 0..4 {
        // An upload cut off mid-body.
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head =
            format!("POST /up{i} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 100000\r\n\r\n");
        stream.write_all(head.as_bytes()).await.expect("write");
        stream.write_all(&[b'x'; 4096]).await.expect("write");
        origin
            .wait_for(&format!("/up{i}"), Duration::from_secs(5))
            .await
            .expect("the upload reached the origin");
        drop(stream);
        // A malformed chunked body.
        let malformed = format!(
            "POST /bad{i} HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\nnot-hex\r\n"
        );
        assert_eq!(raw(addr, malformed.as_bytes()).await.status, 400);
        // A body that stalls past the body timeout.
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = format!("POST /stall{i} HTTP/1.1\r\nHost: h.test\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc");
        stream.write_all(head.as_bytes()).await.expect("write");
        assert_eq!(read_answer(&mut stream).await.status, 408);
    }
    assert_eq!(
        origin_healthy(&torii, "/web/only").await,
        Some(true),
        "client faults ejected a healthy origin"
    );
    let answer = raw(addr, &get("/after", "h.test")).await;
    assert_eq!(answer.status, 200);
    let metrics = torii.metrics().await;
    assert!(
        metrics.contains("torii_client_faults_total{kind=\"body_timeout\"}"),
        "client faults are counted:\n{metrics}"
    );
}

/// Every wait has a limit: a body that stalls gets 408 at the body timeout, an upstream that
/// never answers 504 at the response timeout, and a slow but steady upload is not mistaken
/// for a silent upstream.
#[tokio::test]
async fn stalled_bodies_and_silent_upstreams_are_cut_at_their_timeouts() {
    let ip = loopback();
    let silent = silent_backend(ip).await;
    let silent_route = yaml::http_route(
        "silent",
        "gw",
        &["silent.test"],
        &yaml::prefix_rule("/", "silent"),
    );
    let edge = edge(
        &[yaml::service("silent", &[silent]), silent_route],
        &[
            "--request-body-timeout",
            "1s",
            "--upstream-response-timeout",
            "1s",
        ],
    )
    .await;
    // A stalled request body.
    let started = Instant::now();
    let mut stream = TcpStream::connect(edge.addr).await.expect("connect");
    stream
        .write_all(b"POST /x HTTP/1.1\r\nHost: h.test\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .expect("write");
    let answer = read_answer(&mut stream).await;
    assert_eq!(answer.status, 408, "{}", answer.head);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // An upstream that never answers.
    let started = Instant::now();
    let answer = raw(edge.addr, &get("/", "silent.test")).await;
    assert_eq!(answer.status, 504, "{}", answer.head);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A slow, steady upload: 8 bytes over ~3.2 s, beyond the 1 s upstream timeout.
    let mut stream = TcpStream::connect(edge.addr).await.expect("connect");
    stream
        .write_all(b"POST /slow HTTP/1.1\r\nHost: h.test\r\nContent-Length: 8\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        stream.write_all(b"x").await.expect("write");
    }
    let answer = read_answer(&mut stream).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.json()["body_len"], 8);
}

/// A backend that accepts connections, reads, and never answers.
async fn silent_backend(ip: IpAddr) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Beyond `--max-connections-per-listener`, accepting pauses (counted) until a connection
/// closes; the waiting client is then served.
#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let edge = edge(&[], &["--max-connections-per-listener", "2"]).await;
    let keep = b"GET /k HTTP/1.1\r\nHost: h.test\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(edge.addr).await.expect("connect");
        stream.write_all(keep).await.expect("write");
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("served")
            .expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut third = TcpStream::connect(edge.addr)
        .await
        .expect("the kernel queues it");
    third
        .write_all(b"GET /third HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 16];
    let early = tokio::time::timeout(Duration::from_millis(700), third.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond the cap");
    drop(held.pop());
    let answer = read_answer(&mut third).await;
    assert_eq!(answer.status, 200, "served once a slot was free");
    let paused = eventually(Duration::from_secs(3), || async {
        let metrics = edge.torii.metrics().await;
        metrics
            .contains("torii_accept_paused_total{limit=\"listener\"}")
            .then_some(())
    })
    .await;
    assert!(paused.is_some(), "the pause is counted");
}
