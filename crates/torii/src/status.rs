//! `torii status`: asks a running torii's admin server for `/api/v1/status` and prints the
//! load balancers, their pools and every origin's health (state, last check, RTT, reason).

use anyhow::Context;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `torii status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The admin server of the torii to ask.
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub admin: SocketAddr,
    /// Print the raw JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// The largest status document read.
const MAX_STATUS_BYTES: u64 = 64 * 1024 * 1024;

/// Runs `torii status`.
pub fn main(args: StatusArgs) -> ExitCode {
    match fetch(args.admin) {
        Ok(status) if args.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&status).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(status) => {
            print!("{}", render(&status));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn fetch(admin: SocketAddr) -> anyhow::Result<Value> {
    admin_request(admin, "GET", "/api/v1/status")
}

/// One request to the admin server; the JSON answer, or an error naming the answer (with
/// the server's `error` message when it sent one).
pub fn admin_request(admin: SocketAddr, method: &str, path: &str) -> anyhow::Result<Value> {
    let mut stream = TcpStream::connect_timeout(&admin, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to the admin server at {admin}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {admin}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream
        .take(MAX_STATUS_BYTES)
        .read_to_end(&mut response)
        .context("cannot read the status")?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the admin server sent no HTTP response")?;
    let head = String::from_utf8_lossy(&response[..split]);
    if !head.starts_with("HTTP/1.1 200") {
        let message = serde_json::from_slice::<Value>(&response[split + 4..])
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
    serde_json::from_slice(&response[split + 4..]).context("the status is not JSON")
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            format!("{:.3}", n.as_f64().unwrap_or_default())
        }
        other => other.to_string(),
    }
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    out.push_str(&line(header.to_vec()));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
}

/// The tables printed for a status document.
fn render(status: &Value) -> String {
    let mut out = format!("generation {}\n\n", text(&status["generation"]));
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for lb in status["loadBalancers"].as_array().into_iter().flatten() {
        let name = text(&lb["loadBalancer"]);
        for pool in lb["pools"].as_array().into_iter().flatten() {
            let pool_name = text(&pool["pool"]);
            let active = lb["activePool"].as_str() == Some(pool_name.as_str());
            rows.push(vec![
                name.clone(),
                pool_name,
                text(&pool["healthy"]),
                format!(
                    "{}/{} (min {})",
                    text(&pool["healthyOrigins"]),
                    text(&pool["origins"]),
                    text(&pool["minimumOrigins"])
                ),
                if active { "active" } else { "" }.to_owned(),
            ]);
        }
        for note in lb["notes"].as_array().into_iter().flatten() {
            notes.push(format!("{name}: {}", text(note)));
        }
    }
    if !rows.is_empty() {
        table(
            &mut out,
            &["LOAD BALANCER", "POOL", "HEALTHY", "ORIGINS", "STEERING"],
            &rows,
        );
        for note in notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out.push('\n');
    }
    let mut rows = Vec::new();
    for origin in status["origins"].as_array().into_iter().flatten() {
        let state = if origin["ejected"] == Value::Bool(true) {
            "ejected".to_owned()
        } else if origin["healthy"] == Value::Bool(true) {
            "healthy".to_owned()
        } else {
            "unhealthy".to_owned()
        };
        rows.push(vec![
            text(&origin["key"]),
            text(&origin["address"]),
            state,
            text(&origin["activeState"]),
            text(&origin["lastCheck"]),
            text(&origin["smoothedRttMs"]),
            text(&origin["reason"]),
        ]);
    }
    if rows.is_empty() {
        out.push_str("no origins\n");
    } else {
        table(
            &mut out,
            &[
                "ORIGIN",
                "ADDRESS",
                "STATE",
                "MONITOR",
                "LAST CHECK",
                "RTT MS",
                "REASON",
            ],
            &rows,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_load_balancers_and_origins() {
        let status = serde_json::json!({
            "generation": 3,
            "loadBalancers": [{
                "loadBalancer": "default/app", "activePool": "default/backup",
                "notes": ["no --geoip-db"],
                "pools": [
                    {"pool": "default/primary", "healthy": false, "healthyOrigins": 0, "origins": 1, "minimumOrigins": 1},
                    {"pool": "default/backup", "healthy": true, "healthyOrigins": 1, "origins": 1, "minimumOrigins": 1}
                ]
            }],
            "origins": [
                {"key": "default/primary/vm-1", "address": "127.0.0.1:9", "healthy": false, "ejected": false,
                 "activeState": "unhealthy", "lastCheck": "2026-12-01T10:00:00Z", "smoothedRttMs": null, "reason": "connect refused"}
            ]
        });
        let text = render(&status);
        assert!(text.contains("generation 3"), "{text}");
        assert!(text.contains("default/app"), "{text}");
        let backup = text
            .lines()
            .find(|l| l.contains("default/backup"))
            .unwrap_or_default();
        assert!(backup.ends_with("active"), "{text}");
        let origin = text
            .lines()
            .find(|l| l.contains("vm-1"))
            .unwrap_or_default();
        assert!(
            origin.contains("unhealthy") && origin.contains("connect refused"),
            "{text}"
        );
        assert!(text.contains("note: default/app: no --geoip-db"), "{text}");
    }
}
