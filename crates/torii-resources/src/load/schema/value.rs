//! Reading YAML values the way the API server sees them, and field paths.

use serde_yaml_ng::Value;
use std::fmt;

/// A field path being walked: `spec.rules[0].backendRefs[1]`.
#[derive(Debug, Clone)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    /// The path of the top-level field `name`.
    pub fn root(name: &str) -> Self {
        FieldPath(name.to_owned())
    }

    /// The path of member `name` of this object.
    pub fn key(&self, name: &str) -> FieldPath {
        FieldPath(format!("{}.{name}", self.0))
    }

    /// The path of item `index` of this list.
    pub fn index(&self, index: usize) -> FieldPath {
        FieldPath(format!("{}[{index}]", self.0))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Member `name` of `value`, `None` when absent or null (the API server drops nulls).
pub(crate) fn get<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    value.get(name).filter(|v| !v.is_null())
}

/// Whether `value` has member `name` (CEL's `has()`).
pub(crate) fn has(value: &Value, name: &str) -> bool {
    get(value, name).is_some()
}

/// The items of list member `name` of `value` (none when absent).
pub(crate) fn items<'v>(value: &'v Value, name: &str) -> &'v [Value] {
    get(value, name)
        .and_then(Value::as_sequence)
        .map_or(&[], Vec::as_slice)
}

/// A scalar as the text the wire type read it as (`80` is `"80"` for a string field).
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// String member `name` of `value`, or `default` when absent (the CRD's default).
pub(crate) fn string_or(value: &Value, name: &str, default: &str) -> String {
    get(value, name)
        .and_then(text)
        .unwrap_or_else(|| default.to_owned())
}
