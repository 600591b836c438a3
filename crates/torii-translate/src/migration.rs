//! torii's migration kinds: `Comparison` and `Rollout` → validated [`torii_config::migration`]
//! values, attached to the HTTPRoute rules they target, with `Accepted` and `ResolvedRefs`
//! conditions per object.
//!
//! An invalid object (`Accepted: False`, reason `Invalid`, the message naming the field) or
//! one whose references do not all resolve (`ResolvedRefs: False`: the route or rule, a
//! backend, a ReferenceGrant, a backend the rule does not have) is left out of the config, and
//! the rules it targets serve as if it did not exist. One object of each kind may target a
//! rule; of two, the oldest (creation time, then namespace/name) wins and the other is
//! `Accepted: False`, reason `Conflicted`. A `Comparison` on a rule that a `Rollout` drives
//! is `Conflicted` too: the rollout's own `compare` settings apply there.

use crate::backends::{backend_id_of, BackendRef, Backends, Referrer};
use crate::conditions::{reason, Problem};
use crate::index::{name_of, namespace_of, order_of};
use crate::lb::{accepted, invalid, names, TORII_GROUP};
use crate::notifications;
use spec::{affinity, analysis, settings, steps, wire_field};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use torii_config::status::StatusReport;
use torii_config::{
    BackendId, CompareSettings, Comparison, MigrationId, PoolId, Rollout, RouteId, RouteKind,
    RuleMigration,
};
use torii_resources::migration as wire;
use torii_resources::wire::HttpRoute as WireHttpRoute;
use torii_resources::ResourceSet;
use torii_rollout::RolloutPlan;

mod spec;

/// The Gateway API's group, the default of a `targetRef`'s.
const GATEWAY_GROUP: &str = crate::index::GATEWAY_GROUP;

/// The migration kinds of a resource set that apply.
#[derive(Debug, Default)]
pub(crate) struct Migrations {
    /// Applied comparisons.
    pub comparisons: BTreeMap<MigrationId, Arc<Comparison>>,
    /// Applied rollouts.
    pub rollouts: BTreeMap<MigrationId, Arc<Rollout>>,
    /// What each targeted rule carries.
    pub attachments: Attachments,
    /// The backends the applied objects name (they need a runtime even when no rule sends
    /// traffic to them).
    pub backends: Vec<BackendId>,
}

/// What the rules of HTTPRoutes carry, by route (`namespace`, `name`) and rule index.
#[derive(Debug, Default)]
pub(crate) struct Attachments(HashMap<(Arc<str>, Arc<str>), BTreeMap<usize, RuleMigration>>);

impl Attachments {
    /// What rule `index` of `route` carries (nothing for routes of other kinds).
    pub fn rule(&self, route: &RouteId, index: usize) -> RuleMigration {
        if route.kind != RouteKind::Http {
            return RuleMigration::default();
        }
        self.0
            .get(&(route.namespace.clone(), route.name.clone()))
            .and_then(|rules| rules.get(&index))
            .cloned()
            .unwrap_or_default()
    }

    fn rule_mut(&mut self, rule: &RuleKey) -> &mut RuleMigration {
        self.0
            .entry((rule.namespace.clone(), rule.route.clone()))
            .or_default()
            .entry(rule.index)
            .or_default()
    }
}

/// One rule of an HTTPRoute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RuleKey {
    namespace: Arc<str>,
    route: Arc<str>,
    index: usize,
}

/// Who holds a rule: the object attached to it.
type Claims = HashMap<RuleKey, MigrationId>;

/// What a `targetRef` selects: a route and some of its rules.
struct Target<'w> {
    route: &'w WireHttpRoute,
    /// `HTTPRoute namespace/name`, for messages.
    label: String,
    /// The targeted rules, by index (never empty).
    rules: Vec<usize>,
}

