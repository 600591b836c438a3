//! Least privilege: with a ServiceAccount whose ClusterRole lacks a permission torii needs,
//! `torii serve --kubernetes` fails at start (exit 1) naming the identity and each missing
//! verb and resource; with exactly `list` and `watch` on what it reads, it serves (and,
//! without Lease permissions, says once that it cannot take part in leader election).

use crate::env::{self, KubeEnv};
use crate::support::{free_port, loopback, Torii};
use crate::{backend, gateway_and_route, service, wait_answer, yaml};
use std::net::SocketAddr;
use std::time::Duration;

/// A ClusterRole `torii-test` granting `list` and `watch` on everything torii reads, with
/// Secrets only when `secrets` is set; bound to ServiceAccount `torii-system/torii`.
fn role(secrets: bool) -> String {
    let secrets = if secrets { ", secrets" } else { "" };
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: torii-test}}
rules:
- apiGroups: [\"\"]
  resources: [namespaces, services{secrets}]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses, gateways, httproutes, grpcroutes, tlsroutes, tcproutes, referencegrants]
  verbs: [list, watch]
- apiGroups: [torii.dev]
  resources: [healthmonitors, originpools, loadbalancers, comparisons, rollouts]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: torii-test}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: torii-test}}
subjects: [{{kind: ServiceAccount, name: torii, namespace: torii-system}}]
"
    )
}

#[tokio::test]
async fn a_missing_permission_stops_the_start_with_a_clear_message() {
    if !env::available("a_missing_permission_stops_the_start_with_a_clear_message") {
        return;
    }
    let kube = KubeEnv::up().await;
    let ip = loopback();
    let http = SocketAddr::new(ip, free_port(ip));
    let a = backend("a").await;
    kube.apply(&yaml::docs(&[
        gateway_and_route(ip, http.port(), &[("/a", "a")]),
        service("a", &a),
    ]));
    let kubeconfig = kube.service_account_kubeconfig("torii-system", "torii");
    kube.apply(&role(false));

    let denied = Torii::spawn_kube(ip, &kubeconfig, None, &[]);
    let status = denied.wait_exit(Duration::from_secs(30)).await;
    let stderr = denied.stderr();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "exit 1 when a permission is missing; stderr:\n{stderr}"
    );
    for expected in [
        "system:serviceaccount:torii-system:torii lacks permissions torii needs",
        "list secrets",
        "watch secrets",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }
    assert!(
        !stderr.contains("list services"),
        "only what is missing is named:\n{stderr}"
    );
    eprintln!(
        "{}",
        stderr
            .lines()
            .find(|l| l.contains("lacks"))
            .unwrap_or_default()
    );

    // With exactly list and watch on what torii reads, the same identity serves.
    kube.apply(&role(true));
    let torii = Torii::start_kube(ip, &kubeconfig, &[]).await;
    wait_answer(http, "/a", "a").await;

    // The role has no Leases: the replica serves but never leads, and says so once.
    const FORBIDDEN: &str = "leader election is forbidden";
    assert!(
        torii.wait_stderr(FORBIDDEN, Duration::from_secs(10)).await,
        "the missing Lease permission is reported:\n{}",
        torii.stderr()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        torii.stderr().matches(FORBIDDEN).count(),
        1,
        "reported once"
    );
    wait_answer(http, "/a", "a").await;
}
