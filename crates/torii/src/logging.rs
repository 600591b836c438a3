//! Logging to stderr, `RUST_LOG`-style filter, text or JSON.

use tracing_subscriber::EnvFilter;

/// The log line format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The filter when `RUST_LOG` is not set: `info`, without kube-rs's line per failed API
/// request (Kubernetes mode logs each failing watch with its kind instead).
const DEFAULT_FILTER: &str = "info,kube_client::client::builder=off";

/// Installs the global subscriber.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
