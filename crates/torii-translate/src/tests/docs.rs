//! `docs/resources.md`: every YAML example loads with the real loader and every object in it is
//! accepted, so the documented examples keep working.

use super::*;

const DOC: &str = include_str!("../../../../docs/resources.md");

/// The YAML blocks of the doc, in order.
fn yaml_blocks() -> Vec<&'static str> {
    let mut blocks = Vec::new();
    let mut rest = DOC;
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + "```yaml\n".len()..];
        let end = body.find("```").expect("the YAML block ends");
        blocks.push(&body[..end]);
        rest = &body[end..];
    }
    blocks
}

/// Every condition of every Gateway, listener and route parent is true (Conflicted false).
fn all_accepted(t: &Translation) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |what: String, conditions: &[Condition]| {
        for c in conditions {
            let ok = match c.type_ {
                "Conflicted" => c.status == ConditionStatus::False,
                _ => c.status == ConditionStatus::True,
            };
            if !ok {
                problems.push(format!("{what}: {c:?}"));
            }
        }
    };
    for g in &t.status.gateways {
        check(format!("Gateway {}", g.gateway), &g.conditions);
        for l in &g.listeners {
            check(
                format!("Gateway {} listener {}", g.gateway, l.name),
                &l.conditions,
            );
        }
    }
    for r in &t.status.routes {
        for p in &r.parents {
            check(
                format!("{} parent {}", r.route, p.parent_ref),
                &p.conditions,
            );
        }
    }
    problems
}

#[test]
fn every_documented_example_loads_and_is_accepted() {
    let blocks = yaml_blocks();
    assert_eq!(
        blocks.len(),
        4,
        "the Gateway, then GRPCRoute, TLSRoute and TCPRoute"
    );
    let (gateway, routes) = blocks.split_first().expect("blocks");
    for (route, kind) in routes
        .iter()
        .zip([RouteKind::Grpc, RouteKind::Tls, RouteKind::Tcp])
    {
        let mut report = torii_resources::LoadReport::default();
        let path = std::path::Path::new("docs/resources.md");
        torii_resources::parse_yaml(path, gateway, &mut report);
        torii_resources::parse_yaml(path, route, &mut report);
        assert_eq!(report.errors, [], "the example loads:\n{route}");
        assert_eq!(report.warnings, [], "every field is known:\n{route}");
        let t = translate(
            &report.set,
            &TranslateOptions {
                controller_name: "torii.dev/gateway-controller".into(),
                default_address: DEFAULT_ADDRESS,
            },
        );
        assert_eq!(all_accepted(&t), Vec::<String>::new(), "{route}");
        assert_eq!(t.status.routes.len(), 1, "{route}");
        assert_eq!(t.status.routes[0].route.kind, kind, "{route}");
        // Attached to its listener, and every backend resolved.
        let listeners: u32 = t
            .status
            .gateways
            .iter()
            .flat_map(|g| &g.listeners)
            .map(|l| l.attached_routes)
            .sum();
        assert_eq!(listeners, 1, "{route}");
    }
}
