//! The admin server: /readyz, /healthz, /metrics after traffic, /api/v1/status and
//! /api/v1/config; and who may use it: DNS rebinding and cross-site requests refused, the
//! token of `--admin-token-file` for changes and API reads, `--admin` beyond loopback only
//! with a token.

use crate::support::client::{Conn, Proto};
use crate::support::torii::BIN;
use crate::support::{free_port, loopback, within, yaml, Backend, Torii};
use http::StatusCode;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status of condition `type_` in a list of conditions.
fn condition<'a>(conditions: &'a Value, type_: &str) -> Option<&'a str> {
    conditions.as_array()?.iter().find(|c| c["type"] == type_)?["status"].as_str()
}

/// The value of the metric line starting with `prefix` (name and labels).
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.trim().parse().ok())
}

#[tokio::test]
async fn admin_endpoints_report_health_metrics_and_status() {
    let ip = loopback();
    let echo = Backend::start("echo", ip).await;
    let port = free_port(ip);
    let yaml = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", port)]),
        yaml::service("echo", &[echo.addr]),
        yaml::http_route("app", "gw", &["app.test"], &yaml::prefix_rule("/", "echo")),
    ]);
    let torii = Torii::start(ip, &yaml).await;

    assert_eq!(torii.admin_get("/readyz").await.expect("readyz").0, 200);
    let (code, body) = torii.admin_get("/healthz").await.expect("healthz");
    assert_eq!((code, body.as_str()), (200, "ok\n"));

    let mut conn = Conn::connect(SocketAddr::new(ip, port), Proto::H1)
        .await
        .expect("connect");
    for _ in 0..3 {
        assert_eq!(conn.get("app.test", "/ok").await.status, StatusCode::OK);
    }
    assert_eq!(
        conn.get("app.test", "/status/503").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        conn.get("other.test", "/").await.status,
        StatusCode::NOT_FOUND
    );

    let metrics = torii.metrics().await;
    let labels = r#"gateway="default/gw",route="default/app",backend="default/echo:80""#;
    assert_eq!(
        metric(
            &metrics,
            &format!("torii_requests_total{{{labels},class=\"2xx\"}}")
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            &format!("torii_requests_total{{{labels},class=\"5xx\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            r#"torii_requests_total{gateway="none",route="none",backend="none",class="4xx"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics.contains("torii_request_duration_seconds_bucket{"),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "torii_snapshot_generation "),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "torii_open_connections "),
        Some(1.0),
        "{metrics}"
    );

    let status = torii.status().await;
    assert_eq!(status["generation"], 1);
    let gateway = &status["gateways"][0];
    assert_eq!(gateway["gateway"]["name"], "gw", "{status:#}");
    assert_eq!(
        condition(&gateway["conditions"], "Accepted"),
        Some("True"),
        "{status:#}"
    );
    assert_eq!(
        condition(&gateway["conditions"], "Programmed"),
        Some("True"),
        "{status:#}"
    );
    let listener = &gateway["listeners"][0];
    assert_eq!(listener["attachedRoutes"], 1, "{status:#}");
    assert_eq!(
        condition(&listener["conditions"], "Programmed"),
        Some("True"),
        "{status:#}"
    );
    let route = &status["routes"][0];
    assert_eq!(route["route"]["name"], "app", "{status:#}");
    let parent = &route["parents"][0]["conditions"];
    assert_eq!(condition(parent, "Accepted"), Some("True"), "{status:#}");
    assert_eq!(
        condition(parent, "ResolvedRefs"),
        Some("True"),
        "{status:#}"
    );

    let (code, body) = torii.admin_get("/api/v1/config").await.expect("config");
    assert_eq!(code, 200);
    let config: Value = serde_json::from_str(&body).expect("config is JSON");
    assert_eq!(config["generation"], 1);
    assert_eq!(
        config["ports"][0]["address"],
        format!("{ip}:{port}"),
        "{config:#}"
    );
    assert_eq!(
        config["backends"][0]["endpoints"][0],
        echo.addr.to_string(),
        "{config:#}"
    );
}

const TOKEN: &str = "9f86d081884c7d659a2feaa0c55ad015";

/// An answer of the admin server read off a raw socket: status, head (lower-cased), body.
struct Raw {
    status: u16,
    head: String,
    body: String,
}

/// Sends `request` as raw bytes (the blank line and body included by the caller) on a fresh
/// connection and reads the whole answer.
async fn raw(admin: SocketAddr, request: &str) -> Raw {
    within(Duration::from_secs(10), "admin answer", async {
        let mut stream = tokio::net::TcpStream::connect(admin)
            .await
            .expect("connect");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read answer");
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        Raw {
            status: head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0),
            head: head.to_ascii_lowercase(),
            body: body.to_owned(),
        }
    })
    .await
}

