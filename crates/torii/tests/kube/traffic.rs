//! Resources written with kubectl reach traffic: a route, then edits of the route, of a
//! Service's endpoints and of a TLS Secret, each within seconds.

use crate::env::{self, KubeEnv};
use crate::support::client::{Conn, Proto};
use crate::support::{free_ports, loopback, yaml, Ca, Leaf, Torii};
use crate::{answer, backend, gateway_and_route, route, service, wait_answer};
use std::net::SocketAddr;
use std::time::Duration;

const TLS_HOST: &str = "secure.kube.test";

#[tokio::test]
async fn routes_endpoints_and_secrets_written_with_kubectl_reach_traffic() {
    if !env::available("routes_endpoints_and_secrets_written_with_kubectl_reach_traffic") {
        return;
    }
    let kube = KubeEnv::up().await;
    let ip = loopback();
    let ports = free_ports(ip, 2);
    let (http, https) = (SocketAddr::new(ip, ports[0]), SocketAddr::new(ip, ports[1]));
    let (a, b) = (backend("a").await, backend("b").await);
    kube.apply(&yaml::docs(&[
        gateway_and_route(ip, http.port(), &[("/a", "a")]),
        service("a", &a),
        service("b", &b),
    ]));
    let torii = Torii::start_kube(ip, &kube.kubeconfig(), &[]).await;
    wait_answer(http, "/a", "a").await;
    assert_eq!(answer(http, "/b").await, None, "no route for /b yet");
    assert!(a.wait_for("/a", Duration::from_secs(1)).await.is_some());

    // A route edit.
    kube.apply(&route(&[("/a", "a"), ("/b", "b")]));
    let took = wait_answer(http, "/b", "b").await;
    eprintln!("route edit reached traffic in {took:?}");

    // An edit of Service a's endpoints: its slice now names backend b.
    kube.apply(&service("a", &b));
    let took = wait_answer(http, "/a", "b").await;
    eprintln!("endpoint edit reached traffic in {took:?}");

    // A TLS listener with its Secret, then a new certificate in the same Secret.
    let ca = Ca::new("kube test CA");
    let (first, second): (Leaf, Leaf) = (ca.leaf(&[TLS_HOST]), ca.leaf(&[TLS_HOST]));
    let listeners = [
        yaml::http_listener("http", http.port()),
        yaml::https_listener("https", https.port(), Some(TLS_HOST), "cert"),
    ];
    kube.apply(&yaml::docs(&[
        yaml::gateway("gw", ip, &listeners),
        yaml::tls_secret("cert", &first),
    ]));
    let served = || async {
        let config = ca.client_config(&[Proto::H1.alpn()]);
        let mut conn = Conn::connect_tls(https, Proto::H1, config, TLS_HOST)
            .await
            .ok()?;
        let certificate = conn.peer_certificates.first().cloned()?;
        let reply = conn.get(TLS_HOST, "/a").await;
        (reply.status == http::StatusCode::OK).then_some(certificate)
    };
    let reached = crate::support::eventually(crate::APPLY, || async {
        (served().await.as_ref() == Some(&first.der)).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "HTTPS with the first certificate; stderr:\n{}",
        torii.stderr()
    );
    kube.apply(&yaml::tls_secret("cert", &second));
    let reached = crate::support::eventually(crate::APPLY, || async {
        (served().await.as_ref() == Some(&second.der)).then_some(())
    })
    .await;
    assert!(reached.is_some(), "the Secret's new certificate is served");
    // The plain listener kept serving through all of it.
    assert_eq!(answer(http, "/b").await.as_deref(), Some("b"));
}
