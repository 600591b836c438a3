//! A real etcd + kube-apiserver for one test run (`scripts/kube-env up` in a temporary
//! directory, `down` on drop), and `kubectl` against it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Set to make a missing kube-env a failure instead of a skip (CI sets it after
/// `scripts/kube-env build`).
pub const REQUIRE: &str = "TORII_REQUIRE_KUBE_ENV";

/// A running API server with torii's CRDs (the checked-in `deploy/crds/`) installed.
pub struct Cluster {
    root: PathBuf,
    dir: tempfile::TempDir,
    kubectl: PathBuf,
}

/// What a `kubectl` run printed and whether it succeeded.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Cluster {
    /// Starts one, or returns `None` (after saying why) when the kube-env binaries are not
    /// built and [`REQUIRE`] is not set.
    pub fn start() -> Option<Cluster> {
        let root = repo_root();
        let script = root.join("scripts/kube-env");
        let bin = Command::new(&script)
            .arg("paths")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("bin ").map(PathBuf::from))
            });
        let built = bin.as_ref().is_some_and(|bin| {
            ["kube-apiserver", "etcd", "kubectl"]
                .iter()
                .all(|b| bin.join(b).is_file())
        });
        let Some(bin) = bin.filter(|_| built) else {
            let message = "the kube-env binaries are not built (run `scripts/kube-env build`; \
                           needs Go and the Go module proxy)";
            assert!(
                std::env::var_os(REQUIRE).is_none(),
                "{REQUIRE} is set but {message}"
            );
            eprintln!("skipped: {message}");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("torii-crds-")
            .tempdir()
            .expect("create a temporary directory");
        // Ports are picked free by kube-env; a per-process address keeps parallel runs apart
        // in logs and kubeconfigs.
        let pid = std::process::id();
        let ip = format!("127.0.{}.{}", 200 + pid % 50, 1 + (pid / 50) % 250);
        let output = Command::new(&script)
            .args(["up"])
            .arg(dir.path())
            .args(["--ip", &ip, "--name", "torii-crds", "--timeout", "240"])
            .output()
            .expect("run scripts/kube-env up");
        let cluster = Cluster {
            root,
            dir,
            kubectl: bin.join("kubectl"),
        };
        assert!(
            output.status.success(),
            "scripts/kube-env up failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Some(cluster)
    }

    /// Runs `kubectl ARGS` (admin kubeconfig, bounded requests), with `stdin` as its input.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--request-timeout=30s")
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        if let Some(text) = stdin {
            let mut input = child.stdin.take().expect("stdin is piped");
            input.write_all(text.as_bytes()).expect("write to kubectl");
        }
        child.wait_with_output().expect("wait for kubectl").into()
    }

    /// `kubectl ARGS` that must succeed; returns its standard output.
    pub fn kubectl_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let run = self.kubectl(args, stdin);
        assert!(run.ok, "kubectl {args:?} failed: {}", run.stderr);
        run.stdout
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(self.root.join("scripts/kube-env"))
            .arg("down")
            .arg(self.dir.path())
            .output();
    }
}