/// A gateway, a route `shop` on `shop.test` to `stable` (weight 100) and `candidate` (0), and
/// a rollout of it that holds its first step for an hour.
fn rollout_config(ip: IpAddr, stable: &Backend, candidate: &Backend) -> String {
    yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", free_port(ip))]),
        yaml::service("stable", &[stable.addr]),
        yaml::service("candidate", &[candidate.addr]),
        yaml::http_route(
            "shop",
            "gw",
            &["shop.test"],
            "  - backendRefs: [{name: stable, port: 80, weight: 100}, {name: candidate, port: 80, weight: 0}]\n",
        ),
        "apiVersion: torii.dev/v1alpha1
kind: Rollout
metadata: {name: shop}
spec:
  targetRef: {kind: HTTPRoute, name: shop}
  stableRef: {name: stable, port: 80}
  candidateRef: {name: candidate, port: 80}
  steps:
    - {weight: 10, pause: 1h}
    - {weight: 100}
  analysis: {minRequests: 10, interval: 1s}
"
        .to_owned(),
    ])
}

/// The phase of rollout `default/shop` and its history, read with `token` when given.
async fn rollout(torii: &Torii, token: Option<&str>) -> (String, String) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let answer = raw(
        torii.admin,
        &format!(
            "GET /api/v1/rollouts HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
            torii.admin
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let all: Value = serde_json::from_str(&answer.body).expect("rollouts are JSON");
    let shop = &all["rollouts"][0];
    assert_eq!(shop["name"], "default/shop", "{all:#}");
    (
        shop["phase"].as_str().unwrap_or_default().to_owned(),
        shop["history"].to_string(),
    )
}

/// Runs the CLI with `args` (and `env`); success and everything it printed.
fn cli(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = std::process::Command::new(BIN)
        .args(args)
        .env_remove("TORII_ADMIN_TOKEN_FILE")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the torii CLI");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// Writes `text` to a new file with `mode`.
fn token_file(dir: &tempfile::TempDir, name: &str, text: &str, mode: u32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write token file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// Issue 11 §4: a web page whose name rebinds to 127.0.0.1 (or any cross-site page) paused a
/// rollout. Every browser-shaped change is refused and the rollout keeps going; the CLI's own
/// request still works (so the refusals are not a server that refuses everything).
#[tokio::test]
async fn browser_requests_cannot_change_a_rollout() {
    let ip = loopback();
    let (stable, candidate) = (
        Backend::start("stable", ip).await,
        Backend::start("candidate", ip).await,
    );
    let state = tempfile::tempdir().expect("temp dir");
    let torii = Torii::start_with(
        ip,
        &[("config.yaml", &rollout_config(ip, &stable, &candidate))],
        &["--state-dir", state.path().to_str().expect("UTF-8")],
    )
    .await;
    assert_eq!(rollout(&torii, None).await.0, "Progressing");
    let admin = torii.admin;
    let pause = "POST /api/v1/rollouts/default/shop/pause HTTP/1.1";
    let attacks = [
        (
            "DNS rebinding: the page's own name, its own origin",
            format!("{pause}\r\nHost: rebind.evil.example:{}\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\n", admin.port()),
            403,
        ),
        (
            "DNS rebinding with every header the CLI sends",
            format!("{pause}\r\nHost: rebind.evil.example:{}\r\nX-Torii-Request: 1\r\nContent-Length: 0\r\n", admin.port()),
            403,
        ),
        (
            "a cross-site form (text/plain, no preflight)",
            format!("{pause}\r\nHost: {admin}\r\nOrigin: http://evil.example\r\nSec-Fetch-Site: cross-site\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nx=1&y"),
            403,
        ),
        (
            "a text/plain form from a browser that sends no Origin",
            format!("{pause}\r\nHost: {admin}\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nx=1&y"),
            415,
        ),
        (
            "an empty form post",
            format!("{pause}\r\nHost: {admin}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n"),
            403,
        ),
        (
            "Sec-Fetch-Site same-site (a page on another localhost port)",
            format!("{pause}\r\nHost: {admin}\r\nSec-Fetch-Site: same-site\r\nX-Torii-Request: 1\r\nContent-Length: 0\r\n"),
            403,
        ),
        (
            "a CORS preflight",
            format!("OPTIONS /api/v1/rollouts/default/shop/pause HTTP/1.1\r\nHost: {admin}\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: x-torii-request\r\n"),
            403,
        ),
        (
            "a cross-origin read",
            format!("GET /api/v1/rollouts HTTP/1.1\r\nHost: {admin}\r\nOrigin: http://evil.example\r\n"),
            403,
        ),
    ];
    for (what, request, status) in &attacks {
        let request = if request.ends_with("\r\n") {
            format!("{request}Connection: close\r\n\r\n")
        } else {
            request.replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)
        };
        let answer = raw(admin, &request).await;
        assert_eq!(
            answer.status, *status,
            "{what}: {}{}",
            answer.head, answer.body
        );
        assert!(
            !answer.head.contains("access-control-allow"),
            "{what}: {}",
            answer.head
        );
        assert!(answer.body.contains("\"error\""), "{what}: {}", answer.body);
    }
    let (phase, history) = rollout(&torii, None).await;
    assert_eq!(
        phase, "Progressing",
        "a refused request paused it: {history}"
    );
    assert!(!history.contains("paused"), "{history}");
    let metrics = torii.metrics().await;
    assert!(
        metrics.contains(r#"torii_admin_refused_requests_total{reason="host"} 2"#),
        "{metrics}"
    );

    // The CLI (loopback, X-Torii-Request, no token set) is let through.
    let (ok, out) = cli(
        &["rollout", "pause", "shop", "--admin", &admin.to_string()],
        &[],
    );
    assert!(ok, "{out}");
    assert_eq!(rollout(&torii, None).await.0, "Paused");
}

/// With `--admin-token-file`, changes and API reads need `Authorization: Bearer`; the probes
/// and `/metrics` stay open; the CLI reads the same file (flag or environment).
#[tokio::test]
async fn with_a_token_file_changes_and_api_reads_need_the_token() {
    let ip = loopback();
    let (stable, candidate) = (
        Backend::start("stable", ip).await,
        Backend::start("candidate", ip).await,
    );
    let state = tempfile::tempdir().expect("temp dir");
    let secrets = tempfile::tempdir().expect("temp dir");
    // Group-readable: torii warns (and still starts).
    let token = token_file(&secrets, "token", &format!("{TOKEN}\n"), 0o640);
    let wrong = token_file(
        &secrets,
        "wrong",
        "00000000000000000000000000000000\n",
        0o600,
    );
    let torii = Torii::start_with(
        ip,
        &[("config.yaml", &rollout_config(ip, &stable, &candidate))],
        &[
            "--state-dir",
            state.path().to_str().expect("UTF-8"),
            "--admin-token-file",
            &token,
        ],
    )
    .await;
    let admin = torii.admin;
    assert!(
        torii
            .wait_stderr("readable by group or others", Duration::from_secs(5))
            .await,
        "{}",
        torii.stderr()
    );

    let get = |path: &str, auth: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {admin}\r\n{auth}Connection: close\r\n\r\n")
    };
    let bearer = format!("Authorization: Bearer {TOKEN}\r\n");
    for (path, auth, status) in [
        ("/readyz", "", 200),
        ("/healthz", "", 200),
        ("/metrics", "", 200),
        ("/api/v1/status", "", 401),
        ("/api/v1/config", "", 401),
        ("/api/v1/rollouts", "", 401),
        ("/api/v1/diffs", "", 401),
        (
            "/api/v1/status",
            "Authorization: Bearer 00000000000000000000000000000000\r\n",
            401,
        ),
        ("/api/v1/status", bearer.as_str(), 200),
        ("/api/v1/diffs", bearer.as_str(), 200),
    ] {
        let answer = raw(admin, &get(path, auth)).await;
        assert_eq!(answer.status, status, "{path} {auth}: {}", answer.body);
        if status == 401 {
            assert!(
                answer.head.contains("www-authenticate: bearer"),
                "{}",
                answer.head
            );
            let error: Value = serde_json::from_str(&answer.body).expect("JSON error");
            assert!(error["error"].is_string(), "{error}");
        }
    }

    let pause = |auth: &str| {
        format!("POST /api/v1/rollouts/default/shop/pause HTTP/1.1\r\nHost: {admin}\r\nX-Torii-Request: 1\r\nContent-Length: 0\r\n{auth}Connection: close\r\n\r\n")
    };
    for auth in [
        "",
        "Authorization: Bearer 00000000000000000000000000000000\r\n",
    ] {
        assert_eq!(raw(admin, &pause(auth)).await.status, 401, "{auth}");
    }
    assert_eq!(rollout(&torii, Some(TOKEN)).await.0, "Progressing");

    // The CLI without the token is told which flag to use; with the wrong one, that it is wrong.
    let address = admin.to_string();
    let (ok, out) = cli(&["rollout", "pause", "shop", "--admin", &address], &[]);
    assert!(!ok && out.contains("--admin-token-file"), "{out}");
    let (ok, out) = cli(&["status", "--admin", &address], &[]);
    assert!(!ok && out.contains("--admin-token-file"), "{out}");
    let (ok, out) = cli(
        &[
            "rollout",
            "pause",
            "shop",
            "--admin",
            &address,
            "--admin-token-file",
            &wrong,
        ],
        &[],
    );
    assert!(!ok && out.contains("refused the token"), "{out}");
    assert_eq!(rollout(&torii, Some(TOKEN)).await.0, "Progressing");

    let (ok, out) = cli(
        &[
            "rollout",
            "pause",
            "shop",
            "--admin",
            &address,
            "--admin-token-file",
            &token,
        ],
        &[],
    );
    assert!(ok, "{out}");
    assert_eq!(rollout(&torii, Some(TOKEN)).await.0, "Paused");
    let env = [("TORII_ADMIN_TOKEN_FILE", token.as_str())];
    let (ok, out) = cli(&["rollout", "status", "--admin", &address], &env);
    assert!(ok && out.contains("Paused"), "{out}");
    let (ok, out) = cli(&["status", "--admin", &address], &env);
    assert!(ok && out.contains("generation 1"), "{out}");
    let (ok, out) = cli(&["diff", "--admin", &address], &env);
    assert!(ok, "{out}");

    assert!(!torii.stderr().contains(TOKEN), "the token was logged");
}

/// `--admin` beyond loopback without a token: exit 2 at once, naming both flags, before any
/// config is applied; a token file that is too short or an orphan `--admin-metrics-auth` likewise.
#[tokio::test]
async fn beyond_loopback_torii_refuses_to_start_without_a_token() {
    let ip = loopback();
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", free_port(ip))]),
    ]);
    let secrets = tempfile::tempdir().expect("temp dir");
    let short = token_file(&secrets, "short", "abc123\n", 0o600);
    let unspecified: SocketAddr = format!("0.0.0.0:{}", free_port("0.0.0.0".parse().expect("ip")))
        .parse()
        .expect("address");
    let loopback_admin = SocketAddr::new(ip, free_port(ip));
    let cases: [(SocketAddr, Vec<&str>, &[&str]); 4] = [
        (
            unspecified,
            vec![],
            &["--admin 0.0.0.0:", "--admin-token-file"],
        ),
        (
            "[::]:19901".parse().expect("address"),
            vec![],
            &["--admin [::]:19901", "--admin-token-file"],
        ),
        (
            loopback_admin,
            vec!["--admin-token-file", &short],
            &[&short, "at least 16"],
        ),
        (
            loopback_admin,
            vec!["--admin-metrics-auth"],
            &["--admin-metrics-auth needs --admin-token-file"],
        ),
    ];
    for (bind, args, needles) in &cases {
        let started = std::time::Instant::now();
        let torii = Torii::spawn_at(*bind, &[("config.yaml", &config)], args);
        let status = torii.wait_exit(Duration::from_secs(10)).await;
        let elapsed = started.elapsed();
        // The pipe may still hold the last lines when the process is gone.
        for needle in *needles {
            let found = torii.wait_stderr(needle, Duration::from_secs(5)).await;
            assert!(found, "{needle:?} not in: {}", torii.stderr());
        }
        let stderr = torii.stderr();
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(2),
            "{bind} {args:?}: {stderr}"
        );
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert!(!stderr.contains("config applied"), "it started: {stderr}");
    }
}