impl Target<'_> {
    fn keys(&self) -> impl Iterator<Item = RuleKey> + '_ {
        let namespace: Arc<str> = namespace_of(&self.route.metadata).into();
        let route: Arc<str> = name_of(&self.route.metadata).into();
        self.rules.iter().map(move |&index| RuleKey {
            namespace: namespace.clone(),
            route: route.clone(),
            index,
        })
    }

    /// `rule "api" (spec.rules[1]) of HTTPRoute default/shop`.
    fn describe(&self, index: usize) -> String {
        let rules = self.route.spec.rules.as_deref().unwrap_or_default();
        match rules.get(index).and_then(|r| r.name.as_deref()) {
            Some(name) => format!("rule {name:?} (spec.rules[{index}]) of {}", self.label),
            None => format!("spec.rules[{index}] of {}", self.label),
        }
    }

    /// The backends rule `index`'s backendRefs name (`None` for a ref that names none).
    fn rule_backends(&self, index: usize) -> Vec<Option<BackendId>> {
        let namespace = namespace_of(&self.route.metadata);
        let rules = self.route.spec.rules.as_deref().unwrap_or_default();
        rules
            .get(index)
            .and_then(|r| r.backend_refs.as_deref())
            .unwrap_or_default()
            .iter()
            .map(|r| backend_id_of(BackendRef::from(r), namespace))
            .collect()
    }
}

/// Translates every `Rollout` and `Comparison` of `set`, resolving their backends with
/// `backends`, recording one status per object in `status.migrations`.
pub(crate) fn translate(
    set: &ResourceSet,
    backends: &mut Backends<'_>,
    status: &mut StatusReport,
) -> Migrations {
    let routes: HashMap<(&str, &str), &WireHttpRoute> = set
        .http_routes
        .iter()
        .map(|r| {
            let meta = &r.object.metadata;
            ((namespace_of(meta), name_of(meta)), &r.object)
        })
        .collect();
    let mut out = Migrations::default();
    let mut rollout_claims = Claims::new();
    // Rollouts first: a Comparison on a rule a Rollout drives conflicts with it.
    let mut rollouts: Vec<_> = set.rollouts.iter().map(|l| &l.object).collect();
    rollouts.sort_by_cached_key(|o| order_of(&o.metadata));
    for object in rollouts {
        let (namespace, name) = names(&object.metadata);
        let id = MigrationId::new(namespace, name);
        let mut unresolved = Vec::new();
        let result = rollout(id.clone(), &object.spec, &routes, backends, &mut unresolved)
            .and_then(|built| {
                let Some((rollout, target)) = built.filter(|_| unresolved.is_empty()) else {
                    return Ok(None);
                };
                claim(&target, &id, &mut rollout_claims, |other| {
                    format!("is already driven by Rollout {other}")
                })?;
                Ok(Some((rollout, target)))
            });
        status.migrations.push(accepted(
            "Rollout",
            namespace,
            name,
            &object.metadata,
            result.as_ref().err(),
            Some(&unresolved),
        ));
        if let Ok(Some((rollout, target))) = result {
            let rollout = Arc::new(rollout);
            out.backends
                .extend([rollout.stable.clone(), rollout.candidate.clone()]);
            for key in target.keys() {
                out.attachments.rule_mut(&key).rollout = Some(rollout.clone());
            }
            out.rollouts.insert(id, rollout);
        }
    }
    let mut comparison_claims = Claims::new();
    let mut comparisons: Vec<_> = set.comparisons.iter().map(|l| &l.object).collect();
    comparisons.sort_by_cached_key(|o| order_of(&o.metadata));
    for object in comparisons {
        let (namespace, name) = names(&object.metadata);
        let id = MigrationId::new(namespace, name);
        let mut unresolved = Vec::new();
        let result = comparison(id.clone(), &object.spec, &routes, backends, &mut unresolved)
            .and_then(|built| {
                let Some((comparison, target)) = built.filter(|_| unresolved.is_empty()) else {
                    return Ok(None);
                };
                check(&target, &rollout_claims, |other| {
                    format!("is driven by Rollout {other}, whose spec.compare settings apply")
                })?;
                claim(&target, &id, &mut comparison_claims, |other| {
                    format!("is already compared by Comparison {other}")
                })?;
                Ok(Some((comparison, target)))
            });
        status.migrations.push(accepted(
            "Comparison",
            namespace,
            name,
            &object.metadata,
            result.as_ref().err(),
            Some(&unresolved),
        ));
        if let Ok(Some((comparison, target))) = result {
            let comparison = Arc::new(comparison);
            out.backends.extend(
                [&comparison.primary, &comparison.secondary]
                    .into_iter()
                    .flatten()
                    .chain([&comparison.candidate])
                    .cloned(),
            );
            for key in target.keys() {
                out.attachments.rule_mut(&key).comparison = Some(comparison.clone());
            }
            out.comparisons.insert(id, comparison);
        }
    }
    status
        .migrations
        .sort_by(|a, b| (a.kind, &a.namespace, &a.name).cmp(&(b.kind, &b.namespace, &b.name)));
    out
}

