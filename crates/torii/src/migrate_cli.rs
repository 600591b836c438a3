//! `torii rollout …` and `torii diff …`: people's view of migrations, over the admin API of a
//! running torii.

use crate::admin::AdminClient;
use serde_json::Value;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `torii rollout`.
#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    /// The admin server of the torii to ask.
    #[arg(long, default_value = "127.0.0.1:9901", global = true)]
    pub admin: SocketAddr,
    /// A file holding the admin API's token (the one torii was started with).
    #[arg(long, env = "TORII_ADMIN_TOKEN_FILE", global = true)]
    pub admin_token_file: Option<PathBuf>,
    /// Who gives the command (recorded in the rollout's history and events).
    #[arg(long, default_value = "torii CLI", global = true)]
    pub by: String,
    #[command(subcommand)]
    pub action: RolloutAction,
}

/// What to do with a rollout.
#[derive(Debug, clap::Subcommand)]
pub enum RolloutAction {
    /// Show every rollout (or one): phase, step, weight, the current step's figures, history.
    Status {
        /// `namespace/name` (namespace `default` when left out).
        name: Option<String>,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Hold the rollout on its step (failing gates still roll back).
    Pause {
        /// `namespace/name`.
        name: String,
    },
    /// Continue a paused rollout.
    Resume {
        /// `namespace/name`.
        name: String,
    },
    /// Move to the next step now (with `--full`: complete, all traffic on the candidate).
    Promote {
        /// `namespace/name`.
        name: String,
        /// Complete the rollout at once.
        #[arg(long)]
        full: bool,
    },
    /// Roll back: all traffic to the stable backend.
    Abort {
        /// `namespace/name`.
        name: String,
    },
    /// Start a rolled-back or aborted rollout again from its first step.
    Restart {
        /// `namespace/name`.
        name: String,
    },
}

/// Arguments of `torii diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The admin server of the torii to ask.
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub admin: SocketAddr,
    /// A file holding the admin API's token (the one torii was started with).
    #[arg(long, env = "TORII_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// A comparison or rollout (`namespace/name`); every one when left out.
    pub name: Option<String>,
    /// Show this sample diff of the comparison side by side.
    #[arg(long, requires = "name")]
    pub sample: Option<u64>,
    /// Print the raw JSON.
    #[arg(long)]
    pub json: bool,
}

fn qualified(name: &str) -> String {
    if name.contains('/') {
        name.to_owned()
    } else {
        format!("default/{name}")
    }
}

/// Percent-encodes a query value (only unreserved characters pass).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs `torii rollout`.
pub fn rollout(args: RolloutArgs) -> ExitCode {
    let client = match AdminClient::new(args.admin, args.admin_token_file.as_deref()) {
        Ok(client) => client,
        Err(error) => return finish(Err(error)),
    };
    let result = match &args.action {
        RolloutAction::Status { name, json } => {
            client.request("GET", "/api/v1/rollouts").map(|all| {
                let wanted = name.as_deref().map(qualified);
                let rollouts: Vec<&Value> = all["rollouts"]
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                let rollouts: Vec<&Value> = rollouts
                    .into_iter()
                    .filter(|r| wanted.as_deref().is_none_or(|w| r["name"] == w))
                    .collect();
                let warning = match all["stateDirError"].as_str() {
                    Some(error) => format!(
                        "warning: {error}; rollouts hold all traffic on their stable backends\n"
                    ),
                    None => String::new(),
                };
                if *json {
                    serde_json::to_string_pretty(&rollouts).unwrap_or_default() + "\n"
                } else if rollouts.is_empty() {
                    warning + "no rollouts running\n"
                } else {
                    warning
                        + &rollouts
                            .iter()
                            .map(|r| render_rollout(r))
                            .collect::<String>()
                }
            })
        }
        action => {
            let (name, verb) = match action {
                RolloutAction::Pause { name } => (name, "pause"),
                RolloutAction::Resume { name } => (name, "resume"),
                RolloutAction::Promote { name, full: false } => (name, "promote"),
                RolloutAction::Promote { name, full: true } => (name, "promote-full"),
                RolloutAction::Abort { name } => (name, "abort"),
                RolloutAction::Restart { name } => (name, "restart"),
                RolloutAction::Status { .. } => unreachable!("handled above"),
            };
            let path = format!(
                "/api/v1/rollouts/{}/{verb}?by={}",
                qualified(name),
                encode(&args.by)
            );
            client.request("POST", &path).map(|r| render_rollout(&r))
        }
    };
    finish(result)
}