/// `--admin 0.0.0.0:PORT` with a token starts; probes answer, the API needs the token, and
/// with `--admin-metrics-auth` so does `/metrics`.
#[tokio::test]
async fn beyond_loopback_torii_starts_with_a_token() {
    let ip = loopback();
    let config = yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", free_port(ip))]),
    ]);
    let secrets = tempfile::tempdir().expect("temp dir");
    let token = token_file(&secrets, "token", TOKEN, 0o600);
    let bind: SocketAddr = format!("0.0.0.0:{}", free_port("0.0.0.0".parse().expect("ip")))
        .parse()
        .expect("address");
    let torii = Torii::start_at(
        bind,
        &[("config.yaml", &config)],
        &["--admin-token-file", &token, "--admin-metrics-auth"],
    )
    .await;
    assert!(
        !torii.stderr().contains("readable by group"),
        "{}",
        torii.stderr()
    );
    let admin = torii.admin;
    let get = |path: &str, auth: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {admin}\r\n{auth}Connection: close\r\n\r\n")
    };
    let bearer = format!("Authorization: Bearer {TOKEN}\r\n");
    for (path, auth, status) in [
        ("/readyz", "", 200),
        ("/metrics", "", 401),
        ("/metrics", bearer.as_str(), 200),
        ("/api/v1/status", "", 401),
        ("/api/v1/status", bearer.as_str(), 200),
    ] {
        let answer = raw(admin, &get(path, auth)).await;
        assert_eq!(answer.status, status, "{path} {auth}: {}", answer.body);
    }
    let (ok, out) = cli(
        &[
            "status",
            "--admin",
            &admin.to_string(),
            "--admin-token-file",
            &token,
        ],
        &[],
    );
    assert!(ok && out.contains("generation 1"), "{out}");
}
