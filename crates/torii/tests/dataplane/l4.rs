//! Layer 4: TLS passthrough (the client completes its handshake with the backend and sees the
//! backend's certificate) and TCPRoute (raw bytes both ways).

use crate::support::backend::{tcp_echo, tls_echo};
use crate::support::{free_ports, loopback, within, yaml, Ca, Torii};
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const PASS: &str = "pass.example.test";
const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn tls_passthrough_and_tcp_route() {
    let ip = loopback();
    let backend_ca = Ca::new("backend CA");
    let backend_leaf = backend_ca.leaf(&[PASS]);
    let (tls_backend, _tls_task) = tls_echo(ip, "tls-backend", backend_leaf.server_config()).await;
    let (tcp_backend, _tcp_task) = tcp_echo(ip).await;
    let ports = free_ports(ip, 2);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway(
            "gw",
            ip,
            &[
                format!(
                    "{{name: pass, protocol: TLS, port: {}, hostname: \"{PASS}\", tls: {{mode: Passthrough}}}}",
                    ports[0]
                ),
                format!("{{name: tcp, protocol: TCP, port: {}}}", ports[1]),
            ],
        ),
        yaml::service_with("tls-backend", 443, None, &[(tls_backend, true)]),
        yaml::service_with("tcp-backend", 9000, None, &[(tcp_backend, true)]),
        format!(
            "apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {{name: pass, namespace: default}}
spec:
  parentRefs: [{{name: gw, sectionName: pass}}]
  hostnames: [\"{PASS}\"]
  rules:
  - backendRefs: [{{name: tls-backend, port: 443}}]
"
        ),
        "apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: raw, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: tcp}]
  rules:
  - backendRefs: [{name: tcp-backend, port: 9000}]
"
        .to_string(),
    ]);
    let _torii = Torii::start(ip, &yaml).await;

    // Passthrough: the client trusts only the backend's CA, so a completed handshake proves
    // the backend terminated it.
    let stream = within(
        LIMIT,
        "connect",
        TcpStream::connect(SocketAddr::new(ip, ports[0])),
    )
    .await
    .expect("connect to the passthrough listener");
    let connector = tokio_rustls::TlsConnector::from(backend_ca.client_config(&[]));
    let tls = within(
        LIMIT,
        "passthrough handshake",
        connector.connect(ServerName::try_from(PASS).expect("valid name"), stream),
    )
    .await
    .expect("handshake with the backend through the proxy");
    assert_eq!(
        tls.get_ref().1.peer_certificates().and_then(|c| c.first()),
        Some(&backend_leaf.der),
        "the client sees the backend's certificate"
    );
    let mut tls = BufReader::new(tls);
    let mut greeting = String::new();
    within(LIMIT, "greeting", tls.read_line(&mut greeting))
        .await
        .expect("read greeting");
    assert_eq!(greeting, "hello from tls-backend\n");
    tls.write_all(b"ping over tls\n").await.expect("write");
    tls.flush().await.expect("flush");
    let mut echoed = String::new();
    within(LIMIT, "echo", tls.read_line(&mut echoed))
        .await
        .expect("read echo");
    assert_eq!(echoed, "ping over tls\n");

    // TCPRoute: bytes both ways, then half-close reaches the backend, which closes too.
    let mut tcp = within(
        LIMIT,
        "connect",
        TcpStream::connect(SocketAddr::new(ip, ports[1])),
    )
    .await
    .expect("connect to the TCP listener");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut read, mut write) = tcp.split();
    let send = async {
        write.write_all(&payload).await.expect("write");
        write.shutdown().await.expect("half-close");
    };
    let mut received = Vec::new();
    let receive = read.read_to_end(&mut received);
    let (_, read_result) = within(LIMIT, "tcp echo", async { tokio::join!(send, receive) }).await;
    read_result.expect("read echo");
    assert!(
        received == payload,
        "the TCP echo returns every byte in order"
    );
}

#[tokio::test]
async fn passthrough_with_unknown_sni_is_closed() {
    let ip = loopback();
    let backend_ca = Ca::new("backend CA");
    let (tls_backend, _task) =
        tls_echo(ip, "tls-backend", backend_ca.leaf(&[PASS]).server_config()).await;
    let port = free_ports(ip, 1)[0];
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway(
            "gw",
            ip,
            &[format!(
                "{{name: pass, protocol: TLS, port: {port}, hostname: \"{PASS}\", tls: {{mode: Passthrough}}}}"
            )],
        ),
        yaml::service_with("tls-backend", 443, None, &[(tls_backend, true)]),
        format!(
            "apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {{name: pass, namespace: default}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [\"{PASS}\"]
  rules:
  - backendRefs: [{{name: tls-backend, port: 443}}]
"
        ),
    ]);
    let _torii = Torii::start(ip, &yaml).await;
    let stream = TcpStream::connect(SocketAddr::new(ip, port))
        .await
        .expect("connect");
    let connector = tokio_rustls::TlsConnector::from(backend_ca.client_config(&[]));
    let name = ServerName::try_from("other.example.test").expect("valid name");
    let result = within(LIMIT, "handshake", connector.connect(name, stream)).await;
    assert!(result.is_err(), "no listener for other.example.test");
}