fn finish(result: anyhow::Result<String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn render_rollout(r: &Value) -> String {
    let mut out = String::new();
    let text = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let _ = writeln!(
        out,
        "rollout {}: {} — {}\n  stable {} → candidate {}: weight {}%, mirroring {}, step {} of {}",
        text(&r["name"]),
        text(&r["phase"]),
        text(&r["describe"]),
        text(&r["stable"]),
        text(&r["candidate"]),
        text(&r["weight"]),
        if r["mirroring"] == true { "on" } else { "off" },
        r["step"].as_u64().map_or("-".to_owned(), |s| s.to_string()),
        text(&r["steps"]),
    );
    if !r["waiting"].is_null() {
        let _ = writeln!(out, "  waiting: {}", text(&r["waiting"]));
    }
    let w = &r["window"];
    if !w.is_null() {
        let p99 = |v: &Value| {
            v.as_f64()
                .map_or("-".to_owned(), |ms| format!("{ms:.1} ms"))
        };
        let _ = writeln!(
            out,
            "  this step: stable {} requests ({} errors, p99 {}), candidate {} requests ({} errors, p99 {}), {} compared ({} regressions)",
            text(&w["stable"]["requests"]),
            text(&w["stable"]["errors"]),
            p99(&w["stable"]["p99Ms"]),
            text(&w["candidate"]["requests"]),
            text(&w["candidate"]["errors"]),
            p99(&w["candidate"]["p99Ms"]),
            text(&w["compared"]),
            text(&w["regressions"]),
        );
    }
    if let Some(history) = r["history"].as_array() {
        for t in history.iter().take(5) {
            let _ = writeln!(out, "  - {} {}", text(&t["kind"]), text(&t["reason"]));
        }
    }
    out
}

/// Runs `torii diff`.
pub fn diff(args: DiffArgs) -> ExitCode {
    let result = (|| {
        let client = AdminClient::new(args.admin, args.admin_token_file.as_deref())?;
        if let (Some(name), Some(sample)) = (&args.name, args.sample) {
            let path = format!("/api/v1/diffs/{}/samples/{sample}", qualified(name));
            let value = client.request("GET", &path)?;
            if args.json {
                return Ok(serde_json::to_string_pretty(&value)? + "\n");
            }
            let sample: torii_compare::SampleDiff = serde_json::from_value(value)?;
            return Ok(torii_compare::render_sample(&sample));
        }
        let all = client.request("GET", "/api/v1/diffs")?;
        let wanted = args.name.as_deref().map(qualified);
        let mut out = String::new();
        for comparison in all["comparisons"].as_array().into_iter().flatten() {
            if wanted.as_deref().is_some_and(|w| comparison["name"] != w) {
                continue;
            }
            if args.json {
                out += &(serde_json::to_string_pretty(comparison)? + "\n");
                continue;
            }
            let _ = writeln!(
                out,
                "{} {} → {}: {} compared, {} regressions, {} noise only, {} shed",
                comparison["kind"].as_str().unwrap_or(""),
                comparison["name"].as_str().unwrap_or(""),
                comparison["candidate"].as_str().unwrap_or(""),
                comparison["compared"],
                comparison["regressions"],
                comparison["noise"],
                comparison["shed"],
            );
            let report: torii_compare::DiffReport =
                serde_json::from_value(comparison["report"].clone())?;
            out += &torii_compare::render_summary(&report);
            if report.endpoints.iter().any(|e| !e.samples.is_empty()) {
                let _ = writeln!(
                    out,
                    "view a sample side by side: {} diff --admin {} {} --sample ID",
                    crate::invocation::program(),
                    args.admin,
                    crate::invocation::quote(comparison["name"].as_str().unwrap_or("")),
                );
            }
            out.push('\n');
        }
        if out.is_empty() {
            out = "no comparisons\n".to_owned();
        }
        Ok(out)
    })();
    finish(result)
}
