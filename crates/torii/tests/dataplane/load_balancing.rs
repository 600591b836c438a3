//! Global load balancing end to end: HTTPRoutes to `OriginPool` and `LoadBalancer` backends,
//! in-request failover past dead origins and pools, health in `/api/v1/status`, affinity
//! cookies, webhook notifications, and the DNS responder queried with `dig`.

use crate::support::client::{full, Conn, Proto};
use crate::support::{eventually, free_port, loopback, refused_address, yaml, Backend, Torii};
use http::StatusCode;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

fn monitor(name: &str) -> String {
    format!(
        "apiVersion: torii.dev/v1alpha1
kind: HealthMonitor
metadata: {{name: {name}}}
spec: {{type: http, path: /health, interval: 1s, timeout: 500ms, retries: 0}}
"
    )
}

/// An OriginPool whose origins are `(name, address)`, with `extra` spec lines.
fn pool(name: &str, origins: &[(&str, SocketAddr)], extra: &str) -> String {
    let origins: String = origins
        .iter()
        .map(|(n, a)| format!("  - {{name: {n}, address: \"{a}\"}}\n"))
        .collect();
    format!(
        "apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {{name: {name}}}
spec:
  origins:
{origins}{extra}"
    )
}

fn load_balancer(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: torii.dev/v1alpha1
kind: LoadBalancer
metadata: {{name: {name}}}
spec:
{spec}"
    )
}

/// An HTTPRoute sending everything for `host` to the torii.dev `kind` named `name`.
fn route_to(kind: &str, name: &str, host: &str) -> String {
    yaml::http_route(
        name,
        "gw",
        &[host],
        &format!("  - backendRefs: [{{group: torii.dev, kind: {kind}, name: {name}}}]\n"),
    )
}

