//! Live reload: an added route answers within a second, an invalid edit is rejected while the
//! old config keeps serving, listeners are bound and closed without disturbing the others, and
//! 30 reloads under continuous load fail no request.

use crate::support::client::{get_once, Conn, Proto};
use crate::support::{eventually, free_ports, loopback, yaml, Backend, Torii};
use http::StatusCode;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HOST: &str = "reload.test";
const APPLY: Duration = Duration::from_secs(3);

/// The config: Gateway `gw` with an HTTP listener per `(name, port)`, Services `a` and `b`,
/// and a route with one rule per `(prefix, backend)`.
fn config(
    ip: IpAddr,
    listeners: &[(&str, u16)],
    backends: &[&Backend],
    rules: &[(&str, &str)],
) -> String {
    let listeners: Vec<String> = listeners
        .iter()
        .map(|(name, port)| yaml::http_listener(name, *port))
        .collect();
    let rules: String = rules
        .iter()
        .map(|(prefix, backend)| yaml::prefix_rule(prefix, backend))
        .collect();
    let mut parts = vec![
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &listeners),
        yaml::http_route("reload", "gw", &[], &rules),
    ];
    for backend in backends {
        parts.push(yaml::service(&backend.name, &[backend.addr]));
    }
    yaml::docs(&parts)
}

