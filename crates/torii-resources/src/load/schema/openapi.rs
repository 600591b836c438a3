//! The CRDs' OpenAPI constraints (`schema/crd-constraints.json`), checked on a document.

use super::value::{text, FieldPath};
use super::Violation;
use regex::Regex;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

/// The constraints, extracted from the v1.5.1 CRDs by `schema/extract.py`.
const CONSTRAINTS: &str = include_str!("../../../schema/crd-constraints.json");

/// One schema node as extracted.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawNode {
    pattern: Option<String>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    #[serde(rename = "enum")]
    enumeration: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    required: Vec<String>,
    unique: Option<Vec<String>>,
    #[serde(default)]
    properties: BTreeMap<String, RawNode>,
    items: Option<Box<RawNode>>,
    values: Option<Box<RawNode>>,
}

/// A version's schema, or the name of an earlier version with the same one.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawVersion {
    Same(String),
    Schema {
        spec: Box<RawNode>,
        #[allow(dead_code)]
        cel: Vec<serde_json::Value>,
    },
}

#[derive(Debug, Deserialize)]
struct RawConstraints {
    kinds: BTreeMap<String, BTreeMap<String, RawVersion>>,
}

/// One schema node, its pattern compiled.
#[derive(Debug, Default)]
pub(super) struct Node {
    pattern: Option<(String, Arc<Regex>)>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    enumeration: Option<Vec<String>>,
    required: Vec<String>,
    unique: Option<Vec<String>>,
    properties: HashMap<String, Node>,
    items: Option<Box<Node>>,
    values: Option<Box<Node>>,
}

impl Node {
    fn compile(raw: RawNode, patterns: &mut HashMap<String, Arc<Regex>>) -> Node {
        let pattern = raw.pattern.map(|p| {
            let regex = patterns
                .entry(p.clone())
                .or_insert_with(|| {
                    Arc::new(Regex::new(&p).expect("the CRDs' patterns are valid regexes"))
                })
                .clone();
            (p, regex)
        });
        Node {
            pattern,
            minimum: raw.minimum,
            maximum: raw.maximum,
            min_items: raw.min_items,
            max_items: raw.max_items,
            min_length: raw.min_length,
            max_length: raw.max_length,
            enumeration: raw.enumeration.map(|values| {
                values
                    .into_iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect()
            }),
            required: raw.required,
            unique: raw.unique,
            properties: raw
                .properties
                .into_iter()
                .map(|(name, node)| (name, Node::compile(node, patterns)))
                .collect(),
            items: raw.items.map(|n| Box::new(Node::compile(*n, patterns))),
            values: raw.values.map(|n| Box::new(Node::compile(*n, patterns))),
        }
    }
}

/// The `spec` schema of every (kind, version) served by the v1.5.1 CRDs.
type Schemas = HashMap<(String, String), Arc<Node>>;

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let raw: RawConstraints =
            serde_json::from_str(CONSTRAINTS).expect("the embedded CRD constraints are valid");
        let mut patterns = HashMap::new();
        let mut schemas = HashMap::new();
        for (kind, versions) in raw.kinds {
            let mut same = Vec::new();
            for (version, schema) in versions {
                match schema {
                    RawVersion::Schema { spec, .. } => {
                        let node = Arc::new(Node::compile(*spec, &mut patterns));
                        schemas.insert((kind.clone(), version), node);
                    }
                    RawVersion::Same(other) => same.push((version, other)),
                }
            }
            for (version, other) in same {
                let node = schemas
                    .get(&(kind.clone(), other))
                    .cloned()
                    .expect("a version is the same as one with a schema");
                schemas.insert((kind.clone(), version), node);
            }
        }
        schemas
    })
}

/// The `spec` schema of `kind` in `version`, if the CRDs serve that version.
pub(super) fn spec_schema(kind: &str, version: &str) -> Option<&'static Node> {
    schemas()
        .get(&(kind.to_owned(), version.to_owned()))
        .map(Arc::as_ref)
}

