//! Status written back to the real API server: GatewayClass, Gateway and route conditions as
//! the conformance suite checks them, written once per real change and never when nothing
//! changed (counted from the API server's own `apiserver_request_total`), other controllers'
//! route parent entries left alone, and leader failover between two replicas (SIGKILL, and a
//! clean shutdown that hands the Lease over at once).

use crate::env::{self, KubeEnv};
use crate::support::{free_port, loopback, Torii};
use crate::{backend, service, yaml};
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const TORII: &str = "torii.dev/gateway-controller";
const OTHER: &str = "example.com/other-controller";
/// How long status may take to appear.
const STATUS: Duration = Duration::from_secs(30);
/// How long the writer is given to finish what a change causes before writes are counted.
const SETTLE: Duration = Duration::from_secs(3);

/// `kubectl get <what> -o json` (default namespace), `Value::Null` when it fails.
fn get(kube: &KubeEnv, what: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    let output = kube.kubectl(&args, None);
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

/// Successful status updates of Gateway API and torii.dev objects the API server has served.
fn status_writes(kube: &KubeEnv) -> u64 {
    let output = kube.kubectl(&["get", "--raw", "/metrics"], None);
    assert!(output.status.success(), "kubectl get --raw /metrics");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| {
            l.contains("subresource=\"status\"")
                && l.contains("verb=\"PUT\"")
                && l.contains("code=\"200\"")
                && (l.contains("group=\"gateway.networking.k8s.io\"")
                    || l.contains("group=\"torii.dev\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// The condition of `type_` in `conditions`.
fn condition<'a>(conditions: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == type_)
}

/// Whether `conditions` has `type_` at `status` for `generation`.
fn holds(conditions: &Value, type_: &str, status: &str, generation: &Value) -> bool {
    condition(conditions, type_)
        .is_some_and(|c| c["status"] == status && c["observedGeneration"] == *generation)
}

/// The route parent entry of `controller` in route `name`'s status.
fn parent_of(route: &Value, controller: &str) -> Option<Value> {
    route["status"]["parents"]
        .as_array()?
        .iter()
        .find(|p| p["controllerName"] == controller)
        .cloned()
}

/// Whether HTTPRoute `route` (as read) is Accepted and ResolvedRefs by torii for its current
/// generation.
fn route_accepted(route: &Value) -> bool {
    let generation = &route["metadata"]["generation"];
    parent_of(route, TORII).is_some_and(|p| {
        holds(&p["conditions"], "Accepted", "True", generation)
            && holds(&p["conditions"], "ResolvedRefs", "True", generation)
    })
}

/// Polls `check` every 50 ms up to `limit`; the value and the time it took.
async fn wait_for<T>(
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<(T, Duration)> {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return Some((value, started.elapsed()));
        }
        if started.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// HTTPRoute `name` to Gateway `gateway` with one rule to Service `a`.
fn simple_route(name: &str, gateway: &str) -> String {
    yaml::http_route(
        name,
        gateway,
        &[],
        &yaml::prefix_rule(&format!("/{name}"), "a"),
    )
}

#[tokio::test]
async fn status_is_written_once_per_change_and_never_over_other_controllers() {
    if !env::available("status_is_written_once_per_change_and_never_over_other_controllers") {
        return;
    }
    const ROUTES: usize = 20;
    let kube = KubeEnv::up().await;
    let ip = loopback();
    let http = SocketAddr::new(ip, free_port(ip));
    let a = backend("a").await;
    let mut docs = vec![
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", http.port())]),
        service("a", &a),
        simple_route("web", "gw"),
    ];
    docs.extend((0..ROUTES).map(|i| simple_route(&format!("r{i}"), "gw")));
    kube.apply(&yaml::docs(&docs));
    // Another controller already reports on route web.
    let theirs = json!({"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "other-gw"}, "controllerName": OTHER,
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
            "message": "theirs", "lastTransitionTime": "2020-01-01T00:00:00Z"}]});
    let patch = json!({"status": {"parents": [theirs]}}).to_string();
    let output = kube.kubectl(
        &[
            "patch",
            "httproute",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let before = status_writes(&kube);

    let torii = Torii::start_kube(ip, &kube.kubeconfig(), &[]).await;
    let all_accepted = || {
        let routes = get(&kube, &["httproutes"]);
        let items = routes["items"].as_array()?;
        (items.len() == ROUTES + 1 && items.iter().all(route_accepted)).then_some(())
    };
    let reached = wait_for(STATUS, all_accepted).await;
    assert!(
        reached.is_some(),
        "every route Accepted; stderr:\n{}",
        torii.stderr()
    );
    let class = get(&kube, &["gatewayclass", "torii"]);
    let generation = &class["metadata"]["generation"];
    for type_ in ["Accepted", "SupportedVersion"] {
        assert!(
            holds(&class["status"]["conditions"], type_, "True", generation),
            "{type_}: {class}"
        );
    }
    let gateway = get(&kube, &["gateway", "gw"]);
    let generation = &gateway["metadata"]["generation"];
    for type_ in ["Accepted", "Programmed"] {
        assert!(
            holds(&gateway["status"]["conditions"], type_, "True", generation),
            "{type_}: {gateway}"
        );
    }
    assert_eq!(
        gateway["status"]["addresses"],
        json!([{"type": "IPAddress", "value": ip.to_string()}])
    );
    let listener = &gateway["status"]["listeners"][0];
    assert_eq!(listener["name"], "http");
    assert_eq!(listener["attachedRoutes"], ROUTES + 1);
    assert!(listener["supportedKinds"]
        .as_array()
        .expect("supportedKinds")
        .contains(&json!({"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"})));
    assert!(
        holds(&listener["conditions"], "Programmed", "True", generation),
        "{listener}"
    );
    let web = get(&kube, &["httproute", "web"]);
    assert_eq!(
        parent_of(&web, OTHER),
        Some(theirs.clone()),
        "theirs untouched: {web}"
    );
    let ours = parent_of(&web, TORII).expect("our entry");
    assert_eq!(
        ours["parentRef"],
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}),
        "the parentRef as the spec has it"
    );

    // Exactly one write per object: the class, the Gateway and each route.
    tokio::time::sleep(SETTLE).await;
    let written = status_writes(&kube) - before;
    eprintln!(
        "status writes for 1 class, 1 gateway, {} routes: {written}",
        ROUTES + 1
    );
    assert_eq!(written as usize, 2 + ROUTES + 1, "one write per object");
    // Nothing changes: nothing is written.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = status_writes(&kube);
    assert_eq!(idle - before, written, "no write while nothing changed");

    // An edit of web (generation 2): web's status alone is written again.
    kube.apply(&yaml::http_route(
        "web",
        "gw",
        &[],
        &(yaml::prefix_rule("/web", "a") + &yaml::prefix_rule("/web2", "a")),
    ));
    let reached = wait_for(STATUS, || {
        let web = get(&kube, &["httproute", "web"]);
        (web["metadata"]["generation"] == 2 && route_accepted(&web)).then_some(web)
    })
    .await;
    let (web, _) = reached.expect("web Accepted at generation 2");
    assert_eq!(
        parent_of(&web, OTHER),
        Some(theirs.clone()),
        "theirs untouched: {web}"
    );
    tokio::time::sleep(SETTLE).await;
    let edited = status_writes(&kube);
    assert_eq!(edited - idle, 1, "one write for one route edit");

    // The other controller updates its own entry: torii has nothing to write.
    let output = kube.kubectl(
        &["patch", "httproute", "web", "--subresource=status", "--type=json", "-p",
          r#"[{"op": "replace", "path": "/status/parents/0/conditions/0/message", "value": "theirs, updated"}]"#],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    tokio::time::sleep(SETTLE).await;
    let web = get(&kube, &["httproute", "web"]);
    assert_eq!(
        parent_of(&web, OTHER).expect("theirs")["conditions"][0]["message"],
        "theirs, updated"
    );
    assert!(route_accepted(&web), "ours stays: {web}");
    let after_theirs = status_writes(&kube);
    assert_eq!(
        after_theirs, edited,
        "no write for another controller's change"
    );

    // A new route: Accepted within a moment; its status and the Gateway's attachedRoutes.
    let created = Instant::now();
    kube.apply(&simple_route("late", "gw"));
    let reached = wait_for(STATUS, || {
        route_accepted(&get(&kube, &["httproute", "late"])).then_some(())
    })
    .await;
    assert!(reached.is_some(), "route late Accepted");
    eprintln!(
        "route created -> status Accepted in {:?}",
        created.elapsed()
    );
    tokio::time::sleep(SETTLE).await;
    let after_create = status_writes(&kube);
    assert_eq!(
        after_create - after_theirs,
        2,
        "the route and the Gateway's attachedRoutes"
    );

    // Its parentRef goes away (it now names another controller's Gateway): torii removes
    // its entry; the Gateway counts one route less.
    kube.apply(&simple_route("late", "other-gw"));
    let reached = wait_for(STATUS, || {
        let late = get(&kube, &["httproute", "late"]);
        (late["metadata"]["generation"] == 2 && parent_of(&late, TORII).is_none()).then_some(())
    })
    .await;
    assert!(reached.is_some(), "torii's stale entry removed");
    let reached = wait_for(STATUS, || {
        (get(&kube, &["gateway", "gw"])["status"]["listeners"][0]["attachedRoutes"] == ROUTES + 1)
            .then_some(())
    })
    .await;
    assert!(reached.is_some(), "attachedRoutes back to {}", ROUTES + 1);
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        status_writes(&kube) - after_create,
        2,
        "the route and the Gateway"
    );
}

/// Gateway `gw` without addresses (each replica binds its own `--default-address`, and
/// reports it: the address shows which replica wrote) and route `web`.
fn unaddressed_gateway(port: u16) -> String {
    yaml::docs(&[
        yaml::gateway_class(),
        format!(
            "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: torii
  listeners: [{}]
",
            yaml::http_listener("http", port)
        ),
        simple_route("web", "gw"),
    ])
}

/// The address Gateway gw reports.
fn reported(kube: &KubeEnv) -> Option<String> {
    get(kube, &["gateway", "gw"])["status"]["addresses"][0]["value"]
        .as_str()
        .map(str::to_owned)
}

/// The Lease's holder.
fn holder(kube: &KubeEnv) -> Option<String> {
    let lease = get(kube, &["lease", "torii-leader", "-n", "default"]);
    lease["spec"]["holderIdentity"].as_str().map(str::to_owned)
}

async fn replica(kube: &KubeEnv, address: IpAddr) -> Torii {
    let address = address.to_string();
    Torii::start_kube(
        address.parse().expect("ip"),
        &kube.kubeconfig(),
        &["--default-address", &address],
    )
    .await
}

#[tokio::test]
async fn another_replica_takes_over_when_the_leader_dies_or_stops() {
    if !env::available("another_replica_takes_over_when_the_leader_dies_or_stops") {
        return;
    }
    let kube = KubeEnv::up().await;
    let (ip_a, ip_b) = (loopback(), loopback());
    let port = free_port(ip_a);
    let a = backend("a").await;
    kube.apply(&yaml::docs(&[unaddressed_gateway(port), service("a", &a)]));
    let first = replica(&kube, ip_a).await;
    let reached = wait_for(STATUS, || {
        (reported(&kube)? == ip_a.to_string()).then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "the first replica leads and writes; stderr:\n{}",
        first.stderr()
    );
    let second = replica(&kube, ip_b).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        reported(&kube),
        Some(ip_a.to_string()),
        "only the leader writes"
    );
    let leader = holder(&kube).expect("a holder");
    assert!(leader.ends_with(&format!("-{}", first.pid())), "{leader}");

    // SIGKILL: the lease expires (15 s after the last renewal seen), then the other writes.
    let killed = Instant::now();
    first.kill();
    let reached = wait_for(Duration::from_secs(25), || {
        (reported(&kube)? == ip_b.to_string()).then_some(())
    })
    .await;
    let took = killed.elapsed();
    assert!(
        reached.is_some(),
        "the second replica took over; stderr:\n{}",
        second.stderr()
    );
    eprintln!("takeover after SIGKILL: {took:?}");
    assert!(
        took <= Duration::from_secs(17),
        "within the lease duration (+ a poll): {took:?}"
    );
    assert!(holder(&kube)
        .expect("a holder")
        .ends_with(&format!("-{}", second.pid())));

    // A clean shutdown releases the lease: a replica that was waiting takes over at once.
    let third = replica(&kube, ip_a).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        reported(&kube),
        Some(ip_b.to_string()),
        "the new replica does not lead"
    );
    let stopped = Instant::now();
    second.sigterm();
    let reached = wait_for(Duration::from_secs(10), || {
        (reported(&kube)? == ip_a.to_string()).then_some(())
    })
    .await;
    let took = stopped.elapsed();
    assert!(
        reached.is_some(),
        "the third replica took over; stderr:\n{}",
        third.stderr()
    );
    eprintln!("takeover after a clean shutdown: {took:?}");
    assert!(took <= Duration::from_secs(4), "at once: {took:?}");
    assert!(
        second.stderr().contains("lease released"),
        "{}",
        second.stderr()
    );
}

/// OriginPool `name` with one origin at `address`, enabled or not.
fn pool(name: &str, address: SocketAddr, enabled: bool) -> String {
    format!(
        "apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {{name: {name}, namespace: default}}
spec:
  origins:
  - {{name: one, address: \"{address}\", enabled: {enabled}}}
"
    )
}

#[tokio::test]
async fn torii_kinds_report_health_and_the_active_pool() {
    if !env::available("torii_kinds_report_health_and_the_active_pool") {
        return;
    }
    let kube = KubeEnv::up().await;
    let ip = loopback();
    let http = SocketAddr::new(ip, free_port(ip));
    let (a, b) = (backend("a").await, backend("b").await);
    kube.apply(&yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", http.port())]),
        pool("primary", a.addr, true),
        pool("backup", b.addr, true),
        "apiVersion: torii.dev/v1alpha1
kind: LoadBalancer
metadata: {name: app, namespace: default}
spec:
  defaultPools: [primary, backup]
"
        .to_owned(),
        yaml::http_route(
            "app",
            "gw",
            &[],
            "  - backendRefs: [{group: torii.dev, kind: LoadBalancer, name: app}]\n",
        ),
    ]));
    let torii = Torii::start_kube(ip, &kube.kubeconfig(), &[]).await;
    let reached = wait_for(STATUS, || {
        let primary = get(&kube, &["originpool", "primary"]);
        let generation = &primary["metadata"]["generation"];
        let status = &primary["status"];
        (status["observedGeneration"] == *generation
            && holds(&status["conditions"], "Accepted", "True", generation)
            && status["healthy"] == true
            && status["totalOrigins"] == 1
            && status["origins"][0]["state"] == "Healthy"
            && status["origins"][0]["address"] == a.addr.to_string())
        .then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "OriginPool status: {}\nstderr:\n{}",
        get(&kube, &["originpool", "primary"])["status"],
        torii.stderr()
    );
    let active =
        |kube: &KubeEnv| get(kube, &["loadbalancer", "app"])["status"]["activePool"].clone();
    let reached = wait_for(STATUS, || (active(&kube) == "primary").then_some(())).await;
    assert!(
        reached.is_some(),
        "activePool primary: {}",
        get(&kube, &["loadbalancer", "app"])["status"]
    );

    // The primary's only origin disabled: steering moves to the backup, and status says so.
    kube.apply(&pool("primary", a.addr, false));
    let reached = wait_for(STATUS, || (active(&kube) == "backup").then_some(())).await;
    assert!(
        reached.is_some(),
        "activePool backup: {}",
        get(&kube, &["loadbalancer", "app"])["status"]
    );
    let primary = get(&kube, &["originpool", "primary"]);
    assert_eq!(primary["status"]["healthy"], false, "{primary}");
    assert_eq!(primary["status"]["observedGeneration"], 2, "{primary}");
}