/// Checks that no rule of `target` is held by an object in `claims`, or says which holds one.
fn check(
    target: &Target<'_>,
    claims: &Claims,
    held: impl Fn(&MigrationId) -> String,
) -> Result<(), Problem> {
    for (key, &index) in target.keys().zip(&target.rules) {
        if let Some(other) = claims.get(&key) {
            return Err(Problem::new(
                reason::CONFLICTED,
                format!("spec.targetRef: {} {}", target.describe(index), held(other)),
            ));
        }
    }
    Ok(())
}

/// Claims every rule of `target` for `id` unless another object holds one of them (then
/// nothing is claimed).
fn claim(
    target: &Target<'_>,
    id: &MigrationId,
    claims: &mut Claims,
    held: impl Fn(&MigrationId) -> String,
) -> Result<(), Problem> {
    check(target, claims, held)?;
    for key in target.keys() {
        claims.insert(key, id.clone());
    }
    Ok(())
}

/// Resolves a `targetRef` written in `namespace`.
fn target<'w>(
    spec: &wire::TargetRefSpec,
    namespace: &str,
    routes: &HashMap<(&str, &str), &'w WireHttpRoute>,
) -> Result<Target<'w>, Problem> {
    let group = spec.group.as_deref().unwrap_or(GATEWAY_GROUP);
    if group != GATEWAY_GROUP || spec.kind != "HTTPRoute" {
        return Err(Problem::new(
            reason::INVALID_KIND,
            format!(
                "spec.targetRef: {group}/{} cannot be targeted (only gateway.networking.k8s.io/HTTPRoute)",
                spec.kind
            ),
        ));
    }
    let label = format!("HTTPRoute {namespace}/{}", spec.name);
    let route = routes
        .get(&(namespace, spec.name.as_str()))
        .copied()
        .ok_or_else(|| {
            Problem::new(
                reason::TARGET_NOT_FOUND,
                format!("spec.targetRef: {label} does not exist"),
            )
        })?;
    let rules = route.spec.rules.as_deref().unwrap_or_default();
    let selected: Vec<usize> = match &spec.section_name {
        None => (0..rules.len()).collect(),
        Some(section) => rules
            .iter()
            .position(|r| r.name.as_deref() == Some(section.as_str()))
            .into_iter()
            .collect(),
    };
    if selected.is_empty() {
        let message = match &spec.section_name {
            Some(section) => {
                format!("spec.targetRef.sectionName: {label} has no rule named {section:?}")
            }
            None => format!("spec.targetRef: {label} has no rules"),
        };
        return Err(Problem::new(reason::TARGET_NOT_FOUND, message));
    }
    Ok(Target {
        route,
        label,
        rules: selected,
    })
}

/// Resolves one backend of a migration object; a failure goes to `unresolved`.
fn resolve(
    backends: &mut Backends<'_>,
    referrer: Referrer<'_>,
    field: &str,
    spec: &wire::BackendObjectRefSpec,
    unresolved: &mut Vec<Problem>,
) -> Option<BackendId> {
    match backends.resolve_for(referrer, BackendRef::from(spec)) {
        Ok(id) => Some(id),
        Err(problem) => {
            unresolved.push(problem.context(field));
            None
        }
    }
}

