//! WebSocket-style HTTP/1.1 Upgrade through the proxy: 101, then bytes both ways, in the clear
//! and over TLS.

use crate::support::client::{empty, Conn, Proto};
use crate::support::{free_ports, loopback, within, yaml, Backend, Ca, Torii};
use http::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const HOST: &str = "ws.example.test";
const LIMIT: Duration = Duration::from_secs(5);

async fn upgrade_and_echo(mut conn: Conn, ws: &Backend) {
    let request = conn
        .request(Method::GET, HOST, "/chat")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .body(empty())
        .expect("valid request");
    let response = within(LIMIT, "upgrade", conn.send(request))
        .await
        .expect("upgrade answered");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        response.headers().get("upgrade").map(|v| v.as_bytes()),
        Some(&b"websocket"[..])
    );
    let upgraded = within(LIMIT, "upgraded", hyper::upgrade::on(response))
        .await
        .expect("connection upgraded");
    let (read, mut write) = tokio::io::split(TokioIo::new(upgraded));
    let mut read = BufReader::new(read);

    // Backend → client first, unprompted.
    let mut greeting = String::new();
    within(LIMIT, "greeting", read.read_line(&mut greeting))
        .await
        .expect("read greeting");
    assert_eq!(greeting, "hello from ws\n");

    // Client → backend → client, small and large.
    for size in [5usize, 1 << 20] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        let mut echoed = vec![0u8; size];
        let (written, read) = within(LIMIT, "echo", async {
            tokio::join!(
                async {
                    write.write_all(&payload).await?;
                    write.flush().await
                },
                read.read_exact(&mut echoed)
            )
        })
        .await;
        written.expect("write");
        read.expect("read echo");
        assert!(echoed == payload, "{size} bytes echoed intact");
    }

    let seen = ws
        .wait_for("/chat", LIMIT)
        .await
        .expect("backend saw the upgrade");
    assert_eq!(
        seen.headers.get("upgrade").map(|v| v.as_bytes()),
        Some(&b"websocket"[..])
    );
    let connection = seen
        .headers
        .get("connection")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(connection.contains("upgrade"), "Connection: {connection}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_plain_and_tls() {
    let ip = loopback();
    let ws = Backend::start("ws", ip).await;
    let ca = Ca::new("ws CA");
    let leaf = ca.leaf(&[HOST]);
    let ports = free_ports(ip, 2);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway(
            "gw",
            ip,
            &[
                yaml::http_listener("http", ports[0]),
                yaml::https_listener("https", ports[1], Some(HOST), "ws-cert"),
            ],
        ),
        yaml::tls_secret("ws-cert", &leaf),
        yaml::service_with("ws", 80, Some("kubernetes.io/ws"), &[(ws.addr, true)]),
        yaml::http_route("ws", "gw", &[], &yaml::prefix_rule("/", "ws")),
    ]);
    let _torii = Torii::start(ip, &yaml).await;

    let plain = Conn::connect(SocketAddr::new(ip, ports[0]), Proto::H1)
        .await
        .expect("connect");
    upgrade_and_echo(plain, &ws).await;
    let tls = Conn::connect_tls(
        SocketAddr::new(ip, ports[1]),
        Proto::H1,
        ca.client_config(&[b"http/1.1"]),
        HOST,
    )
    .await
    .expect("TLS connect");
    upgrade_and_echo(tls, &ws).await;
}
