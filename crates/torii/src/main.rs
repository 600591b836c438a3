//! The `torii` binary: `serve`, `validate` and `demo`.

mod admin;
mod demo;
mod dns;
mod invocation;
mod kube_status;
mod lb;
mod logging;
mod metrics;
mod migrate_cli;
mod rollout;
mod serve;
mod source;
mod status;
mod summary;
mod validate;

use clap::{Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

/// The process allocator: mimalloc, whose thread-local free lists make the
/// per-request header maps and bodies cheap (glibc's malloc cost ~3k instructions
/// per proxied request in callgrind; see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for an invalid startup configuration (sysexits' EX_USAGE).
pub const EXIT_INVALID_CONFIG: u8 = 64;

/// Torii: a Gateway API proxy and global load balancer for VMs and Kubernetes clusters.
#[derive(Debug, Parser)]
#[command(name = "torii", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve Gateway API resources read from YAML files (`-f`) or a Kubernetes API server
    /// (`--kubernetes`), applying changes live.
    Serve(Box<serve::ServeArgs>),
    /// Check YAML files and print every problem with file, line, object and field.
    Validate(validate::ValidateArgs),
    /// Start a self-contained example: a gateway, two example apps, routes to try.
    Demo(Box<demo::DemoArgs>),
    /// Show a running torii's load balancers, pools and origin health (from its admin API).
    Status(status::StatusArgs),
    /// Show and drive progressive rollouts of a running torii (status, pause, resume,
    /// promote, abort, restart).
    Rollout(migrate_cli::RolloutArgs),
    /// Show what comparisons of mirrored traffic found: a summary per endpoint, or one sample
    /// side by side.
    Diff(migrate_cli::DiffArgs),
}

/// Options shared by `serve` and `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Admin server address (readyz, healthz, metrics, status, config, rollouts, diffs).
    /// Beyond loopback it needs `--admin-token-file`.
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub admin: SocketAddr,
    /// A file holding the admin API's secret token (at least 16 printable characters, for
    /// example from `openssl rand -hex 32`; keep it mode 0600). Changes and `/api/v1/*` reads
    /// then need `Authorization: Bearer <token>`; the CLI reads the same file.
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
    /// A host name the admin server answers to besides IP addresses and `localhost`
    /// (repeatable); requests with any other `Host` are refused (DNS rebinding).
    #[arg(long = "admin-allowed-host")]
    pub admin_allowed_hosts: Vec<torii_admin::AllowedHost>,
    /// Require the admin token on `/metrics` too (needs `--admin-token-file`).
    #[arg(long)]
    pub admin_metrics_auth: bool,
    /// Address for Gateways without `spec.addresses`.
    #[arg(long, default_value = "0.0.0.0")]
    pub default_address: IpAddr,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = logging::LogFormat::Text)]
    pub log_format: logging::LogFormat,
    /// Write one JSON access-log line per request to stdout.
    #[arg(long)]
    pub access_log: bool,
    /// How long a client may take to send a request's headers once it started them, and to
    /// send its first request on a new connection (slowloris protection).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub header_read_timeout: std::time::Duration,
    /// How long an idle keep-alive connection waits for its next request before it is closed.
    #[arg(long, default_value = "75s", value_parser = parse_duration)]
    pub keep_alive_timeout: std::time::Duration,
    /// How long SIGTERM waits for in-flight requests before exiting.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: std::time::Duration,
    /// A MaxMind-format (`.mmdb`) country or city database for geo and proximity steering.
    #[arg(long)]
    pub geoip_db: Option<PathBuf>,
    /// A proxy (address or CIDR) whose `X-Forwarded-For` gives the client address for
    /// steering (repeatable).
    #[arg(long = "trusted-proxy")]
    pub trusted_proxies: Vec<String>,
    /// Serve authoritative DNS for load-balancer hostnames on this address (UDP and TCP).
    #[arg(long)]
    pub dns: Option<SocketAddr>,
    /// A DNS zone served with `--dns` (repeatable); default: each load-balancer hostname is
    /// its own zone.
    #[arg(long = "dns-zone")]
    pub dns_zones: Vec<String>,
    /// A file holding the 16-byte key of session-affinity cookies as 32 hex digits (for
    /// example from `openssl rand -hex 16`). Instances that share it honour each other's
    /// cookies, and so does a restarted instance; without it each process draws its own.
    #[arg(long)]
    pub affinity_secret_file: Option<PathBuf>,
    /// Where rollout state is kept (one JSON file per rollout, written atomically, directory
    /// created with mode 0700), so that a restarted torii resumes each rollout at the step it
    /// was on and never puts traffic back on a candidate that failed.
    #[arg(long, default_value = "/var/lib/torii")]
    pub state_dir: PathBuf,
    /// How often origin DNS names are looked up again (a change re-applies the config).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub resolve_interval: std::time::Duration,
    /// What to do with `%2F`, `%5C` and `\` in request paths: `redirect` (decode them and
    /// redirect the client to the decoded path; gRPC gets 400), `reject` (400) or `keep`
    /// (forward them; only for backends known to keep them apart from `/`).
    #[arg(long, value_enum, default_value_t = EscapedSlashes::Redirect)]
    pub escaped_slashes: EscapedSlashes,
    /// A protocol whose `Upgrade` requests are forwarded (repeatable; default `websocket`).
    /// Other upgrades are served as plain requests; `h2c` is never forwarded.
    #[arg(long = "allow-upgrade", value_parser = parse_upgrade)]
    pub allow_upgrades: Vec<String>,
    /// How long a client may pause while sending a request body (then 408).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub request_body_timeout: std::time::Duration,
    /// How long an upstream may take to start its answer when the route sets no timeout,
    /// counted from the last request body bytes sent (then 504).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub upstream_response_timeout: std::time::Duration,
    /// How long an upstream may pause while sending a response body.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub stream_idle_timeout: std::time::Duration,
    /// The longest a request may take, response body included (WebSocket excepted).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub max_request_duration: std::time::Duration,
    /// How long a TCPRoute, TLS passthrough or WebSocket connection may stay silent.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub tcp_idle_timeout: std::time::Duration,
    /// Most client connections open at once in the process (accepting pauses beyond it).
    #[arg(long, default_value_t = 100_000)]
    pub max_connections: usize,
    /// Most client connections open at once on one listening address.
    #[arg(long, default_value_t = 100_000)]
    pub max_connections_per_listener: usize,
}

