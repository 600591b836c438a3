//! Reading one YAML document into a typed object of the [`ResourceSet`].
//!
//! A document is read twice: first into a [`Value`] to learn its `apiVersion`, `kind` and
//! name (so every later message can name the object), then straight from its text into the
//! wire type, so a type error carries the line and field path of the offending value.

use super::kind::{self, Kind, Lookup};
use super::split::Chunk;
use super::without_status::WithoutStatus;
use super::{locate, message, schema};
use super::{LoadError, LoadReport};
use crate::origin::Origin;
use crate::set::{Located, ObjectKey, ResourceSet};
use crate::wire::*;
use k8s_openapi::ByteString;
use serde::de::DeserializeOwned;
use serde_yaml_ng::{Mapping, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// The namespace of a namespaced object that names none.
const DEFAULT_NAMESPACE: &str = "default";

/// A wire type the loader reads: deserializable, with Kubernetes object metadata.
pub(crate) trait WireObject: DeserializeOwned {
    /// The object's metadata.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;

    /// Applies the API server's defaulting that file mode must imitate.
    fn normalize(&mut self) {}
}

macro_rules! wire_objects {
    ($($ty:ty),*) => {
        $(impl WireObject for $ty {
            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        })*
    };
}

wire_objects!(
    Namespace,
    Service,
    EndpointSlice,
    GatewayClass,
    Gateway,
    HttpRoute,
    GrpcRoute,
    TlsRoute,
    TcpRoute,
    ReferenceGrant,
    HealthMonitor,
    OriginPool,
    LoadBalancer,
    Comparison,
    Rollout
);

impl WireObject for Secret {
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }

    /// Merges `stringData` into `data` (a `stringData` key wins), like the API server's write.
    fn normalize(&mut self) {
        if let Some(string_data) = self.string_data.take() {
            let data = self.data.get_or_insert_with(Default::default);
            for (key, value) in string_data {
                data.insert(key, ByteString(value.into_bytes()));
            }
        }
    }
}

/// What is known about the document being read, for messages.
struct Context<'c, 'a> {
    chunk: &'c Chunk<'a>,
    /// The document as YAML values, for the schema checks.
    document: &'c Mapping,
    /// The version part of its `apiVersion`.
    version: &'c str,
    /// The document's origin (its first line of content).
    origin: Origin,
    /// The object's name for messages, e.g. `HTTPRoute default/foo`, once known.
    object: Option<String>,
}

impl Context<'_, '_> {
    /// A problem with the object at `line` (the document's line when `None`).
    /// A problem with `field`, placed on the field's line when it can be found.
    fn field_error(&self, field: &str, message: String) -> LoadError {
        let line = locate::field_line(self.chunk.text, self.chunk.first_line, field);
        self.error(line, Some(field), message)
    }

    fn error(&self, line: Option<usize>, field: Option<&str>, message: String) -> LoadError {
        LoadError {
            origin: Origin {
                file: self.origin.file.clone(),
                line: line.unwrap_or(self.origin.line),
                object: None,
            },
            object: self.object.clone(),
            field: field.map(str::to_owned),
            message,
        }
    }
}

