//! The client configuration: a kubeconfig (a file given, or `KUBECONFIG`/`~/.kube/config`
//! with a context) or the in-cluster service account, as `kube::Config::infer` does when
//! nothing is given.

use crate::{KubeError, KubeOptions};
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

/// The configuration `options` ask for.
pub(crate) async fn config(options: &KubeOptions) -> Result<Config, KubeError> {
    let kubeconfig_options = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let failed = |from: String| {
        move |source: Box<dyn std::error::Error + Send + Sync>| KubeError::Config { from, source }
    };
    match (&options.kubeconfig, &options.context) {
        (Some(path), _) => {
            let from = format!("kubeconfig {}", path.display());
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|e| failed(from.clone())(e.into()))?;
            Config::from_custom_kubeconfig(kubeconfig, &kubeconfig_options)
                .await
                .map_err(|e| failed(from)(e.into()))
        }
        (None, Some(context)) => Config::from_kubeconfig(&kubeconfig_options)
            .await
            .map_err(|e| failed(format!("the default kubeconfig (context {context})"))(e.into())),
        (None, None) => Config::infer().await.map_err(|e| {
            failed("the default kubeconfig or the in-cluster service account".into())(e.into())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: "https://127.0.0.1:6443"}
- name: two
  cluster: {server: "https://127.0.0.2:7443"}
users:
- name: admin
  user: {token: abc}
contexts:
- name: first
  context: {cluster: one, user: admin, namespace: apps}
- name: second
  context: {cluster: two, user: admin}
current-context: first
"#;

    #[tokio::test]
    async fn the_kubeconfig_and_context_given_are_used() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, KUBECONFIG).expect("write kubeconfig");
        let cases: &[(Option<&str>, Result<&str, &str>)] = &[
            (None, Ok("https://127.0.0.1:6443/")),
            (Some("second"), Ok("https://127.0.0.2:7443/")),
            (
                Some("third"),
                Err("cannot load the Kubernetes client configuration from kubeconfig"),
            ),
        ];
        for (context, expected) in cases {
            let options = KubeOptions {
                kubeconfig: Some(path.clone()),
                context: context.map(str::to_owned),
                ..KubeOptions::default()
            };
            let got = config(&options).await;
            match (got, expected) {
                (Ok(config), Ok(url)) => assert_eq!(config.cluster_url.to_string(), *url),
                (Err(error), Err(message)) => {
                    assert!(error.to_string().starts_with(message), "{error}")
                }
                (got, _) => panic!("{context:?}: unexpected {:?}", got.map(|c| c.cluster_url)),
            }
        }
        let missing = KubeOptions {
            kubeconfig: Some(PathBuf::from("/nonexistent/kubeconfig")),
            ..KubeOptions::default()
        };
        let error = config(&missing).await.expect_err("no such file");
        assert_eq!(
            error.to_string(),
            "cannot load the Kubernetes client configuration from kubeconfig /nonexistent/kubeconfig"
        );
    }
}