/// The versions the CRDs serve `kind` in.
#[cfg(test)]
pub(super) fn versions(kind: &str) -> Vec<String> {
    let mut versions: Vec<String> = schemas()
        .keys()
        .filter(|(k, _)| k == kind)
        .map(|(_, v)| v.clone())
        .collect();
    versions.sort();
    versions
}

/// A value as shown in a message: quoted, cut at 64 characters.
fn shown(text: &str) -> String {
    if text.chars().count() <= 64 {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(63).collect();
        format!("{:?}…", cut)
    }
}

fn push(out: &mut Vec<Violation>, field: &FieldPath, message: String) {
    out.push(Violation {
        field: field.to_string(),
        message,
    });
}

/// Checks `value` at `path` against `node`, recursively.
pub(super) fn check(node: &Node, value: &Value, path: &FieldPath, out: &mut Vec<Violation>) {
    match value {
        Value::Null => {}
        Value::Sequence(items) => {
            if let Some(max) = node.max_items.filter(|max| items.len() > *max) {
                push(
                    out,
                    path,
                    format!("must have at most {max} items, has {}", items.len()),
                );
            }
            if let Some(min) = node.min_items.filter(|min| items.len() < *min) {
                push(
                    out,
                    path,
                    format!("must have at least {min} item(s), has {}", items.len()),
                );
            }
            if let Some(keys) = &node.unique {
                let mut seen = HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    let key: Vec<Option<String>> = if keys.is_empty() {
                        vec![text(item)]
                    } else {
                        keys.iter()
                            .map(|k| item.get(k.as_str()).and_then(text))
                            .collect()
                    };
                    if !seen.insert(key.clone()) {
                        let what = if keys.is_empty() {
                            "value".to_owned()
                        } else {
                            format!("entry with {}", keys.join(", "))
                        };
                        let key: Vec<String> = key
                            .iter()
                            .map(|k| shown(k.as_deref().unwrap_or("")))
                            .collect();
                        push(
                            out,
                            &path.index(i),
                            format!("duplicate {what} {}", key.join(", ")),
                        );
                    }
                }
            }
            if let Some(item_node) = &node.items {
                for (i, item) in items.iter().enumerate() {
                    check(item_node, item, &path.index(i), out);
                }
            }
        }
        Value::Mapping(map) => {
            for name in &node.required {
                if map.get(name.as_str()).is_none_or(Value::is_null) {
                    push(out, &path.key(name), "missing required field".to_owned());
                }
            }
            for (key, member) in map {
                let Some(key) = key.as_str() else { continue };
                if let Some(member_node) = node.properties.get(key) {
                    check(member_node, member, &path.key(key), out);
                } else if let Some(values_node) = &node.values {
                    check(values_node, member, &path.key(key), out);
                }
            }
        }
        Value::Tagged(tagged) => check(node, &tagged.value, path, out),
        scalar => {
            if let Some(number) = scalar.as_f64() {
                if let Some(min) = node.minimum.filter(|min| number < *min) {
                    push(
                        out,
                        path,
                        format!("{number} is less than the minimum {min}"),
                    );
                }
                if let Some(max) = node.maximum.filter(|max| number > *max) {
                    push(
                        out,
                        path,
                        format!("{number} is greater than the maximum {max}"),
                    );
                }
            }
            let Some(text) = text(scalar) else { return };
            let length = text.chars().count();
            if let Some(max) = node.max_length.filter(|max| length > *max) {
                push(
                    out,
                    path,
                    format!("must be at most {max} characters long, is {length}"),
                );
            }
            if let Some(min) = node.min_length.filter(|min| length < *min) {
                push(
                    out,
                    path,
                    format!("must be at least {min} character(s) long, is {length}"),
                );
            }
            if let Some((source, regex)) = &node.pattern {
                if !regex.is_match(&text) {
                    push(
                        out,
                        path,
                        format!("{} does not match {source}", shown(&text)),
                    );
                }
            }
            if let Some(values) = &node.enumeration {
                if !values.contains(&text) {
                    push(
                        out,
                        path,
                        format!("{} is not one of {}", shown(&text), values.join(", ")),
                    );
                }
            }
        }
    }
}
