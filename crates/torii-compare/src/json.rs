//! Structural comparison of JSON values, and bounded rendering of values.

use crate::compare::{Collector, DifferenceKind};
use crate::node::{Members, Node};
use crate::options::CompareOptions;
use crate::path::{FieldPath, SegmentRef};
use crate::redact::{Redaction, REDACTED};
use serde_json::Number;
use std::fmt::Write as _;

/// Compares two parsed JSON bodies into `out`.
pub(crate) fn compare_values(
    a: &Node<'_>,
    b: &Node<'_>,
    opts: &CompareOptions,
    out: &mut Collector,
) {
    Walker {
        opts,
        out,
        path: Vec::with_capacity(16),
    }
    .walk(a, b);
}

struct Walker<'v, 'o> {
    opts: &'o CompareOptions,
    out: &'o mut Collector,
    path: Vec<SegmentRef<'v>>,
}

impl<'v> Walker<'v, '_> {
    fn ignored(&self) -> bool {
        self.opts
            .ignored_json_paths
            .iter()
            .any(|pattern| pattern.matches(&self.path))
    }

    fn walk(&mut self, a: &'v Node<'_>, b: &'v Node<'_>) {
        if self.out.is_stopped() || self.ignored() {
            return;
        }
        match (a, b) {
            (Node::Object(x), Node::Object(y)) => {
                let (xs, ys) = (Members::new(x), Members::new(y));
                for (i, (key, left)) in x.iter().enumerate() {
                    if self.out.is_stopped() {
                        return;
                    }
                    self.path.push(SegmentRef::Key(key));
                    match ys.get(key, i) {
                        Some(right) => self.walk(left, right),
                        None => self.report(DifferenceKind::Missing, Some(left), None),
                    }
                    self.path.pop();
                }
                for (i, (key, right)) in y.iter().enumerate() {
                    if xs.get(key, i).is_none() {
                        self.path.push(SegmentRef::Key(key));
                        self.report(DifferenceKind::Added, None, Some(right));
                        self.path.pop();
                    }
                }
            }
            (Node::Array(x), Node::Array(y)) => {
                for i in 0..x.len().max(y.len()) {
                    if self.out.is_stopped() {
                        return;
                    }
                    self.path.push(SegmentRef::Index(i));
                    match (x.get(i), y.get(i)) {
                        (Some(left), Some(right)) => self.walk(left, right),
                        (left, right) => {
                            let kind = if left.is_some() {
                                DifferenceKind::Missing
                            } else {
                                DifferenceKind::Added
                            };
                            self.report(kind, left, right);
                        }
                    }
                    self.path.pop();
                }
            }
            (Node::Number(x), Node::Number(y)) => {
                if !numbers_equal(x, y) {
                    self.report(DifferenceKind::Changed, Some(a), Some(b));
                }
            }
            (Node::String(x), Node::String(y)) => {
                if x != y {
                    self.report(DifferenceKind::Changed, Some(a), Some(b));
                }
            }
            (Node::Bool(x), Node::Bool(y)) => {
                if x != y {
                    self.report(DifferenceKind::Changed, Some(a), Some(b));
                }
            }
            (Node::Null, Node::Null) => {}
            _ => self.report(DifferenceKind::TypeChanged, Some(a), Some(b)),
        }
    }

    fn report(&mut self, kind: DifferenceKind, a: Option<&Node<'_>>, b: Option<&Node<'_>>) {
        if self.ignored() || !self.out.accept() {
            return;
        }
        let redaction = &self.opts.redaction;
        let secret = self
            .path
            .iter()
            .any(|step| matches!(step, SegmentRef::Key(key) if redaction.is_secret_name(key)));
        let render = |value: &Node<'_>| {
            if secret {
                REDACTED.to_owned()
            } else {
                render_value(value, redaction, self.opts.max_value_len)
            }
        };
        let field = FieldPath::Json(self.path.iter().map(|step| step.to_segment()).collect());
        let (primary, other) = (a.map(render), b.map(render));
        self.out.push(field, kind, primary, other);
    }
}

/// Numbers compare by value: exactly as integers when both are, as floats otherwise.
fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// `value` as compact JSON of at most about `max` bytes, members with secret names redacted.
pub(crate) fn render_value(value: &Node<'_>, redaction: &Redaction, max: usize) -> String {
    let mut out = String::new();
    write_value(&mut out, value, redaction, max);
    shorten_in_place(&mut out, max);
    out
}

fn write_value(out: &mut String, value: &Node<'_>, redaction: &Redaction, max: usize) {
    if out.len() > max {
        return;
    }
    match value {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Node::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Node::String(s) => push_json_string(out, s),
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, redaction, max);
                if out.len() > max {
                    return;
                }
            }
            out.push(']');
        }
        Node::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, key);
                out.push(':');
                if redaction.is_secret_name(key) {
                    push_json_string(out, REDACTED);
                } else {
                    write_value(out, item, redaction, max);
                }
                if out.len() > max {
                    return;
                }
            }
            out.push('}');
        }
    }
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The largest char boundary of `s` at or below `at`.
pub(crate) fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// `text` cut to at most `max` bytes (on a char boundary), with `…` when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let mut out = text[..floor_char_boundary(text, max)].to_owned();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

fn shorten_in_place(text: &mut String, max: usize) {
    if text.len() > max {
        text.truncate(floor_char_boundary(text, max));
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn node(value: &Value) -> Node<'static> {
        let text = serde_json::to_string(value).expect("serializes");
        Node::parse(text.leak().as_bytes()).expect("valid JSON")
    }

    #[test]
    fn numbers_compare_by_value() {
        let cases = [
            (json!(1), json!(1.0), true),
            (json!(1), json!(2), false),
            (json!(-1), json!(u64::MAX), false),
            (json!(u64::MAX), json!(u64::MAX), true),
            (json!(0.5), json!(0.5), true),
            (json!(0.5), json!(0.25), false),
        ];
        for (a, b, equal) in cases {
            let (Value::Number(x), Value::Number(y)) = (&a, &b) else {
                unreachable!("numbers")
            };
            assert_eq!(numbers_equal(x, y), equal, "{a} vs {b}");
        }
    }

    #[test]
    fn values_render_bounded_and_redacted() {
        let redaction = Redaction::default();
        let value = node(&json!({"user": "ann", "password": "hunter2", "list": [1, 2, "x\"y"]}));
        assert_eq!(
            render_value(&value, &redaction, 200),
            r#"{"list":[1,2,"x\"y"],"password":"<redacted>","user":"ann"}"#
        );
        let long = node(&json!(["é".repeat(100)]));
        let short = render_value(&long, &redaction, 11);
        assert!(
            short.ends_with('…') && short.len() <= 11 + '…'.len_utf8(),
            "{short}"
        );
        assert_eq!(shorten("héllo", 2), "h…");
        assert_eq!(shorten("hi", 2), "hi");
    }
}
