//! Reading objects given as JSON, as an API server serves them (Kubernetes mode, and the
//! cache of its last set), through the same wire types, defaulting and checks as YAML.

use super::document::{finish, WireObject};
use super::kind::Kind;
use super::message;
use super::without_status::WithoutStatus;
use super::{LoadError, LoadReport};
use crate::object::{decode_object, Decoder, Object};
use crate::origin::Origin;
use crate::set::{object_key, Located, ObjectKey};
use serde_json::Value;

/// What reading one object produced.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The object, or why it cannot be read.
    pub object: Result<Object, LoadError>,
    /// Problems that were reported and skipped (unknown fields).
    pub warnings: Vec<LoadError>,
}

/// Reads one object of `kind` from its JSON (`status` is ignored, unknown fields are
/// warnings); every problem points at `origin`.
pub fn decode_json(kind: Kind, value: &Value, origin: &Origin) -> Decoded {
    let mut warnings = Vec::new();
    let object = decode_object(
        kind,
        JsonDecoder {
            value,
            origin,
            warnings: &mut warnings,
        },
    );
    Decoded { object, warnings }
}

/// Reads objects with `apiVersion` and `kind` (as
/// [`ResourceSet::to_json_objects`](crate::ResourceSet::to_json_objects) writes them) into a
/// report; each object's origin is the API object it names.
pub fn parse_json_objects(values: &[Value]) -> LoadReport {
    let mut report = LoadReport::default();
    for value in values {
        let text_field = |field: &str| value.get(field).and_then(Value::as_str).unwrap_or("");
        let (api_version, kind_name) = (text_field("apiVersion"), text_field("kind"));
        let metadata = |field: &str| {
            value
                .get("metadata")
                .and_then(|m| m.get(field))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let key = ObjectKey {
            kind: kind_name.to_owned(),
            namespace: metadata("namespace"),
            name: metadata("name"),
        };
        let origin = Origin::api(key);
        let Some(kind) = Kind::of(api_version, kind_name) else {
            let message = format!("unknown kind in `{api_version}`, ignored");
            report.warnings.push(LoadError::new(origin, message));
            continue;
        };
        let decoded = decode_json(kind, value, &origin);
        report.warnings.extend(decoded.warnings);
        match decoded.object {
            Ok(object) => {
                let key = object_key(kind.name(), object.metadata());
                if report.seen.contains_key(&key) {
                    let message = "duplicate object".to_owned();
                    report.errors.push(LoadError::new(origin, message));
                    continue;
                }
                report.seen.insert(key, origin.clone());
                report.set.push(Located { object, origin });
            }
            Err(error) => report.errors.push(error),
        }
    }
    report
}

/// Reads one wire type from a JSON value.
struct JsonDecoder<'a> {
    value: &'a Value,
    origin: &'a Origin,
    warnings: &'a mut Vec<LoadError>,
}

impl JsonDecoder<'_> {
    fn error(&self, field: Option<String>, message: String) -> LoadError {
        LoadError {
            origin: self.origin.clone(),
            object: None,
            field,
            message,
        }
    }
}

