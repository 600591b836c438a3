//! `torii serve` as a child process: config in a temp dir, admin on a free port, stderr
//! captured, killed on drop.

use super::client::get_once;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_torii");

/// How long startup may take before a test fails.
const STARTUP: Duration = Duration::from_secs(15);

/// A running `torii serve`.
pub struct Torii {
    child: Mutex<Child>,
    /// The admin server's address.
    pub admin: SocketAddr,
    /// The config directory (`-f`).
    pub dir: tempfile::TempDir,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Torii {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Torii {
    /// Writes `yaml` to `config.yaml` in a new temp dir, starts `torii serve` with its admin
    /// server on `ip`, and waits until `/readyz` answers 200.
    pub async fn start(ip: IpAddr, yaml: &str) -> Torii {
        Torii::start_with(ip, &[("config.yaml", yaml)], &[]).await
    }

    /// Like [`Torii::start`] with several files and extra command-line arguments.
    pub async fn start_with(ip: IpAddr, files: &[(&str, &str)], args: &[&str]) -> Torii {
        Torii::ready(Torii::spawn(ip, files, args)).await
    }

    /// Like [`Torii::start_with`] with `--admin bind` (see [`Torii::spawn_at`]).
    pub async fn start_at(bind: SocketAddr, files: &[(&str, &str)], args: &[&str]) -> Torii {
        Torii::ready(Torii::spawn_at(bind, files, args)).await
    }

    /// Waits until `/readyz` answers 200.
    pub async fn ready(torii: Torii) -> Torii {
        let ready = super::eventually(STARTUP, || async {
            if let Ok(Some(status)) = torii.child_status() {
                panic!(
                    "torii exited during startup with {status}; stderr:\n{}",
                    torii.stderr()
                );
            }
            match torii.admin_get("/readyz").await {
                Ok((200, _)) => Some(()),
                _ => None,
            }
        })
        .await;
        assert!(
            ready.is_some(),
            "torii not ready within {STARTUP:?}; stderr:\n{}",
            torii.stderr()
        );
        torii
    }

    /// Starts `torii serve` without waiting for anything.
    pub fn spawn(ip: IpAddr, files: &[(&str, &str)], args: &[&str]) -> Torii {
        Torii::spawn_at(SocketAddr::new(ip, super::free_port(ip)), files, args)
    }

    /// Starts `torii serve` with `--admin bind` without waiting for anything. With an
    /// unspecified address (`0.0.0.0`) the tests reach the admin server on 127.0.0.1.
    pub fn spawn_at(bind: SocketAddr, files: &[(&str, &str)], args: &[&str]) -> Torii {
        let dir = tempfile::tempdir().expect("create a temp dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write config");
        }
        let source = vec![OsString::from("-f"), dir.path().into()];
        Torii::spawn_source(bind, dir, source, args)
    }

    /// Starts `torii serve --kubernetes --kubeconfig <kubeconfig>` with its admin server on
    /// `ip` and its cache in `<dir>/cache` of a new temp dir, and waits until `/readyz`
    /// answers 200.
    pub async fn start_kube(ip: IpAddr, kubeconfig: &Path, args: &[&str]) -> Torii {
        Torii::ready(Torii::spawn_kube(ip, kubeconfig, None, args)).await
    }

    /// Starts `torii serve --kubernetes` without waiting for anything; with `cache_dir` the
    /// cache is there instead of in the new temp dir.
    pub fn spawn_kube(
        ip: IpAddr,
        kubeconfig: &Path,
        cache_dir: Option<&Path>,
        args: &[&str],
    ) -> Torii {
        let dir = tempfile::tempdir().expect("create a temp dir");
        let cache = cache_dir.map_or_else(|| dir.path().join("cache"), Path::to_path_buf);
        let source = vec![
            OsString::from("--kubernetes"),
            "--kubeconfig".into(),
            kubeconfig.into(),
            "--cache-dir".into(),
            cache.into(),
        ];
        let bind = SocketAddr::new(ip, super::free_port(ip));
        Torii::spawn_source(bind, dir, source, args)
    }

    /// Starts `torii serve <source> --admin bind …` with `dir` as its temp dir.
    fn spawn_source(
        bind: SocketAddr,
        dir: tempfile::TempDir,
        source: Vec<OsString>,
        args: &[&str],
    ) -> Torii {
        let admin = if bind.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], bind.port()))
        } else {
            bind
        };
        // `--default-address` in `args` replaces the default one.
        let default_address = if args.contains(&"--default-address") {
            &[][..]
        } else {
            &["--default-address", "127.0.0.1"][..]
        };
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(source)
            .arg("--admin")
            .arg(bind.to_string())
            .args(default_address)
            .arg("--threads")
            .arg("2")
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env_remove("TORII_ADMIN_TOKEN_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn torii");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().expect("not poisoned");
                text.push_str(&strip_ansi(&line));
                text.push('\n');
            }
        });
        Torii {
            child: Mutex::new(child),
            admin,
            dir,
            stderr,
        }
    }

    /// The path of a config file.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Replaces config file `name` atomically (write beside, rename over), so the watcher
    /// never reads half a file.
    pub fn write(&self, name: &str, yaml: &str) {
        write_atomic(&self.path(name), yaml);
    }

    /// Everything torii wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("not poisoned").clone()
    }

    /// Waits up to `limit` for stderr to contain `needle`.
    pub async fn wait_stderr(&self, needle: &str, limit: Duration) -> bool {
        super::eventually(limit, || async {
            self.stderr().contains(needle).then_some(())
        })
        .await
        .is_some()
    }

    /// Kills the process (SIGKILL) and waits until it is gone.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().expect("not poisoned").id()
    }

    /// The exit status, if the process has exited.
    pub fn child_status(&self) -> std::io::Result<Option<ExitStatus>> {
        self.child.lock().expect("not poisoned").try_wait()
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub async fn wait_exit(&self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child_status() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `GET` on the admin server: status and body.
    pub async fn admin_get(&self, path: &str) -> Result<(u16, String), super::client::BoxError> {
        let reply = get_once(self.admin, &self.admin.to_string(), path).await?;
        Ok((
            reply.status.as_u16(),
            String::from_utf8_lossy(&reply.body).into_owned(),
        ))
    }

    /// `/api/v1/status` as JSON.
    pub async fn status(&self) -> serde_json::Value {
        let (code, body) = self
            .admin_get("/api/v1/status")
            .await
            .expect("admin answers");
        assert_eq!(code, 200, "status: {body}");
        serde_json::from_str(&body).expect("status is JSON")
    }

    /// The generation being served.
    pub async fn generation(&self) -> u64 {
        self.status().await["generation"].as_u64().unwrap_or(0)
    }

    /// Waits up to `limit` for the generation to reach `at_least`; returns it.
    pub async fn wait_generation(&self, at_least: u64, limit: Duration) -> u64 {
        let reached = super::eventually(limit, || async {
            let generation = self.generation().await;
            (generation >= at_least).then_some(generation)
        })
        .await;
        reached.unwrap_or_else(|| {
            panic!(
                "generation {at_least} not reached within {limit:?}; stderr:\n{}",
                self.stderr()
            )
        })
    }

    /// `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.admin_get("/metrics").await.expect("admin answers").1
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"))
    }
}

/// Replaces `path` atomically.
pub fn write_atomic(path: &Path, text: &str) {
    let temp = path.with_extension("tmp~");
    std::fs::write(&temp, text).expect("write temp file");
    std::fs::rename(&temp, path).expect("rename over the config");
}

/// Removes ANSI escape sequences (in case the log still colours).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs the binary to completion with `args`: exit code, stdout, stderr.
pub fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run torii");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
