//! The permission check at start: may torii `list` and `watch` everything it watches? Asked
//! with SelfSubjectAccessReviews (which every authenticated identity may create), so a
//! missing permission is one clear error naming each verb, resource and scope, and the
//! identity (from a SelfSubjectReview), instead of watches that retry a 403 forever.

use crate::kinds::WatchSpec;
use futures_util::StreamExt;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use std::fmt;
use torii_resources::Kind;

/// The verbs a watch needs.
const VERBS: [&str; 2] = ["list", "watch"];

/// How many reviews are asked at once.
const CONCURRENCY: usize = 8;

/// One permission: a verb on a resource, in a namespace or everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `list` or `watch`.
    pub verb: String,
    /// The resource (plural), e.g. `httproutes`.
    pub resource: String,
    /// The API group (empty for core).
    pub group: String,
    /// The namespace, or `None` for all namespaces (or a cluster-scoped resource).
    pub namespace: Option<String>,
    /// The one object's name, when the permission may be limited to it.
    pub name: Option<String>,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        if let Some(name) = &self.name {
            write!(f, " named {name}")?;
        }
        match &self.namespace {
            Some(namespace) => write!(f, " in namespace {namespace}"),
            None => Ok(()),
        }
    }
}

/// Permissions torii needs and does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MissingPermissions {
    /// Who torii is to the API server (a user or service account), when it could be learnt.
    pub identity: Option<String>,
    /// What is missing.
    pub missing: Vec<Permission>,
}

impl fmt::Display for MissingPermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let identity = self.identity.as_deref().unwrap_or("torii's identity");
        write!(f, "{identity} lacks permissions torii needs: ")?;
        for (i, permission) in self.missing.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{permission}")?;
        }
        f.write_str(" (grant them with torii's ClusterRole, see docs/kubernetes.md)")
    }
}

/// Why the check did not pass.
#[derive(Debug)]
pub(crate) enum CheckError {
    /// The API server could not be asked (try again later).
    Unreachable(kube::Error),
    /// The API server refused the credentials.
    Unauthorized(kube::Error),
    /// Permissions are missing.
    Missing(MissingPermissions),
}

/// The permissions `specs` need.
fn needed(specs: &[WatchSpec]) -> Vec<Permission> {
    let mut needed = Vec::new();
    for spec in specs {
        let (namespace, name) = match (spec.scope.kind, &spec.scope.namespace) {
            (Kind::Namespace, Some(name)) => (None, Some(name.clone())),
            (_, namespace) => (namespace.clone(), None),
        };
        for verb in VERBS {
            needed.push(Permission {
                verb: verb.to_owned(),
                resource: spec.resource.plural.clone(),
                group: spec.resource.group.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
            });
        }
    }
    needed
}

/// Checks every permission `specs` need.
pub(crate) async fn check(client: &kube::Client, specs: &[WatchSpec]) -> Result<(), CheckError> {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answers: Vec<(Permission, kube::Result<bool>)> = futures_util::stream::iter(needed(specs))
        .map(|permission| {
            let reviews = reviews.clone();
            async move {
                let allowed = allowed(&reviews, &permission).await;
                (permission, allowed)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut missing = Vec::new();
    for (permission, answer) in answers {
        match answer {
            Ok(true) => {}
            Ok(false) => missing.push(permission),
            Err(kube::Error::Api(status)) if status.code == 401 => {
                return Err(CheckError::Unauthorized(kube::Error::Api(status)));
            }
            Err(kube::Error::Api(status)) if status.is_forbidden() => {
                // Reviews themselves are not allowed: the watches will tell.
                tracing::warn!(message = %status.message, "cannot review torii's permissions");
                return Ok(());
            }
            Err(error) => return Err(CheckError::Unreachable(error)),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    missing.sort_by(|a, b| {
        (&a.group, &a.resource, &a.namespace, &a.verb).cmp(&(
            &b.group,
            &b.resource,
            &b.namespace,
            &b.verb,
        ))
    });
    Err(CheckError::Missing(MissingPermissions {
        identity: identity(client).await,
        missing,
    }))
}

/// Whether the API server allows `permission`.
async fn allowed(
    reviews: &Api<SelfSubjectAccessReview>,
    permission: &Permission,
) -> kube::Result<bool> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(permission.verb.clone()),
                group: Some(permission.group.clone()),
                resource: Some(permission.resource.clone()),
                namespace: permission.namespace.clone(),
                name: permission.name.clone(),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let answer = reviews.create(&PostParams::default(), &review).await?;
    Ok(answer.status.is_some_and(|status| status.allowed))
}

/// Torii's user name as the API server sees it (a SelfSubjectReview), if it says.
async fn identity(client: &kube::Client) -> Option<String> {
    let reviews: Api<SelfSubjectReview> = Api::all(client.clone());
    let answer = reviews
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .ok()?;
    answer.status?.user_info?.username
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::watches;
    use crate::KubeOptions;

    #[test]
    fn every_watch_needs_list_and_watch_in_its_scope() {
        let options = KubeOptions {
            namespaces: vec!["apps".into()],
            ..KubeOptions::default()
        };
        let needed = needed(&watches(&options, |_| None));
        let text: Vec<String> = needed.iter().map(ToString::to_string).collect();
        for expected in [
            "list httproutes.gateway.networking.k8s.io in namespace apps",
            "watch httproutes.gateway.networking.k8s.io in namespace apps",
            "list gatewayclasses.gateway.networking.k8s.io",
            "watch secrets in namespace apps",
            "list namespaces named apps",
            "watch originpools.torii.dev in namespace apps",
            "list endpointslices.discovery.k8s.io in namespace apps",
        ] {
            assert!(text.iter().any(|t| t == expected), "{expected} in {text:?}");
        }
        assert_eq!(needed.len(), 2 * (1 + 15));
    }

    #[test]
    fn missing_permissions_name_the_identity_and_each_permission() {
        let missing = MissingPermissions {
            identity: Some("system:serviceaccount:torii-system:torii".into()),
            missing: vec![
                Permission {
                    verb: "list".into(),
                    resource: "secrets".into(),
                    group: String::new(),
                    namespace: None,
                    name: None,
                },
                Permission {
                    verb: "watch".into(),
                    resource: "httproutes".into(),
                    group: "gateway.networking.k8s.io".into(),
                    namespace: Some("apps".into()),
                    name: None,
                },
            ],
        };
        assert_eq!(
            missing.to_string(),
            "system:serviceaccount:torii-system:torii lacks permissions torii needs: list secrets, \
             watch httproutes.gateway.networking.k8s.io in namespace apps (grant them with \
             torii's ClusterRole, see docs/kubernetes.md)"
        );
    }
}