/// Reads one document into `report`: an object, or errors and warnings.
pub(crate) fn parse(file: &Arc<PathBuf>, chunk: &Chunk<'_>, report: &mut LoadReport) {
    let origin = Origin {
        file: file.clone(),
        line: chunk.content_line,
        object: None,
    };
    let bare = |line: Option<usize>, message: String| LoadError {
        origin: Origin {
            file: file.clone(),
            line: line.unwrap_or(chunk.content_line),
            object: None,
        },
        object: None,
        field: None,
        message,
    };
    let value = match serde_yaml_ng::from_str::<Value>(chunk.text) {
        Ok(Value::Null) => return,
        Ok(Value::Mapping(map)) => map,
        Ok(_) => {
            let message = "document is not a mapping (an object with apiVersion and kind)";
            report.errors.push(bare(None, message.into()));
            return;
        }
        Err(error) => {
            let (line, message) = message::yaml_error(&error, chunk.first_line, None);
            report.errors.push(bare(line, message));
            return;
        }
    };
    let header = match Header::read(&value) {
        Ok(header) => header,
        Err((field, message)) => {
            let mut error = bare(None, message.into());
            error.field = Some(field.to_owned());
            report.errors.push(error);
            return;
        }
    };
    let mut cx = Context {
        chunk,
        document: &value,
        version: kind::split_api_version(&header.api_version).1,
        origin,
        object: None,
    };
    match kind::lookup(&header.api_version, &header.kind) {
        Lookup::Known(known) => {
            cx.object = Some(header.label(Some(known.namespaced())));
            read_known(known, &cx, report);
        }
        Lookup::UnsupportedVersion { supported } => {
            cx.object = Some(header.label(None));
            let message = format!(
                "unsupported apiVersion `{}` for kind {} (expected {supported})",
                header.api_version, header.kind
            );
            report
                .errors
                .push(cx.error(None, Some("apiVersion"), message));
        }
        Lookup::Unsupported => {
            cx.object = Some(header.label(None));
            let message = format!("unsupported kind in `{}`, ignored", header.api_version);
            report.warnings.push(cx.error(None, None, message));
        }
        Lookup::Unknown => {
            cx.object = Some(header.label(None));
            let message = format!("unknown kind in `{}`, ignored", header.api_version);
            report.warnings.push(cx.error(None, None, message));
        }
    }
}

/// Reads a document of a known kind into its list in the set.
fn read_known(known: Kind, cx: &Context<'_, '_>, report: &mut LoadReport) {
    match known {
        Kind::Namespace => read(known, cx, report, |s| &mut s.namespaces),
        Kind::Service => read(known, cx, report, |s| &mut s.services),
        Kind::Secret => read(known, cx, report, |s| &mut s.secrets),
        Kind::EndpointSlice => read(known, cx, report, |s| &mut s.endpoint_slices),
        Kind::GatewayClass => read(known, cx, report, |s| &mut s.gateway_classes),
        Kind::Gateway => read(known, cx, report, |s| &mut s.gateways),
        Kind::HttpRoute => read(known, cx, report, |s| &mut s.http_routes),
        Kind::GrpcRoute => read(known, cx, report, |s| &mut s.grpc_routes),
        Kind::TlsRoute => read(known, cx, report, |s| &mut s.tls_routes),
        Kind::TcpRoute => read(known, cx, report, |s| &mut s.tcp_routes),
        Kind::ReferenceGrant => read(known, cx, report, |s| &mut s.reference_grants),
        Kind::HealthMonitor => read(known, cx, report, |s| &mut s.health_monitors),
        Kind::OriginPool => read(known, cx, report, |s| &mut s.origin_pools),
        Kind::LoadBalancer => read(known, cx, report, |s| &mut s.load_balancers),
        Kind::Comparison => read(known, cx, report, |s| &mut s.comparisons),
        Kind::Rollout => read(known, cx, report, |s| &mut s.rollouts),
    }
}

/// Deserializes the document as `T`, normalizes its metadata, and adds it to `list` unless an
/// object with the same key was already loaded.
fn read<T: WireObject>(
    known: Kind,
    cx: &Context<'_, '_>,
    report: &mut LoadReport,
    list: fn(&mut ResourceSet) -> &mut Vec<Located<T>>,
) {
    let mut object = match decode::<T>(cx, report) {
        Ok(object) => object,
        Err(error) => {
            report.errors.push(error);
            return;
        }
    };
    // What the API server refuses at admission is refused here too, whatever the object
    // attaches to; the object is left out like one that did not decode.
    let violations = schema::check(known, cx.version, cx.document);
    if !violations.is_empty() {
        for violation in violations {
            let error = cx.field_error(&violation.field, violation.message);
            report.errors.push(error);
        }
        return;
    }
    let key = match finish(known, &mut object) {
        Ok(key) => key,
        Err((field, message)) => {
            report
                .errors
                .push(cx.error(None, Some(field), message.to_owned()));
            return;
        }
    };
    if let Some(first) = report.seen.get(&key) {
        let message = format!("duplicate object, already defined at {first}");
        report.errors.push(cx.error(None, None, message));
        return;
    }
    report.seen.insert(key, cx.origin.clone());
    list(&mut report.set).push(Located {
        object,
        origin: cx.origin.clone(),
    });
}