async fn origin_states(torii: &Torii) -> Vec<(String, bool)> {
    let (_, body) = torii.admin_get("/api/v1/status").await.expect("status");
    let status: Value = serde_json::from_str(&body).expect("status JSON");
    status["origins"]
        .as_array()
        .map(|origins| {
            origins
                .iter()
                .map(|o| {
                    (
                        o["key"].as_str().unwrap_or_default().to_string(),
                        o["healthy"].as_bool().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn pool_backend_fails_over_past_a_dead_origin_without_a_failed_request() {
    let ip = loopback();
    let alive = Backend::start("alive", ip).await;
    let dead = refused_address(ip);
    let port = free_port(ip);
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        monitor("check"),
        pool(
            "web",
            &[("dead", dead), ("alive", alive.addr)],
            "  loadBalancing: {policy: roundRobin}\n  outlierDetection: {consecutiveFailures: 3}\n",
        ),
        route_to("OriginPool", "web", "pool.test"),
    ]);
    let torii = Torii::start(ip, &config).await;
    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    // No monitor: the dead origin is found by the requests themselves (retried in-request,
    // then ejected by outlier detection after 3 consecutive failures).
    for i in 0..20 {
        let reply = conn.get("pool.test", &format!("/r{i}")).await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}");
        assert_eq!(reply.backend(), "alive");
    }
    let marked = eventually(Duration::from_secs(5), || async {
        let states = origin_states(&torii).await;
        let dead = states.iter().find(|(k, _)| k.ends_with("/web/dead"))?;
        let alive = states.iter().find(|(k, _)| k.ends_with("/web/alive"))?;
        (!dead.1 && alive.1).then_some(())
    })
    .await;
    assert!(
        marked.is_some(),
        "dead origin not reported unhealthy: {:?}",
        origin_states(&torii).await
    );
    let metrics = torii.metrics().await;
    assert!(
        metrics.contains("torii_origin_healthy{"),
        "no origin health metric:\n{metrics}"
    );
}

#[tokio::test]
async fn a_post_that_never_reached_its_origin_goes_to_the_next_one_with_its_body() {
    let ip = loopback();
    let alive = Backend::start("alive", ip).await;
    let dead = refused_address(ip);
    let port = free_port(ip);
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        // The dead origin first in the ring for every request.
        pool(
            "web",
            &[("dead", dead), ("alive", alive.addr)],
            "  loadBalancing: {policy: roundRobin}\n",
        ),
        route_to("OriginPool", "web", "pool.test"),
    ]);
    let torii = Torii::start(ip, &config).await;
    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    let payload = "x".repeat(100_000);
    for i in 0..4 {
        let request = conn
            .request(http::Method::POST, "pool.test", &format!("/post{i}"))
            .body(full(payload.clone()))
            .expect("request");
        let reply = conn.fetch(request).await.expect("reply");
        assert_eq!(reply.status, StatusCode::OK, "POST {i}");
        assert_eq!(reply.backend(), "alive");
        let read = alive
            .wait_for_body(&format!("/post{i}"), Duration::from_secs(5))
            .await
            .expect("body read");
        assert_eq!(read.result, Ok(100_000), "POST {i}: the body arrived whole");
    }
    drop(torii);
}

#[tokio::test]
async fn load_balancer_fails_over_to_the_next_pool_and_notifies() {
    let ip = loopback();
    let secondary = Backend::start("secondary", ip).await;
    let hook = Backend::start("hook", ip).await;
    let dead = refused_address(ip);
    let port = free_port(ip);
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        monitor("check"),
        pool("primary", &[("vm-1", dead)], "  monitor: check\n"),
        pool("backup", &[("k8s-1", secondary.addr)], "  monitor: check\n"),
        load_balancer(
            "app",
            &format!(
                "  defaultPools: [primary, backup]
  notifications:
  - name: ops
    webhook: {{url: \"http://{}/hook\"}}
",
                hook.addr
            ),
        ),
        route_to("LoadBalancer", "app", "lb.test"),
    ]);
    let torii = Torii::start(ip, &config).await;
    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    for i in 0..10 {
        let reply = conn.get("lb.test", &format!("/r{i}")).await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}");
        assert_eq!(reply.backend(), "secondary");
    }
    let seen = hook.wait_for("/hook", Duration::from_secs(10)).await;
    let Some(seen) = seen else {
        panic!("no webhook notification; stderr:\n{}", torii.stderr());
    };
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body = hook.wait_for_body("/hook", Duration::from_secs(5)).await;
    assert!(
        matches!(body.map(|b| b.result), Some(Ok(n)) if n > 0),
        "the webhook carries a JSON event"
    );
    // Three events: the origin, its pool (below minimumOrigins), the load balancer's failover.
    let events = eventually(Duration::from_secs(10), || async {
        let n = hook.requests().iter().filter(|r| r.path == "/hook").count();
        (n >= 3).then_some(n)
    })
    .await;
    assert!(
        events.is_some(),
        "origin, pool and failover events expected, got {}",
        hook.count()
    );

    // `torii status` shows the failed-over load balancer and the dead origin.
    let output = std::process::Command::new(crate::support::torii::BIN)
        .args(["status", "--admin", &torii.admin.to_string()])
        .output()
        .expect("run torii status");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    let backup = text
        .lines()
        .find(|l| l.starts_with("default/app") && l.contains("default/backup"))
        .unwrap_or_default();
    assert!(backup.ends_with("active"), "backup pool active:\n{text}");
    let primary = text
        .lines()
        .find(|l| l.starts_with("default/primary/vm-1"))
        .unwrap_or_default();
    assert!(
        (primary.contains("unhealthy") || primary.contains("ejected"))
            && primary.contains("connect"),
        "dead origin shown with its reason:\n{text}"
    );
}