#[tokio::test]
async fn added_route_answers_within_a_second() {
    let ip = loopback();
    let (a, b) = (Backend::start("a", ip).await, Backend::start("b", ip).await);
    let port = free_ports(ip, 1)[0];
    let addr = SocketAddr::new(ip, port);
    let listeners = [("http", port)];
    let torii = Torii::start(ip, &config(ip, &listeners, &[&a, &b], &[("/a", "a")])).await;
    let mut conn = Conn::connect(addr, Proto::H1).await.expect("connect");
    assert_eq!(conn.get(HOST, "/a").await.backend(), "a");
    assert_eq!(conn.get(HOST, "/b").await.status, StatusCode::NOT_FOUND);

    let edited = Instant::now();
    torii.write(
        "config.yaml",
        &config(ip, &listeners, &[&a, &b], &[("/a", "a"), ("/b", "b")]),
    );
    let mut answered = None;
    while edited.elapsed() < Duration::from_secs(2) {
        let reply = conn.get(HOST, "/b").await;
        if reply.status == StatusCode::OK {
            answered = Some(reply.backend());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = edited.elapsed();
    assert_eq!(answered.as_deref(), Some("b"), "the new route answers");
    assert!(
        elapsed < Duration::from_secs(1),
        "the new route answered after {elapsed:?}"
    );
    assert_eq!(
        conn.get(HOST, "/a").await.backend(),
        "a",
        "the old route still answers"
    );
    assert!(
        !conn.is_closed(),
        "the reload kept the keep-alive connection"
    );
    assert_eq!(torii.generation().await, 2);
}

#[tokio::test]
async fn invalid_edit_is_rejected_and_the_old_config_keeps_serving() {
    let ip = loopback();
    let a = Backend::start("a", ip).await;
    let port = free_ports(ip, 1)[0];
    let addr = SocketAddr::new(ip, port);
    let listeners = [("http", port)];
    let valid = config(ip, &listeners, &[&a], &[("/a", "a")]);
    let torii = Torii::start(ip, &valid).await;
    assert_eq!(torii.generation().await, 1);

    let invalid = valid.replacen(
        "spec: {ports: [{name: http, port: 80}]}",
        "spec: {ports: [{name: http, port: \"abc\"}]}",
        1,
    );
    assert_ne!(invalid, valid, "the edit applies");
    let line = invalid
        .lines()
        .position(|l| l.contains("\"abc\""))
        .expect("the bad line")
        + 1;
    torii.write("config.yaml", &invalid);
    let file = torii.path("config.yaml");
    let location = format!(
        "{}:{line}: Service default/a: spec.ports[0].port",
        file.display()
    );
    assert!(
        torii
            .wait_stderr("config change rejected", Duration::from_secs(3))
            .await,
        "the rejection is logged; stderr:\n{}",
        torii.stderr()
    );
    let stderr = torii.stderr();
    assert!(
        stderr.contains(&location),
        "stderr names file, line and field ({location}):\n{stderr}"
    );

    // Nothing changed: same generation, same answers, rejection counted.
    assert_eq!(torii.generation().await, 1);
    let reply = get_once(addr, HOST, "/a").await.expect("answered");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.backend(), "a");
    let metrics = torii.metrics().await;
    assert!(
        metrics.contains("torii_reloads_total{result=\"rejected\"} 1"),
        "rejected reloads are counted:\n{metrics}"
    );

    // Fixing the file applies it.
    torii.write(
        "config.yaml",
        &config(ip, &listeners, &[&a], &[("/a", "a"), ("/again", "a")]),
    );
    torii.wait_generation(2, APPLY).await;
    assert_eq!(
        get_once(addr, HOST, "/again")
            .await
            .expect("answered")
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn listeners_are_bound_and_closed_on_reload() {
    let ip = loopback();
    let a = Backend::start("a", ip).await;
    let ports = free_ports(ip, 3);
    let [kept, removed, added] = [0, 1, 2].map(|i| SocketAddr::new(ip, ports[i]));
    let rules = [("/", "a")];
    let torii = Torii::start(
        ip,
        &config(
            ip,
            &[("kept", ports[0]), ("removed", ports[1])],
            &[&a],
            &rules,
        ),
    )
    .await;
    let mut on_kept = Conn::connect(kept, Proto::H1).await.expect("connect");
    assert_eq!(on_kept.get(HOST, "/1").await.status, StatusCode::OK);
    let mut on_kept_h2 = Conn::connect(kept, Proto::H2).await.expect("connect");
    assert_eq!(on_kept_h2.get(HOST, "/1").await.status, StatusCode::OK);
    assert_eq!(
        get_once(removed, HOST, "/1")
            .await
            .expect("answered")
            .status,
        StatusCode::OK
    );
    assert!(
        tokio::net::TcpStream::connect(added).await.is_err(),
        "nothing listens on the added port yet"
    );

    torii.write(
        "config.yaml",
        &config(
            ip,
            &[("kept", ports[0]), ("added", ports[2])],
            &[&a],
            &rules,
        ),
    );
    torii.wait_generation(2, APPLY).await;

    let reply = get_once(added, HOST, "/2")
        .await
        .expect("the added listener answers");
    assert_eq!(reply.status, StatusCode::OK);
    let refused = eventually(Duration::from_secs(1), || async {
        tokio::net::TcpStream::connect(removed)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert!(refused.is_some(), "the removed listener's socket is closed");
    for conn in [&mut on_kept, &mut on_kept_h2] {
        assert!(
            !conn.is_closed(),
            "connections of the kept listener stay open"
        );
        assert_eq!(conn.get(HOST, "/2").await.status, StatusCode::OK);
    }
    let status = torii.status().await;
    assert_eq!(status["bindErrors"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_fail_no_request() {
    let ip = loopback();
    let (one, two) = (
        Backend::start("one", ip).await,
        Backend::start("two", ip).await,
    );
    let port = free_ports(ip, 1)[0];
    let addr = SocketAddr::new(ip, port);
    let listeners = [("http", port)];
    let configs = [
        config(
            ip,
            &listeners,
            &[&one, &two],
            &[("/load", "one"), ("/x", "two")],
        ),
        config(
            ip,
            &listeners,
            &[&one, &two],
            &[("/load", "two"), ("/y", "one")],
        ),
    ];
    let torii = Torii::start(ip, &configs[0]).await;

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for (i, proto) in [Proto::H1, Proto::H2, Proto::H1, Proto::H2]
        .into_iter()
        .enumerate()
    {
        let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
        clients.push(tokio::spawn(async move {
            let mut conn = Conn::connect(addr, proto).await.expect("connect");
            let mut n = 0;
            while !stop.load(Ordering::Acquire) {
                n += 1;
                let path = format!("/load/{i}/{n}");
                let request = conn
                    .request(http::Method::GET, HOST, &path)
                    .body(crate::support::client::empty())
                    .expect("valid request");
                match conn.fetch(request).await {
                    Ok(reply) if reply.status.is_success() => {
                        ok.fetch_add(1, Ordering::AcqRel);
                    }
                    Ok(reply) => failures
                        .lock()
                        .expect("not poisoned")
                        .push(format!("{proto:?} {path}: {}", reply.status)),
                    Err(error) => {
                        failures
                            .lock()
                            .expect("not poisoned")
                            .push(format!("{proto:?} {path}: {error}"));
                        return;
                    }
                }
            }
        }));
    }

    for i in 1..=30u64 {
        torii.write("config.yaml", &configs[(i % 2) as usize]);
        torii.wait_generation(1 + i, APPLY).await;
    }
    stop.store(true, Ordering::Release);
    for client in clients {
        client.await.expect("client task");
    }
    let failures = failures.lock().expect("not poisoned").clone();
    assert!(
        failures.is_empty(),
        "failed requests during reloads: {failures:?}"
    );
    let ok = ok.load(Ordering::Acquire);
    assert!(ok >= 100, "only {ok} requests were sent during the reloads");
    assert!(
        one.count() > 0 && two.count() > 0,
        "both configs served requests ({} and {})",
        one.count(),
        two.count()
    );
    eprintln!("reload under load: {ok} requests, 30 reloads, no failure");
}

#[tokio::test]
async fn connections_of_a_removed_listener_are_drained() {
    let ip = loopback();
    let a = Backend::start("a", ip).await;
    let ports = free_ports(ip, 2);
    let removed = SocketAddr::new(ip, ports[1]);
    let rules = [("/", "a")];
    let torii = Torii::start(
        ip,
        &config(
            ip,
            &[("kept", ports[0]), ("removed", ports[1])],
            &[&a],
            &rules,
        ),
    )
    .await;
    let mut h1 = Conn::connect(removed, Proto::H1).await.expect("connect");
    let mut h2 = Conn::connect(removed, Proto::H2).await.expect("connect");
    for conn in [&mut h1, &mut h2] {
        assert_eq!(conn.get(HOST, "/before").await.status, StatusCode::OK);
    }
    torii.write(
        "config.yaml",
        &config(ip, &[("kept", ports[0])], &[&a], &rules),
    );
    torii.wait_generation(2, APPLY).await;
    // Like SIGTERM's drain: idle connections are closed (HTTP/1.1: closed, HTTP/2: GOAWAY),
    // so clients reconnect instead of being answered by a listener that no longer exists.
    for (proto, conn) in [("H1", &mut h1), ("H2", &mut h2)] {
        let closed = eventually(Duration::from_secs(2), || async {
            conn.is_closed().then_some(())
        })
        .await;
        if closed.is_none() {
            let reply = conn.get(HOST, "/after").await;
            panic!(
                "{proto}: the connection to the removed listener is still open and answers {}",
                reply.status
            );
        }
    }
}