/// Checks that two backend fields name different backends (`later` is the one reported).
fn distinct(
    namespace: &str,
    (earlier, earlier_spec): (&str, Option<&wire::BackendObjectRefSpec>),
    (later, later_spec): (&str, Option<&wire::BackendObjectRefSpec>),
) -> Result<(), Problem> {
    let id = |spec: Option<&wire::BackendObjectRefSpec>| {
        spec.and_then(|s| backend_id_of(BackendRef::from(s), namespace))
    };
    match (id(earlier_spec), id(later_spec)) {
        (Some(a), Some(b)) if a == b => Err(invalid(later, format!("must differ from {earlier}"))),
        _ => Ok(()),
    }
}

/// Reports each targeted rule that does not have the backend of `field` among its
/// backendRefs.
fn in_rules(
    target: &Target<'_>,
    namespace: &str,
    field: &str,
    spec: &wire::BackendObjectRefSpec,
    unresolved: &mut Vec<Problem>,
) {
    let Some(id) = backend_id_of(BackendRef::from(spec), namespace) else {
        return; // resolving it failed already
    };
    for &index in &target.rules {
        if !target.rule_backends(index).contains(&Some(id.clone())) {
            unresolved.push(Problem::new(
                reason::BACKEND_NOT_FOUND,
                format!(
                    "{field}: backend {id} is not a backendRef of {}",
                    target.describe(index)
                ),
            ));
        }
    }
}

/// `Comparison` → [`Comparison`] and its target; `None` when a reference did not resolve
/// (each is in `unresolved`).
fn comparison<'w>(
    id: MigrationId,
    spec: &wire::ComparisonSpec,
    routes: &HashMap<(&str, &str), &'w WireHttpRoute>,
    backends: &mut Backends<'_>,
    unresolved: &mut Vec<Problem>,
) -> Result<Option<(Comparison, Target<'w>)>, Problem> {
    let namespace = &*id.namespace;
    let referrer = Referrer {
        group: TORII_GROUP,
        kind: "Comparison",
        namespace,
        route_kind: RouteKind::Http,
    };
    let target = target(&spec.target_ref, namespace, routes).map_err(|p| unresolved.push(p));
    let mut backend = |field: &str, spec: Option<&wire::BackendObjectRefSpec>| {
        spec.map(|s| resolve(backends, referrer, field, s, unresolved))
    };
    let primary = backend("spec.primary", spec.primary.as_ref());
    let candidate = backend("spec.candidate", Some(&spec.candidate)).flatten();
    let secondary = backend("spec.secondary", spec.secondary.as_ref());
    if let (Ok(target), Some(primary)) = (&target, &spec.primary) {
        in_rules(target, namespace, "spec.primary", primary, unresolved);
    }
    let primary_ref = ("spec.primary", spec.primary.as_ref());
    let candidate_ref = ("spec.candidate", Some(&spec.candidate));
    let secondary_ref = ("spec.secondary", spec.secondary.as_ref());
    distinct(namespace, primary_ref, candidate_ref)?;
    distinct(namespace, primary_ref, secondary_ref)?;
    distinct(namespace, candidate_ref, secondary_ref)?;
    let settings = settings("spec", &comparison_settings(spec))?;
    let (Ok(target), Some(primary), Some(candidate), Some(secondary)) = (
        target,
        primary.map_or(Some(None), |p| p.map(Some)),
        candidate,
        secondary.map_or(Some(None), |s| s.map(Some)),
    ) else {
        return Ok(None);
    };
    let comparison = Comparison {
        id,
        primary,
        candidate,
        secondary,
        settings,
    };
    Ok(Some((comparison, target)))
}

