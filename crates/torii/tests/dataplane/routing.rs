//! Routing by path prefix, exact path, header, query parameter and method, with 404 when
//! nothing matches, over {HTTP/1.1, HTTP/2} x {plain, TLS}; every request of a run goes over
//! one keep-alive connection.

use crate::support::client::{empty, Conn, Proto};
use crate::support::{free_ports, loopback, yaml, Backend, Ca, Torii};
use http::{Method, StatusCode};
use std::net::SocketAddr;

const HOST: &str = "routing.example.test";
const BACKENDS: [&str; 5] = ["prefix", "exact", "header", "query", "method"];

const RULES: &str = r#"  - matches: [{path: {type: PathPrefix, value: /prefix}}]
    backendRefs: [{name: prefix, port: 80}]
  - matches: [{path: {type: Exact, value: /exact}}]
    backendRefs: [{name: exact, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /h}, headers: [{name: x-env, value: canary}]}]
    backendRefs: [{name: header, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /q}, queryParams: [{name: v, value: "2"}]}]
    backendRefs: [{name: query, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /m}, method: POST}]
    backendRefs: [{name: method, port: 80}]
"#;

/// One request and the backend that must answer it (`None`: 404).
struct Case {
    method: Method,
    path: &'static str,
    header: Option<(&'static str, &'static str)>,
    want: Option<&'static str>,
}

const fn case(
    method: Method,
    path: &'static str,
    header: Option<(&'static str, &'static str)>,
    want: Option<&'static str>,
) -> Case {
    Case {
        method,
        path,
        header,
        want,
    }
}

const CASES: [Case; 14] = [
    case(Method::GET, "/prefix", None, Some("prefix")),
    case(Method::GET, "/prefix/", None, Some("prefix")),
    case(Method::GET, "/prefix/deep/path?x=1", None, Some("prefix")),
    // PathPrefix matches whole segments only.
    case(Method::GET, "/prefixless", None, None),
    case(Method::GET, "/exact", None, Some("exact")),
    case(Method::GET, "/exact/more", None, None),
    case(
        Method::GET,
        "/h/x",
        Some(("x-env", "canary")),
        Some("header"),
    ),
    case(Method::GET, "/h/x", Some(("x-env", "stable")), None),
    case(Method::GET, "/h/x", None, None),
    case(Method::GET, "/q?v=2", None, Some("query")),
    case(Method::GET, "/q?v=3", None, None),
    case(Method::POST, "/m", None, Some("method")),
    case(Method::GET, "/m", None, None),
    case(Method::GET, "/nothing/here", None, None),
];

struct Setup {
    _torii: Torii,
    backends: Vec<Backend>,
    http: SocketAddr,
    https: SocketAddr,
    ca: Ca,
}

/// One Gateway with an HTTP and an HTTPS listener, one route attached to both.
async fn setup() -> Setup {
    let ip = loopback();
    let mut backends = Vec::new();
    for name in BACKENDS {
        backends.push(Backend::start(name, ip).await);
    }
    let ca = Ca::new("routing CA");
    let leaf = ca.leaf(&[HOST]);
    let ports = free_ports(ip, 2);
    let mut parts = vec![
        yaml::gateway_class(),
        yaml::gateway(
            "gw",
            ip,
            &[
                yaml::http_listener("http", ports[0]),
                yaml::https_listener("https", ports[1], None, "routing-cert"),
            ],
        ),
        yaml::tls_secret("routing-cert", &leaf),
        yaml::http_route("routes", "gw", &[], RULES),
    ];
    for backend in &backends {
        parts.push(yaml::service(&backend.name, &[backend.addr]));
    }
    let torii = Torii::start(ip, &yaml::docs(&parts)).await;
    Setup {
        _torii: torii,
        backends,
        http: SocketAddr::new(ip, ports[0]),
        https: SocketAddr::new(ip, ports[1]),
        ca,
    }
}

async fn connect(setup: &Setup, proto: Proto, tls: bool) -> Conn {
    if tls {
        let config = setup.ca.client_config(&[proto.alpn()]);
        let conn = Conn::connect_tls(setup.https, proto, config, HOST)
            .await
            .expect("TLS connect");
        assert_eq!(conn.alpn.as_deref(), Some(proto.alpn()), "ALPN");
        conn
    } else {
        Conn::connect(setup.http, proto).await.expect("connect")
    }
}

async fn run_table(proto: Proto, tls: bool) {
    let setup = setup().await;
    let mut conn = connect(&setup, proto, tls).await;
    for round in 0..4 {
        for case in &CASES {
            let mut request = conn.request(case.method.clone(), HOST, case.path);
            if let Some((name, value)) = case.header {
                request = request.header(name, value);
            }
            let request = request.body(empty()).expect("valid request");
            let what = format!(
                "{proto:?} tls={tls} round {round}: {} {}",
                case.method, case.path
            );
            let reply = conn
                .fetch(request)
                .await
                .unwrap_or_else(|error| panic!("{what}: {error}"));
            match case.want {
                Some(backend) => {
                    assert_eq!(reply.status, StatusCode::OK, "{what}");
                    let json = reply.json();
                    assert_eq!(json["name"], backend, "{what}");
                    assert_eq!(json["path"], case.path, "{what}");
                    assert_eq!(json["method"], case.method.as_str(), "{what}");
                }
                None => assert_eq!(reply.status, StatusCode::NOT_FOUND, "{what}"),
            }
        }
    }
    assert!(!conn.is_closed(), "the keep-alive connection stays open");
    // Upstream connections are pooled: sequential requests reuse one connection per backend.
    for backend in &setup.backends {
        assert!(
            backend.count() >= 4,
            "{}: {} requests",
            backend.name,
            backend.count()
        );
        assert!(
            backend.connections() <= 2,
            "{proto:?} tls={tls}: {} requests to {} took {} upstream connections",
            backend.count(),
            backend.name,
            backend.connections()
        );
    }
}

#[tokio::test]
async fn routes_http1_plain() {
    run_table(Proto::H1, false).await;
}

#[tokio::test]
async fn routes_http2_plain() {
    run_table(Proto::H2, false).await;
}

#[tokio::test]
async fn routes_http1_tls() {
    run_table(Proto::H1, true).await;
}

#[tokio::test]
async fn routes_http2_tls() {
    run_table(Proto::H2, true).await;
}

#[tokio::test]
async fn gateways_share_a_port_on_different_addresses() {
    let (ip1, ip2) = (loopback(), loopback());
    let port = loop {
        let port = free_ports(ip1, 1)[0];
        if std::net::TcpListener::bind((ip2, port)).is_ok() {
            break port;
        }
    };
    let one = Backend::start("one", ip1).await;
    let two = Backend::start("two", ip2).await;
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("first", ip1, &[yaml::http_listener("http", port)]),
        yaml::gateway("second", ip2, &[yaml::http_listener("http", port)]),
        yaml::service("one", &[one.addr]),
        yaml::service("two", &[two.addr]),
        yaml::http_route("one", "first", &[], &yaml::prefix_rule("/", "one")),
        yaml::http_route("two", "second", &[], &yaml::prefix_rule("/", "two")),
    ]);
    let _torii = Torii::start(ip1, &yaml).await;
    for (ip, want) in [(ip1, "one"), (ip2, "two")] {
        let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
            .await
            .expect("connect");
        assert_eq!(conn.get(HOST, "/").await.backend(), want, "{ip}:{port}");
    }
}
