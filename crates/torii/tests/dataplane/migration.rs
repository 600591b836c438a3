//! Migration end to end: a "VM" version and a "Kubernetes" version of one small app that differ
//! in known ways, compared through a `Comparison` (the report finds exactly the real
//! differences and calls the timestamp noise), and `Rollout`s that advance, roll back, wait at
//! low traffic and resume after torii is killed.

use crate::support::client::{full, Conn, Proto};
use crate::support::torii::BIN;
use crate::support::{eventually, free_port, loopback, yaml, Torii};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How one version of the app answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    /// The VM version (primary and secondary).
    Vm,
    /// The Kubernetes version: `plan` changed on `/api/user`, 404 on `/api/orders`.
    Kubernetes,
    /// Answers 500 to everything.
    Broken,
}

/// What an app saw of one request: method, path, whether it was marked as shadow traffic, body.
type Seen = (String, String, bool, String);

/// A running app; records the requests it saw.
struct App {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    count: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl App {
    async fn start(ip: IpAddr, version: Version) -> App {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let (seen_task, count_task) = (seen.clone(), count.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (seen, count) = (seen_task.clone(), count_task.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: Request<hyper::body::Incoming>| {
                            let (seen, count) = (seen.clone(), count.clone());
                            async move {
                                let method = request.method().to_string();
                                let path = request.uri().path().to_owned();
                                let shadow = request.headers().contains_key("x-torii-shadow");
                                let body = match request.into_body().collect().await {
                                    Ok(body) => {
                                        String::from_utf8_lossy(&body.to_bytes()).into_owned()
                                    }
                                    Err(_) => String::new(),
                                };
                                seen.lock()
                                    .unwrap()
                                    .push((method, path.clone(), shadow, body));
                                count.fetch_add(1, Ordering::Relaxed);
                                Ok::<_, Infallible>(answer(version, &path))
                            }
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        App {
            addr,
            seen,
            count,
            task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(version: Version, path: &str) -> Response<Full<Bytes>> {
    let json = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("date", format!("{:?}", SystemTime::now()))
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    match (version, path) {
        (Version::Broken, _) => json(500, r#"{"error":"boom"}"#.into()),
        (_, "/api/user") => {
            let plan = if version == Version::Vm {
                "pro"
            } else {
                "premium"
            };
            json(
                200,
                format!(r#"{{"id":1,"name":"Ada","plan":"{plan}","generatedAt":"{now}"}}"#),
            )
        }
        (Version::Kubernetes, "/api/orders") => json(404, r#"{"error":"not found"}"#.into()),
        (_, "/api/orders") => json(200, r#"{"orders":[1,2,3]}"#.into()),
        _ => json(200, r#"{"ok":true,"items":[{"a":1},{"b":2}]}"#.into()),
    }
}

fn exact_rule(name: &str, path: &str, backends: &str) -> String {
    format!(
        "  - name: {name}\n    matches: [{{path: {{type: Exact, value: \"{path}\"}}}}]\n    backendRefs: [{backends}]\n"
    )
}

/// GET `path` on `host` `n` times; every answer must come back (any status).
async fn drive(conn: &mut Conn, host: &str, path: &str, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(conn.get(host, path).await.status);
    }
    statuses
}

async fn admin_json(torii: &Torii, path: &str) -> Value {
    let (status, body) = torii.admin_get(path).await.expect("admin answers");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

fn cli(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(BIN)
        .args(args)
        .output()
        .expect("run the torii CLI");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[tokio::test]
async fn comparison_finds_the_real_differences_and_calls_the_timestamp_noise() {
    let ip = loopback();
    let vm = App::start(ip, Version::Vm).await;
    let vm_b = App::start(ip, Version::Vm).await;
    let k8s = App::start(ip, Version::Kubernetes).await;
    let port = free_port(ip);
    let backend = "{name: vm, port: 80}";
    let rules = [
        exact_rule("user", "/api/user", backend),
        exact_rule("orders", "/api/orders", backend),
        exact_rule("same", "/api/same", backend),
    ]
    .concat();
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("vm", &[vm.addr]),
        yaml::service("vm-b", &[vm_b.addr]),
        yaml::service("k8s", &[k8s.addr]),
        yaml::http_route("shop", "gw", &["shop.test"], &rules),
        "apiVersion: torii.dev/v1alpha1
kind: Comparison
metadata: {name: shop}
spec:
  targetRef: {kind: HTTPRoute, name: shop}
  primary: {name: vm, port: 80}
  candidate: {name: k8s, port: 80}
  secondary: {name: vm-b, port: 80}
"
        .to_owned(),
    ]);
    let torii = Torii::start(ip, &config).await;
    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    // Users always get the VM's answers.
    for path in ["/api/user", "/api/orders", "/api/same"] {
        let statuses = drive(&mut conn, "shop.test", path, 15).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "{path}: {statuses:?}"
        );
    }
    // Unsafe methods are not mirrored by default.
    let request = conn
        .request(http::Method::POST, "shop.test", "/api/same")
        .body(full("{}"))
        .unwrap();
    assert_eq!(conn.fetch(request).await.unwrap().status, StatusCode::OK);

    let done = eventually(Duration::from_secs(30), || async {
        let diffs = admin_json(&torii, "/api/v1/diffs").await;
        let c = diffs["comparisons"][0].clone();
        (c["compared"].as_u64()? >= 45).then_some(c)
    })
    .await;
    let comparison = done.unwrap_or_else(|| panic!("not compared: {}", torii.stderr()));
    assert_eq!(comparison["shed"], 0);
    let endpoints = comparison["report"]["endpoints"]
        .as_array()
        .unwrap()
        .clone();
    let endpoint = |suffix: &str| -> Value {
        endpoints
            .iter()
            .find(|e| e["endpoint"]["route"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("no endpoint {suffix} in {endpoints:#?}"))
            .clone()
    };
    let user = endpoint("/api/user");
    assert_eq!(user["compared"], 15);
    assert_eq!(
        user["regressions"], 15,
        "plan changed on every request: {user:#}"
    );
    let field = |name: &str| -> Value {
        user["topFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name)
            .unwrap_or_else(|| panic!("{name} not among {:#}", user["topFields"]))
            .clone()
    };
    let plan = field("body.$.plan");
    assert_eq!(
        (plan["regressions"].as_u64(), plan["noise"].as_u64()),
        (Some(15), Some(0))
    );
    // The timestamp differs between the two VMs too: noise, never a regression.
    let generated = field("body.$.generatedAt");
    assert_eq!(
        (
            generated["regressions"].as_u64(),
            generated["noise"].as_u64()
        ),
        (Some(0), Some(15)),
        "{generated}"
    );
    assert!(
        user["topFields"].as_array().unwrap().len() == 2,
        "only plan and generatedAt differ: {:#}",
        user["topFields"]
    );
    let orders = endpoint("/api/orders");
    assert_eq!(orders["regressions"], 15, "{orders:#}");
    assert_eq!(orders["statusPairs"][0]["primary"], 200, "{orders:#}");
    assert_eq!(orders["statusPairs"][0]["candidate"], 404, "{orders:#}");
    let same = endpoint("/api/same");
    assert_eq!(same["regressions"], 0, "{same:#}");
    assert_eq!(same["compared"], 15);

    // Shadow copies are marked; the POST went to the VM only.
    let shadows = k8s.seen();
    assert!(
        shadows.iter().all(|(_, _, shadow, _)| *shadow),
        "{shadows:?}"
    );
    assert!(
        !shadows.iter().any(|(m, ..)| m == "POST"),
        "POST mirrored: {shadows:?}"
    );
    assert!(vm.seen().iter().all(|(_, _, shadow, _)| !shadow));

    // The CLI: a summary and one sample side by side.
    let admin = torii.admin.to_string();
    let (ok, summary) = cli(&["diff", "--admin", &admin]);
    assert!(ok, "{summary}");
    assert!(
        summary.contains("/api/user") && summary.contains("body.$.plan"),
        "{summary}"
    );
    let sample = user["samples"][0]["id"].as_u64().expect("a sample kept");
    // Per endpoint: the status pairs and the ids of the kept samples (the newest five with
    // their verdict), and how to view one.
    let newest = |endpoint: &Value| {
        endpoint["samples"]
            .as_array()
            .and_then(|s| s.last())
            .and_then(|s| s["id"].as_u64())
            .expect("a sample kept")
    };
    for expected in [
        "  statuses: 200→404 ×15".to_owned(),
        "  statuses: 200→200 ×15".to_owned(),
        format!("    #{}  regression  ", newest(&user)),
        format!("    #{}  regression  ", newest(&orders)),
        format!("#{sample}"),
    ] {
        assert!(summary.contains(&expected), "{expected:?} in\n{summary}");
    }
    let hint = summary
        .lines()
        .find_map(|line| line.strip_prefix("view a sample side by side: "))
        .unwrap_or_else(|| panic!("no hint in\n{summary}"));
    // The hint works as printed, with a real id in place of ID.
    let command = hint.replace(" --sample ID", &format!(" --sample {sample}"));
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .output()
        .expect("run sh");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && shown.starts_with(&format!("sample #{sample} ")),
        "{command}: {shown}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (ok, shown) = cli(&[
        "diff",
        "--admin",
        &admin,
        "default/shop",
        "--sample",
        &sample.to_string(),
    ]);
    assert!(ok, "{shown}");
    assert!(
        shown.contains("pro") && shown.contains("premium"),
        "{shown}"
    );
    let metrics = torii.metrics().await;
    for line in [
        "torii_comparison_compared_total{comparison=\"default/shop\"} 45",
        "torii_comparison_regressions_total{comparison=\"default/shop\"} 30",
        "torii_comparison_shed_total{comparison=\"default/shop\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
}

/// A Rollout with `extra` spec lines (indented by two spaces).
fn rollout_notifying(name: &str, steps: &str, analysis: &str, extra: &str) -> String {
    format!(
        "apiVersion: torii.dev/v1alpha1
kind: Rollout
metadata: {{name: {name}}}
spec:
  targetRef: {{kind: HTTPRoute, name: {name}}}
  stableRef: {{name: stable, port: 80}}
  candidateRef: {{name: candidate, port: 80}}
  steps:
{steps}  analysis: {analysis}
{extra}"
    )
}

/// A gateway, a route `name` on `name.test` whose rule lists the stable and candidate
/// Services, and the rollout.
fn rollout_config(ip: IpAddr, port: u16, stable: &App, candidate: &App, rollout: &str) -> String {
    let name = "shop";
    yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("stable", &[stable.addr]),
        yaml::service("candidate", &[candidate.addr]),
        yaml::http_route(
            name,
            "gw",
            &["shop.test"],
            "  - backendRefs: [{name: stable, port: 80, weight: 100}, {name: candidate, port: 80, weight: 0}]\n",
        ),
        rollout.to_owned(),
    ])
}

/// A rollout of route `shop` (on `shop.test`) from a VM app to a `candidate` app, with its own
/// state directory, and a torii serving it.
struct Rig {
    stable: App,
    candidate: App,
    config: String,
    state: tempfile::TempDir,
    address: SocketAddr,
    torii: Torii,
}

impl Rig {
    /// `steps`: YAML list items; `analysis`: a flow mapping; `extra`: more spec lines.
    async fn start(
        ip: IpAddr,
        candidate: Version,
        steps: &str,
        analysis: &str,
        extra: &str,
    ) -> Rig {
        let stable = App::start(ip, Version::Vm).await;
        let candidate = App::start(ip, candidate).await;
        let port = free_port(ip);
        let rollout = rollout_notifying("shop", steps, analysis, extra);
        let config = rollout_config(ip, port, &stable, &candidate, &rollout);
        let state = tempfile::tempdir().unwrap();
        let torii = Rig::serve(ip, &config, &state).await;
        Rig {
            stable,
            candidate,
            config,
            state,
            address: SocketAddr::new(ip, port),
            torii,
        }
    }

    async fn serve(ip: IpAddr, config: &str, state: &tempfile::TempDir) -> Torii {
        let state_dir = state.path().to_str().unwrap();
        Torii::start_with(ip, &[("config.yaml", config)], &["--state-dir", state_dir]).await
    }

    /// Stops torii (SIGKILL, waiting until it is gone so its sockets are closed) and starts it
    /// again on the same config and state directory.
    async fn restart(&mut self) {
        self.torii.kill();
        let torii = Rig::serve(self.address.ip(), &self.config, &self.state).await;
        self.torii = torii;
    }

    async fn connect(&self) -> Conn {
        Conn::connect(self.address, Proto::H1)
            .await
            .expect("connect")
    }
}

async fn rollout_status(torii: &Torii) -> Value {
    admin_json(torii, "/api/v1/rollouts").await["rollouts"][0].clone()
}

/// Sends traffic until the rollout's phase is `phase` (or `limit` passes).
async fn drive_until(torii: &Torii, conn: &mut Conn, phase: &str, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        drive(conn, "shop.test", "/api/same", 20).await;
        let status = rollout_status(torii).await;
        if status["phase"] == phase {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rollout not {phase}: {status:#}\n{}",
            torii.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_good_candidate_is_rolled_out_to_all_traffic() {
    let steps = "    - mirror: {duration: 0s, maxDiffRate: 0.01, minCompared: 20}
    - {weight: 50, pause: 0s}
    - {weight: 100}
";
    let analysis = "{minRequests: 20, maxErrorRate: 0.01, interval: 200ms}";
    let rig = Rig::start(loopback(), Version::Vm, steps, analysis, "").await;
    let (torii, stable, candidate) = (&rig.torii, &rig.stable, &rig.candidate);
    let mut conn = rig.connect().await;
    let done = drive_until(torii, &mut conn, "Completed", Duration::from_secs(30)).await;
    assert_eq!(done["weight"], 100);
    // Newest first: mirror → 50 % → 100 % → done, nothing else.
    let kinds: Vec<&str> = done["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["completed", "advanced", "advanced", "started"]);
    // All traffic on the candidate now.
    let before = (
        stable.count.load(Ordering::Relaxed),
        candidate.count.load(Ordering::Relaxed),
    );
    drive(&mut conn, "shop.test", "/api/same", 20).await;
    assert_eq!(stable.count.load(Ordering::Relaxed), before.0);
    assert_eq!(candidate.count.load(Ordering::Relaxed), before.1 + 20);
    // The state is on disk.
    let saved = std::fs::read_to_string(rig.state.path().join("default_shop.json")).unwrap();
    assert!(
        saved.contains("completed") || saved.contains("Completed"),
        "{saved}"
    );
}

#[tokio::test]
async fn a_failing_candidate_is_rolled_back_at_once_and_says_why() {
    let ip = loopback();
    let hook = App::start(ip, Version::Vm).await;
    let steps = "    - {weight: 20, pause: 0s}
    - {weight: 100}
";
    let analysis = "{minRequests: 10, maxErrorRate: 0.05, interval: 200ms}";
    let notify = format!(
        "  notifications: [{{name: ops, webhook: {{url: \"http://{}/hook\"}}}}]\n",
        hook.addr
    );
    let rig = Rig::start(ip, Version::Broken, steps, analysis, &notify).await;
    let torii = &rig.torii;
    let mut conn = rig.connect().await;
    let rolled_back = drive_until(torii, &mut conn, "RolledBack", Duration::from_secs(30)).await;
    assert_eq!(rolled_back["weight"], 0);
    let why = rolled_back["describe"].to_string() + &rolled_back["history"].to_string();
    assert!(why.contains("error rate"), "no reason given: {why}");
    // Every request goes to the stable version now.
    let statuses = drive(&mut conn, "shop.test", "/api/same", 50).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    // The CLI shows it; a promote is refused.
    let admin = torii.admin.to_string();
    let (ok, shown) = cli(&["rollout", "status", "--admin", &admin]);
    assert!(ok && shown.contains("RolledBack"), "{shown}");
    let (ok, refused) = cli(&["rollout", "promote", "shop", "--admin", &admin]);
    assert!(!ok, "promote of a rolled-back rollout accepted: {refused}");
    // The rollout's webhook heard the start and the roll-back, with the reason.
    let events = eventually(Duration::from_secs(10), || async {
        let bodies: Vec<String> = hook.seen().into_iter().map(|(.., body)| body).collect();
        bodies
            .iter()
            .any(|b| b.contains("rolloutRolledBack"))
            .then_some(bodies)
    })
    .await
    .expect("a rolloutRolledBack event reached the webhook");
    assert!(
        events.iter().any(|b| b.contains("rolloutStarted")),
        "{events:?}"
    );
    let rolled_back = events
        .iter()
        .find(|b| b.contains("rolloutRolledBack"))
        .unwrap();
    let event: Value = serde_json::from_str(rolled_back).expect("JSON event");
    assert_eq!(event["rollout"], "default/shop", "{event}");
    assert!(
        event["reason"].as_str().unwrap().contains("error rate"),
        "{event}"
    );
}

#[tokio::test]
async fn low_traffic_makes_a_step_wait_and_never_pass() {
    let steps = "    - {weight: 50, pause: 0s}
    - {weight: 100}
";
    let analysis = "{minRequests: 1000, maxErrorRate: 0.01, interval: 100ms}";
    let rig = Rig::start(loopback(), Version::Vm, steps, analysis, "").await;
    let torii = &rig.torii;
    let mut conn = rig.connect().await;
    drive(&mut conn, "shop.test", "/api/same", 40).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let status = rollout_status(torii).await;
    assert_eq!(status["phase"], "Progressing", "{status:#}");
    assert_eq!(status["step"], 0);
    assert_eq!(status["weight"], 50);
    let waiting = status["waiting"].as_str().unwrap_or_default();
    assert!(waiting.contains("inconclusive"), "{status:#}");
}

#[tokio::test]
async fn a_rollout_resumes_at_its_step_after_torii_is_killed() {
    let steps = "    - {weight: 10, pause: 0s}
    - {weight: 50, pause: 1h}
    - {weight: 100}
";
    let analysis = "{minRequests: 10, maxErrorRate: 0.05, interval: 200ms}";
    let mut rig = Rig::start(loopback(), Version::Vm, steps, analysis, "").await;
    let mut conn = rig.connect().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let on_step_1 = loop {
        drive(&mut conn, "shop.test", "/api/same", 20).await;
        let status = rollout_status(&rig.torii).await;
        if status["step"] == 1 {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not on step 1: {status:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(on_step_1["weight"], 50);
    // SIGKILL: no chance to save anything more.
    rig.restart().await;
    let resumed = rollout_status(&rig.torii).await;
    assert_eq!(resumed["phase"], "Progressing", "{resumed:#}");
    assert_eq!(resumed["step"], 1, "resumed from another step: {resumed:#}");
    assert_eq!(resumed["weight"], 50);
    // A rolled-back rollout stays rolled back across a restart.
    let admin = rig.torii.admin.to_string();
    let (ok, out) = cli(&["rollout", "abort", "default/shop", "--admin", &admin]);
    assert!(ok, "{out}");
    rig.restart().await;
    let after = rollout_status(&rig.torii).await;
    assert_eq!(after["phase"], "Aborted", "{after:#}");
    assert_eq!(after["weight"], 0);
    let mut conn = rig.connect().await;
    let before = rig.candidate.count.load(Ordering::Relaxed);
    drive(&mut conn, "shop.test", "/api/same", 30).await;
    assert_eq!(
        rig.candidate.count.load(Ordering::Relaxed),
        before,
        "traffic on an aborted candidate"
    );
}

#[tokio::test]
async fn sticky_users_keep_their_version_while_a_step_holds() {
    let steps = "    - {weight: 50, pause: 1h}
    - {weight: 100}
";
    let affinity = "  sessionAffinity: {cookieName: shop-version, ttl: 1h}\n";
    let rig = Rig::start(
        loopback(),
        Version::Vm,
        steps,
        "{minRequests: 10, interval: 1s}",
        affinity,
    )
    .await;
    let (stable, candidate) = (&rig.stable, &rig.candidate);
    let mut conn = rig.connect().await;
    // A first visit is assigned a side and told so.
    let first = conn.get("shop.test", "/api/same").await;
    let cookie = first.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("shop-version=0.") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // With the cookie, every request goes to the side it names.
    for (pin, app) in [("0.c", &candidate), ("0.s", &stable)] {
        let before = app.count.load(Ordering::Relaxed);
        for _ in 0..20 {
            let request = conn
                .request(http::Method::GET, "shop.test", "/api/same")
                .header("cookie", format!("shop-version={pin}"))
                .body(crate::support::client::empty())
                .unwrap();
            let reply = conn.fetch(request).await.unwrap();
            assert_eq!(reply.status, StatusCode::OK);
            assert!(reply.headers.get("set-cookie").is_none(), "re-pinned");
        }
        assert_eq!(app.count.load(Ordering::Relaxed), before + 20, "pin {pin}");
    }
}

#[tokio::test]
async fn without_a_usable_state_dir_no_traffic_moves() {
    let ip = loopback();
    let stable = App::start(ip, Version::Vm).await;
    let candidate = App::start(ip, Version::Vm).await;
    let port = free_port(ip);
    let steps = "    - {weight: 50, pause: 0s}
    - {weight: 100}
";
    let rollout = rollout_notifying("shop", steps, "{minRequests: 1, interval: 100ms}", "");
    let config = rollout_config(ip, port, &stable, &candidate, &rollout);
    // A file where the directory should be: it cannot be created.
    let file = tempfile::NamedTempFile::new().unwrap();
    let state_dir = file.path().join("state");
    let torii = Torii::start_with(
        ip,
        &[("config.yaml", &config)],
        &["--state-dir", state_dir.to_str().unwrap()],
    )
    .await;
    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    drive(&mut conn, "shop.test", "/api/same", 30).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drive(&mut conn, "shop.test", "/api/same", 30).await;
    assert_eq!(candidate.count.load(Ordering::Relaxed), 0, "traffic moved");
    let all = admin_json(&torii, "/api/v1/rollouts").await;
    let error = all["stateDirError"].as_str().unwrap_or_default();
    assert!(error.contains("--state-dir"), "{all:#}");
    let (ok, shown) = cli(&["rollout", "status", "--admin", &torii.admin.to_string()]);
    assert!(ok && shown.contains("warning"), "{shown}");
}