impl Decoder for JsonDecoder<'_> {
    type Error = LoadError;

    fn decode<T: WireObject>(self, kind: Kind) -> Result<T, LoadError> {
        let mut unknown = Vec::new();
        let mut record = |path: serde_ignored::Path<'_>| unknown.push(message::ignored_path(&path));
        let result = serde_path_to_error::deserialize::<_, T>(serde_ignored::Deserializer::new(
            WithoutStatus(self.value),
            &mut record,
        ));
        for field in unknown {
            // The Gateway API types do not hold apiVersion and kind.
            if field != "apiVersion" && field != "kind" {
                let warning = self.error(Some(field), "unknown field, ignored".to_owned());
                self.warnings.push(warning);
            }
        }
        let mut object = result.map_err(|error| {
            let field = error.path().to_string();
            let field = (field != ".").then_some(field);
            self.error(field, error.inner().to_string())
        })?;
        finish(kind, &mut object)
            .map_err(|(field, message)| self.error(Some(field.to_owned()), message.to_owned()))?;
        Ok(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::ResourceSet;
    use serde_json::json;

    fn origin(kind: &str, namespace: &str, name: &str) -> Origin {
        Origin::api(ObjectKey {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        })
    }

    /// One object of every kind, as YAML (read by the file loader).
    const EVERY_KIND: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {team: a}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: apps, labels: {kubernetes.io/service-name: web}}
addressType: FQDN
endpoints: [{addresses: [web.localhost], conditions: {ready: true}}]
ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: apps}
type: kubernetes.io/tls
data: {tls.crt: Y2VydA==, tls.key: a2V5}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: torii}
spec: {controllerName: torii.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps, generation: 3, resourceVersion: "17"}
spec:
  gatewayClassName: torii
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: apps}
spec: {parentRefs: [{name: gw}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: tls, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [a.example], rules: [{backendRefs: [{name: web, port: 80}]}]}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp, namespace: apps}
spec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: web, port: 80}]}]}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: grant, namespace: apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other}]
  to: [{group: "", kind: Service}]
---
apiVersion: torii.dev/v1alpha1
kind: HealthMonitor
metadata: {name: check, namespace: apps}
spec: {type: http, path: /healthz, interval: 5s}
---
apiVersion: torii.dev/v1alpha1
kind: OriginPool
metadata: {name: vms, namespace: apps}
spec: {origins: [{name: a, address: "origin.localhost:8080"}], monitor: check}
---
apiVersion: torii.dev/v1alpha1
kind: LoadBalancer
metadata: {name: lb, namespace: apps}
spec: {hostnames: [www.example], defaultPools: [vms]}
---
apiVersion: torii.dev/v1alpha1
kind: Comparison
metadata: {name: cmp, namespace: apps}
spec:
  targetRef: {kind: HTTPRoute, name: web}
  candidate: {name: web, port: 80}
---
apiVersion: torii.dev/v1alpha1
kind: Rollout
metadata: {name: ro, namespace: apps}
spec:
  targetRef: {kind: HTTPRoute, name: web}
  stableRef: {name: web, port: 80}
  candidateRef: {name: web, port: 80}
  steps: [{weight: 50}]
