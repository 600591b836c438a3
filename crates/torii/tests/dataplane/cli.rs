//! `torii validate` and `torii serve` on valid and invalid config: exit codes, and every
//! problem printed with file, line and field.

use crate::support::torii::{run, BIN};
use crate::support::{loopback, within, yaml, Torii};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

fn valid_config() -> String {
    let ip = "127.0.0.1".parse().expect("valid address");
    yaml::docs(&[
        yaml::gateway_class(),
        yaml::gateway("gw", ip, &[yaml::http_listener("http", 8080)]),
        yaml::service("echo", &[SocketAddr::from(([127, 0, 0, 1], 9))]),
        yaml::http_route("r", "gw", &[], &yaml::prefix_rule("/", "echo")),
    ])
}

/// Line (1-based) of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

fn validate(dir: &Path) -> (i32, String, String) {
    run(&[OsStr::new("validate"), OsStr::new("-f"), dir.as_os_str()])
}

/// One config directory and what `torii validate` must say about it.
struct Case {
    name: &'static str,
    yaml: String,
    code: i32,
    /// Text that must appear, with `{file}` standing for the file's path and `{line:NEEDLE}`
    /// for the line of NEEDLE.
    expect: Vec<String>,
}

#[test]
fn validate_exit_codes_and_locations() {
    let valid = valid_config();
    let type_error = valid.replacen(
        "spec: {ports: [{name: http, port: 80}]}",
        "spec: {ports: [{name: http, port: \"abc\"}]}",
        1,
    );
    let missing_service = valid.replacen(
        "backendRefs: [{name: echo",
        "backendRefs: [{name: nowhere",
        1,
    );
    // Routes attached to no Gateway are still checked against the CRDs' schemas.
    let unattached = |rule: &str| {
        yaml::http_route("r", "gw", &[], rule).replacen(
            "parentRefs: [{name: gw}]",
            "parentRefs: []",
            1,
        )
    };
    let negative_weight = yaml::docs(&[unattached(
        "  - matches: [{path: {type: PathPrefix, value: \"/\"}}]\n    backendRefs:\n    - name: echo\n      port: 80\n      weight: -1\n",
    )]);
    let relative_path = yaml::docs(&[unattached(&yaml::prefix_rule("api", "echo"))]);
    let tcp_route_v1 = "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: t}\nspec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: echo, port: 80}]}]\n".to_owned();
    let cases = [
        Case {
            name: "valid",
            yaml: valid.clone(),
            code: 0,
            expect: vec!["valid: ".into()],
        },
        Case {
            name: "type error",
            code: 1,
            expect: vec![format!(
                "{{file}}:{}: Service default/echo: spec.ports[0].port: invalid type",
                line_of(&type_error, "\"abc\"")
            )],
            yaml: type_error,
        },
        Case {
            name: "unknown field is a warning only",
            yaml: valid.replacen(
                "gatewayClassName: torii",
                "gatewayClassName: torii\n  colour: red",
                1,
            ),
            code: 0,
            expect: vec!["warning: ".into(), "colour".into()],
        },
        Case {
            name: "backendRef to a missing Service",
            code: 1,
            // On the backendRef's own line, with its field path.
            expect: vec![format!(
                "{{file}}:{}: HTTPRoute default/r: spec.rules[0].backendRefs[0]: ResolvedRefs is \
                 False (BackendNotFound): Service default/nowhere does not exist",
                line_of(&missing_service, "backendRefs: [{name: nowhere")
            )],
            yaml: missing_service,
        },
        Case {
            name: "negative weight on a route attached to no Gateway",
            code: 1,
            expect: vec![format!(
                "{{file}}:{}: HTTPRoute default/r: spec.rules[0].backendRefs[0].weight: -1 is \
                 less than the minimum 0",
                line_of(&negative_weight, "weight: -1")
            )],
            yaml: negative_weight,
        },
        Case {
            name: "path without a leading slash on a route attached to no Gateway",
            code: 1,
            expect: vec![format!(
                "{{file}}:{}: HTTPRoute default/r: spec.rules[0].matches[0].path: value must be \
                 an absolute path and start with '/'",
                line_of(&relative_path, "value: \"api\"")
            )],
            yaml: relative_path,
        },
        Case {
            name: "TCPRoute in a version Gateway API does not serve",
            code: 1,
            expect: vec![format!(
                "{{file}}:{}: TCPRoute t: apiVersion: unsupported apiVersion \
                 `gateway.networking.k8s.io/v1` for kind TCPRoute (expected \
                 gateway.networking.k8s.io/v1alpha2)",
                line_of(&tcp_route_v1, "kind: TCPRoute") - 1
            )],
            yaml: tcp_route_v1,
        },
    ];
    for case in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, &case.yaml).expect("write config");
        let (code, stdout, stderr) = validate(dir.path());
        assert_eq!(
            code, case.code,
            "{}: stdout:\n{stdout}\nstderr:\n{stderr}",
            case.name
        );
        for expect in &case.expect {
            let expect = expect.replace("{file}", &file.display().to_string());
            assert!(
                stdout.contains(&expect),
                "{}: stdout lacks {expect:?}:\n{stdout}",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn serve_on_invalid_config_exits_64() {
    let ip = loopback();
    let invalid = valid_config().replacen(
        "spec: {ports: [{name: http, port: 80}]}",
        "spec: {ports: [{name: http, port: \"abc\"}]}",
        1,
    );
    let torii = Torii::spawn(ip, &[("bad.yaml", &invalid)], &[]);
    let status = within(
        Duration::from_secs(10),
        "torii serve exits",
        torii.wait_exit(Duration::from_secs(10)),
    )
    .await
    .expect("torii serve exits on invalid config");
    assert_eq!(status.code(), Some(64), "stderr:\n{}", torii.stderr());
    // The stderr pipe is drained by a thread; give it the moment it needs.
    let file = torii.path("bad.yaml");
    let location = format!(
        "{}:{}: Service default/echo: spec.ports[0].port",
        file.display(),
        line_of(&invalid, "\"abc\"")
    );
    assert!(
        torii.wait_stderr(&location, Duration::from_secs(2)).await,
        "stderr names {location}:\n{}",
        torii.stderr()
    );
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, stderr) = run(&[OsStr::new("serve")]);
    assert_eq!(code, 2, "serve without -f: {stderr}");
    let (code, _, _) = run(&[OsStr::new("--version")]);
    assert_eq!(code, 0);
    assert!(Path::new(BIN).exists());
}

/// Logs written to a pipe carry no ANSI colour codes (nothing would interpret them; log
/// collectors store them as garbage): stderr here is a pipe and `NO_COLOR` is not set.
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let invalid = valid_config().replacen("port: 80}", "port: \"abc\"}", 1);
    std::fs::write(dir.path().join("bad.yaml"), invalid).expect("write config");
    let admin = SocketAddr::new(loopback(), 9);
    let mut child = std::process::Command::new(BIN)
        .arg("serve")
        .arg("-f")
        .arg(dir.path())
        .arg("--admin")
        .arg(admin.to_string())
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn torii");
    // The config is invalid: torii logs why and exits by itself (killed after 20 s if not).
    let mut pipe = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut pipe, &mut bytes);
        bytes
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for torii") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("torii exits once killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().expect("reader thread");
    let text = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(64), "{text}");
    assert!(
        text.contains("ERROR") && text.contains("invalid configuration"),
        "{text}"
    );
    assert!(!text.contains("\x1b["), "colour codes in {text:?}");
}

