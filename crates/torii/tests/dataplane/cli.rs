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
            expect: vec![
                format!(
                    "{{file}}:{}: HTTPRoute default/r",
                    line_of(&missing_service, "kind: HTTPRoute") - 1
                ),
                "ResolvedRefs".into(),
                "BackendNotFound".into(),
            ],
            yaml: missing_service,
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