"#;

    fn every_kind() -> ResourceSet {
        let mut report = LoadReport::default();
        crate::parse_yaml(std::path::Path::new("every.yaml"), EVERY_KIND, &mut report);
        assert!(report.is_ok(), "{:?}", report.errors);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(report.set.len(), Kind::ALL.len());
        report.set
    }

    #[test]
    fn a_set_round_trips_through_json_for_every_kind() {
        let set = every_kind();
        let objects: Vec<Value> = set
            .to_json_objects()
            .collect::<Result<_, _>>()
            .expect("every object serializes");
        let text = serde_json::to_string(&objects).expect("serializes");
        let values: Vec<Value> = serde_json::from_str(&text).expect("parses");
        let report = parse_json_objects(&values);
        assert!(report.is_ok(), "{:?}", report.errors);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let again: Vec<Value> = report
            .set
            .to_json_objects()
            .collect::<Result<_, _>>()
            .expect("every object serializes");
        assert_eq!(objects, again);
        // Every object's origin is the API object it names.
        let gateway = &report.set.gateways[0];
        assert_eq!(gateway.origin.to_string(), "Gateway apps/gw");
        assert_eq!(gateway.object.metadata.generation, Some(3));
        assert_eq!(
            report.set.namespaces[0].origin.to_string(),
            "Namespace apps"
        );
    }

    #[test]
    fn decodes_api_objects_with_the_loaders_checks() {
        struct Case {
            what: &'static str,
            kind: Kind,
            value: Value,
            /// The error (`origin: field: message`), if any.
            error: Option<&'static str>,
            /// The warnings.
            warnings: &'static [&'static str],
        }
        let cases = [
            Case {
                what: "status is not read (controllers write it)",
                kind: Kind::HttpRoute,
                value: json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                    "metadata": {"name": "web", "namespace": "apps"},
                    "spec": {}, "status": {"parents": "not even a list"}}),
                error: None,
                warnings: &[],
            },
            Case {
                what: "a field of the wrong type names the object and the field",
                kind: Kind::HttpRoute,
                value: json!({"metadata": {"name": "web", "namespace": "apps"},
                    "spec": {"rules": [{"backendRefs": [{"name": "a", "port": "eighty"}]}]}}),
                error: Some(
                    "HTTPRoute apps/web: spec.rules[0].backendRefs[0].port: invalid type: string \"eighty\", expected i32",
                ),
                warnings: &[],
            },
            Case {
                what: "unknown fields are warnings (torii.dev kinds may be served without a schema)",
                kind: Kind::OriginPool,
                value: json!({"apiVersion": "torii.dev/v1alpha1", "kind": "OriginPool",
                    "metadata": {"name": "vms", "namespace": "apps"},
                    "spec": {"origins": [], "colour": "red"}}),
                error: None,
                warnings: &["OriginPool apps/vms: spec.colour: unknown field, ignored"],
            },
            Case {
                what: "a missing required field",
                kind: Kind::OriginPool,
                value: json!({"metadata": {"name": "vms", "namespace": "apps"}, "spec": {}}),
                error: Some("OriginPool apps/vms: spec: missing field `origins`"),
                warnings: &[],
            },
            Case {
                what: "an object without a name",
                kind: Kind::Service,
                value: json!({"metadata": {"namespace": "apps"}}),
                error: Some(
                    "HTTPRoute apps/web: metadata.name: missing required field (the object's name)",
                ),
                warnings: &[],
            },
        ];
        for case in cases {
            let origin = origin("HTTPRoute", "apps", "web");
            let origin = match case.kind {
                Kind::OriginPool => self::origin("OriginPool", "apps", "vms"),
                _ => origin,
            };
            let decoded = decode_json(case.kind, &case.value, &origin);
            let error = decoded.object.as_ref().err().map(ToString::to_string);
            assert_eq!(error.as_deref(), case.error, "{}", case.what);
            let warnings: Vec<String> = decoded.warnings.iter().map(ToString::to_string).collect();
            assert_eq!(warnings, case.warnings, "{}", case.what);
            if let Ok(object) = &decoded.object {
                assert_eq!(object.kind(), case.kind, "{}", case.what);
            }
        }
    }

    #[test]
    fn namespaces_are_defaulted_and_dropped_like_the_api_server_does() {
        let origin = origin("Service", "", "web");
        let service = decode_json(
            Kind::Service,
            &json!({"metadata": {"name": "web"}}),
            &origin,
        );
        let service = service.object.expect("valid");
        assert_eq!(service.metadata().namespace.as_deref(), Some("default"));
        let class = json!({"metadata": {"name": "torii", "namespace": "x"},
            "spec": {"controllerName": "torii.dev/gateway-controller"}});
        let class = decode_json(Kind::GatewayClass, &class, &origin)
            .object
            .expect("valid");
        assert_eq!(class.metadata().namespace, None);
    }

    #[test]
    fn a_json_set_with_problems_reports_them() {
        let cases: &[(&str, usize, usize)] = &[
            ("[1]", 0, 1),
            (r#"[{"kind": "Service"}]"#, 0, 1),
            (
                r#"[{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}]"#,
                0,
                1,
            ),
            (
                r#"[{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}},
                    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}]"#,
                1,
                0,
            ),
        ];
        for (text, errors, warnings) in cases {
            let values: Vec<Value> = serde_json::from_str(text).expect("valid JSON");
            let report = parse_json_objects(&values);
            assert_eq!(report.errors.len(), *errors, "{text}: {:?}", report.errors);
            assert_eq!(
                report.warnings.len(),
                *warnings,
                "{text}: {:?}",
                report.warnings
            );
        }
    }
}