/// The compare settings of a `Comparison`'s spec (the same fields as `Rollout.spec.compare`).
fn comparison_settings(spec: &wire::ComparisonSpec) -> wire::CompareSpec {
    wire::CompareSpec {
        sampling: spec.sampling.clone(),
        methods: spec.methods.clone(),
        ignore: spec.ignore.clone(),
        redact_headers: spec.redact_headers.clone(),
        normalize_text: spec.normalize_text,
        max_body_bytes: spec.max_body_bytes,
        max_concurrent: spec.max_concurrent,
        timeout: spec.timeout.clone(),
    }
}

/// `Rollout` → [`Rollout`] and its target; `None` when a reference did not resolve (each is
/// in `unresolved`).
fn rollout<'w>(
    id: MigrationId,
    spec: &wire::RolloutSpec,
    routes: &HashMap<(&str, &str), &'w WireHttpRoute>,
    backends: &mut Backends<'_>,
    unresolved: &mut Vec<Problem>,
) -> Result<Option<(Rollout, Target<'w>)>, Problem> {
    let namespace = &*id.namespace;
    let referrer = Referrer {
        group: TORII_GROUP,
        kind: "Rollout",
        namespace,
        route_kind: RouteKind::Http,
    };
    let target = target(&spec.target_ref, namespace, routes).map_err(|p| unresolved.push(p));
    let stable = resolve(
        backends,
        referrer,
        "spec.stableRef",
        &spec.stable_ref,
        unresolved,
    );
    let candidate = resolve(
        backends,
        referrer,
        "spec.candidateRef",
        &spec.candidate_ref,
        unresolved,
    );
    if let Ok(target) = &target {
        in_rules(
            target,
            namespace,
            "spec.stableRef",
            &spec.stable_ref,
            unresolved,
        );
        in_rules(
            target,
            namespace,
            "spec.candidateRef",
            &spec.candidate_ref,
            unresolved,
        );
        only_stable_and_candidate(target, namespace, spec, unresolved);
    }
    distinct(
        namespace,
        ("spec.stableRef", Some(&spec.stable_ref)),
        ("spec.candidateRef", Some(&spec.candidate_ref)),
    )?;
    let steps = steps(&spec.steps)?;
    let analysis = analysis(spec.analysis.as_ref())?;
    RolloutPlan::from_parts(&steps, &analysis)
        .map_err(|e| invalid(&wire_field(&e.field), e.message))?;
    let compare = match &spec.compare {
        None => CompareSettings::default(),
        Some(compare) => settings("spec.compare", compare)?,
    };
    let affinity = affinity(spec.session_affinity.as_ref())?;
    let specs = spec.notifications.as_deref().unwrap_or_default();
    if let Some(i) = specs.iter().position(|n| !n.pools.is_empty()) {
        return Err(invalid(
            &format!("spec.notifications[{i}].pools"),
            "a rollout's events belong to no pool; remove the filter",
        ));
    }
    let notifications = notifications::targets(specs, |_, name| PoolId::new(namespace, name))?;
    let (Ok(target), Some(stable), Some(candidate)) = (target, stable, candidate) else {
        return Ok(None);
    };
    let rollout = Rollout {
        id,
        stable,
        candidate,
        steps,
        analysis,
        compare,
        affinity,
        notifications,
    };
    Ok(Some((rollout, target)))
}

/// Reports targeted rules with backendRefs besides the stable and candidate backends: the
/// rollout sets the rule's weights, so there is no third backend to give a share to.
fn only_stable_and_candidate(
    target: &Target<'_>,
    namespace: &str,
    spec: &wire::RolloutSpec,
    unresolved: &mut Vec<Problem>,
) {
    let ours = [&spec.stable_ref, &spec.candidate_ref]
        .map(|s| backend_id_of(BackendRef::from(s), namespace));
    for &index in &target.rules {
        let backends = target.rule_backends(index);
        if let Some(j) = backends
            .iter()
            .position(|b| b.is_none() || !ours.contains(b))
        {
            unresolved.push(Problem::new(
                reason::UNSUPPORTED_VALUE,
                format!(
                    "spec.targetRef: {} has backendRefs[{j}] besides stableRef and candidateRef (a rollout's rule has only those two)",
                    target.describe(index)
                ),
            ));
        }
    }
}
