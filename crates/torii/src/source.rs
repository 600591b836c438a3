//! Where `torii serve` reads resources: YAML files (`-f`, file mode) or a Kubernetes API
//! server (`--kubernetes`, Kubernetes mode). Both produce the same `LoadReport`s, applied by
//! the same loop.

use anyhow::Context;
use std::path::PathBuf;
use tokio::sync::mpsc;
use torii_resources::LoadReport;
use torii_source_file::FileSource;
use torii_source_kube::{KubeOptions, KubeSource};

/// The source options of `torii serve`.
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// A YAML file or a directory of `*.yaml`/`*.yml` files (repeatable): file mode.
    #[arg(
        short = 'f',
        long = "filename",
        required_unless_present = "kubernetes",
        conflicts_with_all = [
            "kubernetes",
            "kubeconfig",
            "context",
            "namespaces",
            "secret_selector",
            "secret_namespaces"
        ]
    )]
    pub paths: Vec<PathBuf>,
    /// Read the resources from a Kubernetes API server instead of files (Kubernetes mode), with
    /// the in-cluster service account unless a kubeconfig is given.
    #[arg(long)]
    pub kubernetes: bool,
    /// The kubeconfig file to use (Kubernetes mode; default: `KUBECONFIG` or `~/.kube/config`
    /// if present, else the in-cluster service account).
    #[arg(long, requires = "kubernetes")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of its current one (Kubernetes mode).
    #[arg(long, requires = "kubernetes")]
    pub context: Option<String>,
    /// Watch only this namespace (repeatable; Kubernetes mode; default: all namespaces).
    /// GatewayClasses are cluster-scoped and always watched.
    #[arg(long = "namespace", requires = "kubernetes", value_parser = parse_namespace)]
    pub namespaces: Vec<String>,
    /// Where Kubernetes mode keeps the last set read (mode 0700; it holds TLS keys), served
    /// when torii starts while the API server cannot be reached.
    #[arg(long, default_value = "/var/cache/torii")]
    pub cache_dir: PathBuf,
    /// A label selector limiting the Secrets watched (Kubernetes mode; they are always only
    /// `kubernetes.io/tls` Secrets), e.g. `torii.dev/certificate=true`.
    #[arg(long, requires = "kubernetes")]
    pub secret_selector: Option<String>,
    /// Watch Secrets only in this namespace (repeatable; Kubernetes mode), for RBAC that
    /// grants Secrets per namespace (the chart's `rbac.secretNamespaces`).
    #[arg(long = "secret-namespace", requires = "kubernetes", value_parser = parse_namespace)]
    pub secret_namespaces: Vec<String>,
}

/// A namespace name: a DNS-1123 label.
fn parse_namespace(text: &str) -> Result<String, String> {
    let valid = (1..=63).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "invalid namespace {text:?}: lowercase letters, digits and '-', at most 63"
        ))
    }
}

/// Where resources come from.
pub enum Source {
    /// YAML files and directories, watched.
    Files(FileSource),
    /// A Kubernetes API server, watched.
    Kubernetes(KubeOptions),
}

impl Source {
    /// The source the options ask for.
    pub fn from_args(args: SourceArgs) -> Source {
        if args.kubernetes {
            Source::Kubernetes(KubeOptions {
                kubeconfig: args.kubeconfig,
                context: args.context,
                namespaces: args.namespaces,
                cache_dir: Some(args.cache_dir),
                secret_selector: args.secret_selector,
                secret_namespaces: args.secret_namespaces,
                ..KubeOptions::default()
            })
        } else {
            Source::Files(FileSource::new(args.paths))
        }
    }

    /// What the source reads, for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Files(files) => format!("{:?}", files.paths()),
            Source::Kubernetes(options) => match &options.kubeconfig {
                Some(path) => format!("the API server of kubeconfig {}", path.display()),
                None => "the Kubernetes API server".to_owned(),
            },
        }
    }

    /// Starts the source: the first report to apply, and the reports of every later change.
    /// Watching starts before the first read, so no change made meanwhile is missed.
    pub async fn start(self) -> anyhow::Result<(LoadReport, mpsc::Receiver<LoadReport>)> {
        match self {
            Source::Files(files) => files.load_and_watch().context("cannot watch config files"),
            Source::Kubernetes(options) => {
                let namespaces = options.namespaces.clone();
                let source = KubeSource::new(options).await?;
                tracing::info!(
                    cluster = %source.cluster(),
                    ?namespaces,
                    "Kubernetes mode: reading resources from the API server"
                );
                let started = source.start().await?;
                Ok((started.first, started.reports))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_dns_labels() {
        let cases = [
            ("apps", true),
            ("team-a1", true),
            ("", false),
            ("Apps", false),
            ("-a", false),
            ("a-", false),
            ("a.b", false),
            (&"a".repeat(64), false),
        ];
        for (name, valid) in cases {
            assert_eq!(parse_namespace(name).is_ok(), valid, "{name:?}");
        }
    }
}