#[tokio::test]
async fn cookie_affinity_keeps_a_session_on_its_origin() {
    let ip = loopback();
    let a = Backend::start("a", ip).await;
    let b = Backend::start("b", ip).await;
    let port = free_port(ip);
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        monitor("check"),
        pool("web", &[("a", a.addr), ("b", b.addr)], ""),
        load_balancer(
            "sticky",
            "  defaultPools: [web]\n  sessionAffinity: {type: cookie, name: lb, ttl: 1h}\n",
        ),
        route_to("LoadBalancer", "sticky", "sticky.test"),
    ]);
    let _torii = Torii::start(ip, &config).await;
    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    let first = conn.get("sticky.test", "/").await;
    let cookie = first
        .headers
        .get(http::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("an affinity cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_string();
    assert!(cookie.starts_with("lb="), "{cookie}");
    let origin = first.backend();
    for _ in 0..20 {
        let request = conn
            .request(http::Method::GET, "sticky.test", "/")
            .header(http::header::COOKIE, &cookie)
            .body(crate::support::client::empty())
            .expect("request");
        let reply = conn.fetch(request).await.expect("reply");
        assert_eq!(reply.backend(), origin, "the session moved");
    }
}

/// `dig @server name rtype extra…`, its standard output.
fn dig(server: SocketAddr, name: &str, rtype: &str, extra: &[&str]) -> String {
    let output = std::process::Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .arg("-p")
        .arg(server.port().to_string())
        .arg(name)
        .arg(rtype)
        .args(["+norecurse", "+time=2", "+tries=1"])
        .args(extra)
        .output()
        .expect("dig runs (apt-get install dnsutils)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn dns_answers_with_healthy_origins_of_the_steered_pool() {
    let ip = loopback();
    // Origins on addresses of their own, so the answer shows which were chosen.
    let a_ip: IpAddr = "127.0.1.10".parse().expect("ip");
    let dead_ip: IpAddr = "127.0.1.11".parse().expect("ip");
    let alive = Backend::start("alive", a_ip).await;
    let dead = refused_address(dead_ip);
    let port = free_port(ip);
    let dns = SocketAddr::new(ip, free_port(ip));
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        monitor("check"),
        pool(
            "web",
            &[("alive", alive.addr), ("dead", dead)],
            "  monitor: check\n",
        ),
        load_balancer(
            "app",
            "  hostnames: [app.lb.test]\n  defaultPools: [web]\n  ttl: 20\n",
        ),
    ]);
    let dns_arg = dns.to_string();
    let torii = Torii::start_with(
        ip,
        &[("config.yaml", &config)],
        &["--dns", &dns_arg, "--dns-zone", "lb.test"],
    )
    .await;
    let answered = eventually(Duration::from_secs(8), || async {
        let out = dig(dns, "app.lb.test", "A", &[]);
        (out.contains("127.0.1.10") && !out.contains("127.0.1.11")).then_some(out)
    })
    .await;
    assert!(
        answered.is_some(),
        "dig never showed only the healthy origin: {}\nstderr:\n{}",
        dig(dns, "app.lb.test", "A", &[]),
        torii.stderr()
    );
    let answer = answered.unwrap_or_default();
    assert!(answer.contains("status: NOERROR"), "{answer}");
    assert!(answer.contains("\t20\tIN\tA\t127.0.1.10"), "{answer}");
    let missing = dig(dns, "nope.lb.test", "A", &[]);
    assert!(missing.contains("status: NXDOMAIN"), "{missing}");
    let outside = dig(dns, "example.com", "A", &[]);
    assert!(outside.contains("status: REFUSED"), "{outside}");
    let tcp = dig(dns, "app.lb.test", "A", &["+tcp"]);
    assert!(tcp.contains("127.0.1.10"), "{tcp}");
    // The apex SOA carries the config generation as its serial (1 for the first config).
    let soa = dig(dns, "lb.test", "SOA", &["+short"]);
    assert!(
        soa.starts_with("ns1.lb.test. hostmaster.lb.test. 1 "),
        "SOA: {soa}"
    );
    let metrics = torii.metrics().await;
    for line in [
        "torii_dns_queries_total{transport=\"tcp\"} 1",
        "torii_dns_responses_total{rcode=\"REFUSED\"} 1",
        "torii_dns_responses_total{rcode=\"NXDOMAIN\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
}

#[tokio::test]
async fn request_mirror_to_an_origin_pool_reaches_its_origin() {
    let ip = loopback();
    let primary = Backend::start("primary", ip).await;
    let shadow = Backend::start("shadow", ip).await;
    let port = free_port(ip);
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("primary", &[primary.addr]),
        pool("shadow", &[("k8s", shadow.addr)], ""),
        yaml::http_route(
            "mirrored",
            "gw",
            &["mirror.test"],
            "  - backendRefs: [{name: primary, port: 80}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {group: torii.dev, kind: OriginPool, name: shadow}}
",
        ),
    ]);
    let _torii = Torii::start(ip, &config).await;
    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    let reply = conn.get("mirror.test", "/copied").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.backend(), "primary");
    assert!(
        shadow
            .wait_for("/copied", Duration::from_secs(5))
            .await
            .is_some(),
        "the pool's origin got no mirrored copy"
    );
}
