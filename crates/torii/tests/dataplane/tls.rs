//! HTTPS termination: certificates from `kubernetes.io/tls` Secrets (`stringData`), the right
//! certificate by SNI when two listeners with different hostnames share a port, ALPN h2 and
//! http/1.1, 421 for a Host of the other listener, and curl as a second real client.

use crate::support::client::{Conn, Proto};
use crate::support::{free_port, loopback, yaml, Backend, Ca, Leaf, Torii};
use http::StatusCode;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

const ALPHA: &str = "alpha.example.test";
const BETA: &str = "beta.example.test";

struct Setup {
    _torii: Torii,
    _backends: [Backend; 2],
    addr: SocketAddr,
    ca: Ca,
    leaves: [Leaf; 2],
}

/// Two HTTPS listeners on one port, `alpha` and `beta`, each with its certificate and a route
/// to its own backend.
async fn setup() -> Setup {
    let ip = loopback();
    let port = free_port(ip);
    let backends = [
        Backend::start("alpha", ip).await,
        Backend::start("beta", ip).await,
    ];
    let ca = Ca::new("sni CA");
    let leaves = [ca.leaf(&[ALPHA]), ca.leaf(&[BETA])];
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway(
            "gw",
            ip,
            &[
                yaml::https_listener("alpha", port, Some(ALPHA), "alpha-cert"),
                yaml::https_listener("beta", port, Some(BETA), "beta-cert"),
            ],
        ),
        yaml::tls_secret("alpha-cert", &leaves[0]),
        yaml::tls_secret("beta-cert", &leaves[1]),
        yaml::service("alpha", &[backends[0].addr]),
        yaml::service("beta", &[backends[1].addr]),
        yaml::http_route("alpha", "gw", &[ALPHA], &yaml::prefix_rule("/", "alpha")),
        yaml::http_route("beta", "gw", &[BETA], &yaml::prefix_rule("/", "beta")),
    ]);
    let torii = Torii::start(ip, &yaml).await;
    Setup {
        _torii: torii,
        _backends: backends,
        addr: SocketAddr::new(ip, port),
        ca,
        leaves,
    }
}

#[tokio::test]
async fn sni_selects_certificate_and_alpn_selects_protocol() {
    let setup = setup().await;
    for (host, leaf, backend) in [
        (ALPHA, &setup.leaves[0], "alpha"),
        (BETA, &setup.leaves[1], "beta"),
    ] {
        for proto in [Proto::H2, Proto::H1] {
            let config = setup.ca.client_config(&[proto.alpn()]);
            let mut conn = Conn::connect_tls(setup.addr, proto, config, host)
                .await
                .unwrap_or_else(|error| panic!("{host} {proto:?}: handshake: {error}"));
            assert_eq!(
                conn.peer_certificates.first(),
                Some(&leaf.der),
                "{host}: the listener's own certificate"
            );
            assert_eq!(conn.alpn.as_deref(), Some(proto.alpn()), "{host}: ALPN");
            let reply = conn.get(host, "/who").await;
            assert_eq!(reply.status, StatusCode::OK, "{host} {proto:?}");
            assert_eq!(reply.backend(), backend, "{host} {proto:?}");
            assert_eq!(
                reply.json()["version"],
                "HTTP/1.1",
                "the upstream speaks HTTP/1.1 whatever the client speaks"
            );
        }
    }
}

#[tokio::test]
async fn host_of_the_other_listener_is_misdirected() {
    let setup = setup().await;
    let config = setup.ca.client_config(&[b"h2"]);
    let mut conn = Conn::connect_tls(setup.addr, Proto::H2, config, ALPHA)
        .await
        .expect("handshake");
    let reply = conn.get(BETA, "/").await;
    assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST);
    let reply = conn.get(ALPHA, "/").await;
    assert_eq!(
        reply.backend(),
        "alpha",
        "the connection still serves its own host"
    );
}

#[tokio::test]
async fn unknown_server_name_gets_no_certificate() {
    let setup = setup().await;
    let config = setup.ca.client_config(&[b"h2"]);
    let result = Conn::connect_tls(setup.addr, Proto::H2, config, "gamma.example.test").await;
    assert!(
        result.is_err(),
        "no listener matches gamma.example.test, the handshake must fail"
    );
}

#[tokio::test]
async fn curl_http2_by_sni() {
    if std::process::Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("curl is not installed; skipping");
        return;
    }
    let setup = setup().await;
    let ca_file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(ca_file.path(), setup.ca.pem()).expect("write CA");
    for (host, backend) in [(ALPHA, "alpha"), (BETA, "beta")] {
        let port = setup.addr.port();
        let output = tokio::process::Command::new("curl")
            .args(["--silent", "--show-error", "--http2", "--max-time", "10"])
            .arg("--cacert")
            .arg(ca_file.path())
            .arg("--resolve")
            .arg(format!("{host}:{port}:{}", setup.addr.ip()))
            .args(["--write-out", "\n%{http_version} %{http_code}"])
            .arg(format!("https://{host}:{port}/curl"))
            .output();
        let output = crate::support::within(Duration::from_secs(15), "curl", output)
            .await
            .expect("run curl");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "curl {host}: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        let (body, trailer) = stdout.rsplit_once('\n').expect("write-out line");
        assert_eq!(trailer, "2 200", "curl {host}: HTTP version and status");
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(json["name"], backend, "curl {host}");
    }
}
