//! The admin API's two ends in the binary: the access policy `serve` and `demo` start with
//! (`--admin-token-file`, `--admin-allowed-host`, `--admin-metrics-auth`), and the client the
//! CLI (`torii status`, `torii rollout …`, `torii diff …`) talks to it with.

use crate::RunArgs;
use anyhow::Context;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;
use torii_admin::{AdminAccess, AdminToken};

/// The access policy of `--admin`; an error is a usage error (exit 2) and names the flags.
pub fn access(run: &RunArgs) -> anyhow::Result<AdminAccess> {
    let token = match &run.admin_token_file {
        Some(path) => {
            let token = AdminToken::read(path)?;
            warn_if_shared(path);
            Some(token)
        }
        None => None,
    };
    let access = AdminAccess::new(run.admin, token).map_err(|_| {
        anyhow::anyhow!(
            "--admin {} listens beyond loopback, so it needs --admin-token-file FILE (a file \
             holding a secret of at least 16 characters, for example from `openssl rand -hex \
             32`); or bind --admin to a loopback address such as 127.0.0.1:9901",
            run.admin
        )
    })?;
    if run.admin_metrics_auth && !access.has_token() {
        anyhow::bail!("--admin-metrics-auth needs --admin-token-file FILE");
    }
    Ok(access
        .with_allowed_hosts(run.admin_allowed_hosts.iter().cloned())
        .with_metrics_token(run.admin_metrics_auth))
}

/// Warns (as ssh does for keys, but without refusing: Kubernetes mounts Secrets 0644 unless
/// told otherwise) when the token file is readable by group or others.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "the admin token file is readable by group or others; chmod 600 it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The largest answer read from the admin server.
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// A connection target for the CLI: the admin address and, when given, the token.
pub struct AdminClient {
    admin: SocketAddr,
    token: Option<(AdminToken, PathBuf)>,
}

impl AdminClient {
    /// A client of the admin server at `admin`, reading the token from `token_file` now.
    pub fn new(admin: SocketAddr, token_file: Option<&Path>) -> anyhow::Result<AdminClient> {
        let token = match token_file {
            Some(path) => Some((AdminToken::read(path)?, path.to_owned())),
            None => None,
        };
        Ok(AdminClient { admin, token })
    }

    /// One request; the JSON answer, or an error naming the answer (with the server's `error`
    /// message when it sent one, and which flag to use on a 401).
    pub fn request(&self, method: &str, path: &str) -> anyhow::Result<Value> {
        let admin = self.admin;
        let mut stream = TcpStream::connect_timeout(&admin, Duration::from_secs(5))
            .with_context(|| format!("cannot connect to the admin server at {admin}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        // `X-Torii-Request` marks the request as not coming from a web page: a change without
        // a token needs it (see torii_admin::access).
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {admin}\r\nX-Torii-Request: 1\r\n\
             Content-Length: 0\r\nConnection: close\r\n"
        );
        if let Some((token, _)) = &self.token {
            head.push_str(&format!("Authorization: Bearer {}\r\n", token.expose()));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        let mut response = Vec::new();
        stream
            .take(MAX_ANSWER_BYTES)
            .read_to_end(&mut response)
            .context("cannot read the admin server's answer")?;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .context("the admin server sent no HTTP response")?;
        let head = String::from_utf8_lossy(&response[..split]);
        let body = &response[split + 4..];
        if head.starts_with("HTTP/1.1 401") {
            match &self.token {
                None => anyhow::bail!(
                    "the admin server at {admin} needs a token: pass --admin-token-file FILE \
                     (or set TORII_ADMIN_TOKEN_FILE) naming the file torii was started with"
                ),
                Some((_, file)) => anyhow::bail!(
                    "the admin server at {admin} refused the token in {}: it is not the one \
                     torii was started with (--admin-token-file)",
                    file.display()
                ),
            }
        }
        if !head.starts_with("HTTP/1.1 200") {
            let message = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
            match message {
                Some(message) => anyhow::bail!("{message}"),
                None => anyhow::bail!(
                    "the admin server answered {}",
                    head.lines().next().unwrap_or("")
                ),
            }
        }
        serde_json::from_slice(body).context("the admin server's answer is not JSON")
    }
}