/// Applies the API server's defaulting (`normalize`), checks the name, and sets the
/// namespace (`default` for a namespaced object without one; none for cluster-scoped kinds):
/// the object's key, or the field and message of what is wrong.
pub(crate) fn finish<T: WireObject>(
    known: Kind,
    object: &mut T,
) -> Result<ObjectKey, (&'static str, &'static str)> {
    object.normalize();
    let meta = object.metadata_mut();
    let Some(name) = meta.name.clone().filter(|n| !n.is_empty()) else {
        return Err((
            "metadata.name",
            "missing required field (the object's name)",
        ));
    };
    if known.namespaced() {
        if meta.namespace.as_deref().is_none_or(str::is_empty) {
            meta.namespace = Some(DEFAULT_NAMESPACE.to_owned());
        }
    } else {
        // Cluster-scoped: the API server ignores a namespace.
        meta.namespace = None;
    }
    Ok(ObjectKey {
        kind: known.name().to_owned(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        name,
    })
}

/// Deserializes the document's text as `T`, without its `status`; unknown fields become
/// warnings in `report`.
fn decode<T: DeserializeOwned>(
    cx: &Context<'_, '_>,
    report: &mut LoadReport,
) -> Result<T, LoadError> {
    let mut unknown = Vec::new();
    let mut record = |path: serde_ignored::Path<'_>| unknown.push(message::ignored_path(&path));
    let deserializer = serde_yaml_ng::Deserializer::from_str(cx.chunk.text);
    let result = serde_path_to_error::deserialize::<_, T>(serde_ignored::Deserializer::new(
        WithoutStatus(deserializer),
        &mut record,
    ));
    for field in unknown {
        // The Gateway API types do not hold apiVersion and kind; they were read already.
        if field != "apiVersion" && field != "kind" {
            let message = "unknown field, ignored".to_owned();
            report.warnings.push(cx.error(None, Some(&field), message));
        }
    }
    result.map_err(|error| {
        let field = error.path().to_string();
        let field = (field != ".").then_some(field);
        let (line, message) =
            message::yaml_error(error.inner(), cx.chunk.first_line, field.as_deref());
        cx.error(line, field.as_deref(), message)
    })
}

/// The fields every object has, read before its type is known.
struct Header {
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: Option<String>,
}

impl Header {
    /// Reads `apiVersion` and `kind` (required strings) and the name and namespace if present.
    fn read(map: &Mapping) -> Result<Header, (&'static str, &'static str)> {
        let required = |field: &'static str| match map.get(field) {
            None | Some(Value::Null) => Err((field, "missing required field")),
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err((field, "must not be empty")),
            Some(_) => Err((field, "invalid type: expected a string")),
        };
        let metadata = |field: &str| {
            map.get("metadata")?
                .get(field)?
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(Header {
            api_version: required("apiVersion")?,
            kind: required("kind")?,
            namespace: metadata("namespace"),
            name: metadata("name"),
        })
    }

    /// The object's name for messages: `Kind namespace/name`. `namespaced` says whether the
    /// kind is namespaced (then a missing namespace is `default`), `None` when not known.
    fn label(&self, namespaced: Option<bool>) -> String {
        let namespace = match (namespaced, &self.namespace) {
            (Some(false), _) => None,
            (Some(true), None) => Some(DEFAULT_NAMESPACE),
            (_, namespace) => namespace.as_deref(),
        };
        match (namespace, &self.name) {
            (_, None) => self.kind.clone(),
            (Some(namespace), Some(name)) => format!("{} {namespace}/{name}", self.kind),
            (None, Some(name)) => format!("{} {name}", self.kind),
        }
    }
}
