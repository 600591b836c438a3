//! A real etcd and kube-apiserver for one test (`scripts/kube-env`), stopped when dropped.
//!
//! The binaries are built once by `scripts/kube-env build` (about 20 minutes cold; cached in
//! /var/tmp/torii-kube). When they are not built the tests skip with a message, unless
//! `TORII_REQUIRE_KUBE_ENV` is set (scripts/test sets it), which makes that a failure. At most [`MAX_ENVS`] API servers run
//! at once (each needs ~400 MB and a share of the CPU while it starts).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// API servers running at once, over all tests of this binary.
const MAX_ENVS: usize = 2;
/// How long `up` may take (a cold build is not waited for: it is checked before).
const UP_LIMIT: Duration = Duration::from_secs(240);

static ENVS: Semaphore = Semaphore::const_new(MAX_ENVS);

/// `scripts/kube-env`.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kube-env")
}

/// The directory of the built binaries, if they are built.
fn binaries() -> Result<PathBuf, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let output = Command::new(script())
            .arg("paths")
            .output()
            .map_err(|e| format!("cannot run scripts/kube-env: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let bin = text
            .lines()
            .find_map(|line| line.strip_prefix("bin "))
            .ok_or_else(|| format!("scripts/kube-env paths said: {text}"))?;
        let bin = PathBuf::from(bin.trim());
        for program in ["etcd", "kube-apiserver", "kubectl"] {
            if !bin.join(program).is_file() {
                return Err(format!(
                    "{} is not built (run scripts/kube-env build)",
                    bin.join(program).display()
                ));
            }
        }
        Ok(bin)
    })
    .clone()
}

/// Set to make missing kube-env binaries a failure instead of a skip.
const REQUIRE: &str = "TORII_REQUIRE_KUBE_ENV";

/// Whether the kube-env binaries are there; says why a test is skipped when not (and fails
/// when [`REQUIRE`] is set).
pub fn available(test: &str) -> bool {
    match binaries() {
        Ok(_) => true,
        Err(why) if std::env::var_os(REQUIRE).is_some() => {
            panic!("{test}: {REQUIRE} is set but {why}")
        }
        Err(why) => {
            // Straight to the process's stderr: the test harness captures eprintln!.
            let _ = writeln!(std::io::stderr(), "skipping {test}: {why}");
            false
        }
    }
}

/// A loopback address for one API server: 127.0.(200..250).1, different per env of this run.
fn next_ip() -> IpAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) + std::process::id() % 50;
    IpAddr::V4(Ipv4Addr::new(127, 0, 200 + (n % 50) as u8, 1))
}

/// A running etcd + kube-apiserver.
pub struct KubeEnv {
    dir: tempfile::TempDir,
    bin: PathBuf,
    _permit: SemaphorePermit<'static>,
}

impl Drop for KubeEnv {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("down")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl KubeEnv {
    /// Starts one (waits for a slot, then `scripts/kube-env up`).
    pub async fn up() -> KubeEnv {
        let bin = binaries().expect("checked by available()");
        let permit = ENVS.acquire().await.expect("never closed");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        let ip = next_ip().to_string();
        let up = tokio::task::spawn_blocking(move || {
            Command::new(script())
                .args([
                    "up".as_ref(),
                    path.as_os_str(),
                    "--ip".as_ref(),
                    ip.as_ref(),
                ])
                .args(["--timeout", "180"])
                .stdout(Stdio::null())
                .output()
        });
        let output = tokio::time::timeout(UP_LIMIT, up)
            .await
            .expect("scripts/kube-env up within its limit")
            .expect("join")
            .expect("run scripts/kube-env up");
        let env = KubeEnv {
            dir,
            bin,
            _permit: permit,
        };
        assert!(
            output.status.success(),
            "scripts/kube-env up failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        env
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Runs `kubectl` as admin with `args` (30 s request timeout); its output.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--request-timeout=30s")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        let mut input = child.stdin.take().expect("piped");
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .expect("write kubectl's input");
        drop(input);
        child.wait_with_output().expect("kubectl finishes")
    }

    /// `kubectl apply -f -` of `yaml`; panics with kubectl's message when it fails.
    pub fn apply(&self, yaml: &str) {
        let output = self.kubectl(&["apply", "-f", "-"], Some(yaml));
        assert!(
            output.status.success(),
            "kubectl apply failed: {}\n{yaml}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Runs a `scripts/kube-env` command on this environment; its stdout.
    fn run(&self, command: &str, args: &[&str]) -> String {
        let output = Command::new(script())
            .arg(command)
            .arg(self.dir.path())
            .args(args)
            .output()
            .expect("run scripts/kube-env");
        assert!(
            output.status.success(),
            "scripts/kube-env {command} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Kills the API server (SIGKILL); etcd keeps running.
    pub fn kill_apiserver(&self) {
        self.run("apiserver-stop", &["--kill"]);
    }

    /// Starts the API server again and waits until it is ready.
    pub async fn start_apiserver(&self) {
        let dir = self.dir.path().to_path_buf();
        let started = tokio::task::spawn_blocking(move || {
            Command::new(script())
                .arg("apiserver-start")
                .arg(dir)
                .output()
        });
        let output = tokio::time::timeout(UP_LIMIT, started)
            .await
            .expect("apiserver-start within its limit")
            .expect("join")
            .expect("run scripts/kube-env apiserver-start");
        assert!(
            output.status.success(),
            "apiserver-start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Compacts etcd's history up to its current revision; the revision.
    pub fn compact(&self) -> u64 {
        let text = self.run("compact", &[]);
        text.trim().parse().expect("compact prints the revision")
    }

    /// A kubeconfig for ServiceAccount `namespace/name` (created if missing).
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        PathBuf::from(self.run("sa-kubeconfig", &[namespace, name]).trim())
    }
}
