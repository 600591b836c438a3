//! Where `torii serve` reads resources: YAML files (`-f`, file mode) or a Kubernetes API
//! server (`--kubernetes`, Kubernetes mode). Both produce the same `LoadReport`s, applied by
//! the same loop.

use anyhow::Context;
use std::path::PathBuf;
use tokio::sync::mpsc;
use torii_resources::LoadReport;
use torii_source_file::FileSource;
use torii_source_kube::{KubeOptions, KubeSource, Stores};

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
    /// The `coordination.k8s.io` Lease replicas elect their leader with (Kubernetes mode):
    /// every replica serves, only the leader writes status.
    #[arg(long, env = "TORII_LEASE_NAME", default_value = "torii-leader")]
    pub lease_name: String,
    /// The Lease's namespace (default: the pod's, from `POD_NAMESPACE`, else `default`).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default", value_parser = parse_namespace)]
    pub lease_namespace: String,
    /// A Service `NAMESPACE/NAME` whose load-balancer addresses Gateways report in
    /// `status.addresses` (Kubernetes mode; default: the addresses each Gateway binds).
    #[arg(long, env = "TORII_PUBLISH_SERVICE", value_parser = parse_service)]
    pub publish_service: Option<(String, String)>,
}

/// `NAMESPACE/NAME` of a Service.
fn parse_service(text: &str) -> Result<(String, String), String> {
    let (namespace, name) = text
        .split_once('/')
        .ok_or_else(|| format!("invalid Service {text:?}: expected NAMESPACE/NAME"))?;
    let namespace = parse_namespace(namespace)?;
    let name = parse_namespace(name).map_err(|_| format!("invalid Service name {name:?}"))?;
    Ok((namespace, name))
}

/// What Kubernetes mode writes: leader election and status.
#[derive(Debug, Clone)]
pub struct KubeWrites {
    /// The Lease's namespace and name.
    pub lease: (String, String),
    /// `--publish-service`.
    pub publish_service: Option<(String, String)>,
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
    /// A Kubernetes API server, watched; status written back by the leader.
    Kubernetes(Box<(KubeOptions, KubeWrites)>),
}

/// A started source.
pub struct Started {
    /// The first report to apply.
    pub first: LoadReport,
    /// Every later change.
    pub changes: mpsc::Receiver<LoadReport>,
    /// Kubernetes mode: the watched objects (for the status writer) and what to write.
    pub kube: Option<(Stores, KubeWrites)>,
}

impl Source {
    /// The source the options ask for.
    pub fn from_args(args: SourceArgs) -> Source {
        if args.kubernetes {
            let writes = KubeWrites {
                lease: (args.lease_namespace, args.lease_name),
                publish_service: args.publish_service,
            };
            let options = KubeOptions {
                kubeconfig: args.kubeconfig,
                context: args.context,
                namespaces: args.namespaces,
                cache_dir: Some(args.cache_dir),
                secret_selector: args.secret_selector,
                secret_namespaces: args.secret_namespaces,
                ..KubeOptions::default()
            };
            Source::Kubernetes(Box::new((options, writes)))
        } else {
            Source::Files(FileSource::new(args.paths))
        }
    }

    /// What the source reads, for messages.
    pub fn describe(&self) -> String {
        match self {
            Source::Files(files) => format!("{:?}", files.paths()),
            Source::Kubernetes(kube) => match &kube.0.kubeconfig {
                Some(path) => format!("the API server of kubeconfig {}", path.display()),
                None => "the Kubernetes API server".to_owned(),
            },
        }
    }

    /// Starts the source: the first report to apply, and the reports of every later change.
    /// Watching starts before the first read, so no change made meanwhile is missed.
    pub async fn start(self) -> anyhow::Result<Started> {
        match self {
            Source::Files(files) => {
                let (first, changes) = files
                    .load_and_watch()
                    .context("cannot watch config files")?;
                Ok(Started {
                    first,
                    changes,
                    kube: None,
                })
            }
            Source::Kubernetes(kube) => {
                let (options, writes) = *kube;
                let namespaces = options.namespaces.clone();
                let source = KubeSource::new(options).await?;
                tracing::info!(
                    cluster = %source.cluster(),
                    ?namespaces,
                    "Kubernetes mode: reading resources from the API server"
                );
                let started = source.start().await?;
                Ok(Started {
                    first: started.first,
                    changes: started.reports,
                    kube: Some((started.stores, writes)),
                })
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
