//! `torii status`: asks a running torii's admin server for `/api/v1/status` and prints the
//! load balancers, their pools and every origin's health (state, last check, RTT, reason).

use crate::admin::AdminClient;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `torii status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The admin server of the torii to ask.
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub admin: SocketAddr,
    /// A file holding the admin API's token (the one torii was started with).
    #[arg(long, env = "TORII_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Print the raw JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `torii status`.
pub fn main(args: StatusArgs) -> ExitCode {
    let status = AdminClient::new(args.admin, args.admin_token_file.as_deref())
        .and_then(|client| client.request("GET", "/api/v1/status"));
    match status {
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