/// `--escaped-slashes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EscapedSlashes {
    /// Decode and redirect the client to the decoded path.
    Redirect,
    /// Answer 400.
    Reject,
    /// Forward unchanged.
    Keep,
}

impl From<EscapedSlashes> for torii_proxy::EscapedSlashes {
    fn from(value: EscapedSlashes) -> Self {
        match value {
            EscapedSlashes::Redirect => torii_proxy::EscapedSlashes::Redirect,
            EscapedSlashes::Reject => torii_proxy::EscapedSlashes::Reject,
            EscapedSlashes::Keep => torii_proxy::EscapedSlashes::Keep,
        }
    }
}

fn parse_upgrade(text: &str) -> Result<String, String> {
    let protocol = text.trim();
    if protocol.eq_ignore_ascii_case("h2c") {
        return Err("h2c upgrades are never forwarded (RFC 9113 §3.1 removed them)".into());
    }
    if protocol.is_empty() || !protocol.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(format!("invalid upgrade protocol {text:?}"));
    }
    Ok(protocol.to_string())
}

/// Paths given with `-f`.
#[derive(Debug, Clone, clap::Args)]
pub struct FileArgs {
    /// A YAML file or a directory of `*.yaml`/`*.yml` files (repeatable).
    #[arg(short = 'f', long = "filename", required = true)]
    pub paths: Vec<PathBuf>,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| text.split_at(i))
        .unwrap_or((text, "s"));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    match unit {
        "ms" => Ok(std::time::Duration::from_millis(value)),
        "s" => Ok(std::time::Duration::from_secs(value)),
        "m" => Ok(std::time::Duration::from_secs(value * 60)),
        "h" => Ok(std::time::Duration::from_secs(value * 3600)),
        _ => Err(format!("invalid duration {text:?}: use ms, s, m or h")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::main(*args),
        Command::Validate(args) => validate::main(args),
        Command::Demo(args) => demo::main(*args),
        Command::Status(args) => status::main(args),
        Command::Rollout(args) => migrate_cli::rollout(args),
        Command::Diff(args) => migrate_cli::diff(args),
    }
}