/// `torii demo` prints torii commands that work as printed, with no `torii` on the PATH (as
/// when started with `cargo run`): they name the running binary by its path.
#[test]
fn demo_prints_commands_that_work_as_printed() {
    let ip: std::net::IpAddr = "127.0.0.1".parse().expect("address");
    let ports = crate::support::free_ports(ip, 2);
    let admin = SocketAddr::new(ip, ports[1]);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = std::process::Command::new(BIN)
        .arg("demo")
        .arg("--port")
        .arg(ports[0].to_string())
        .arg("--admin")
        .arg(admin.to_string())
        .arg("--dir")
        .arg(dir.path())
        .arg("--threads")
        .arg("2")
        .env("NO_COLOR", "1")
        // Nothing named torii can be found on this PATH.
        .env("PATH", "/usr/bin:/bin")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn torii demo");
    let stdout = child.stdout.take().expect("piped");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut printed = Vec::new();
    let status_line = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match received.recv_timeout(left) {
            Ok(line) if line.contains(" status --admin ") => break line,
            Ok(line) => printed.push(line),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no status command printed within 30 s:\n{}",
                    printed.join("\n")
                );
            }
        }
    };
    let command = status_line.trim();
    assert!(
        command.starts_with(&format!("{BIN} status"))
            || command.starts_with(&format!("'{BIN}' status")),
        "{command}"
    );
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run sh");
    let _ = child.kill();
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("shop"),
        "{command}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
