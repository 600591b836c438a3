//! Where two responses differ ([`FieldPath`]) and which JSON fields to ignore ([`JsonPath`]).

use crate::error::{InvalidFieldPath, InvalidJsonPath};
use http::HeaderName;
use std::fmt::{self, Write as _};
use std::str::FromStr;

/// One step into a JSON value: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JsonSegment {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// A borrowed [`JsonSegment`], used while walking a value (no allocation per node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegmentRef<'a> {
    Key(&'a str),
    Index(usize),
}

impl SegmentRef<'_> {
    pub(crate) fn to_segment(self) -> JsonSegment {
        match self {
            SegmentRef::Key(key) => JsonSegment::Key(key.to_owned()),
            SegmentRef::Index(index) => JsonSegment::Index(index),
        }
    }
}

/// Where a [`crate::Difference`] is: the status, a header, the body as a whole, or one field of
/// a JSON body.
///
/// Renders (and parses back, and serializes) as `status`, `header.content-type`, `body`,
/// `body.$.user.name`, `body.$.items[2].price`; keys that are not plain words are quoted:
/// `body.$["a.b"]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldPath {
    /// The status code.
    Status,
    /// A response header (names are lowercase).
    Header(HeaderName),
    /// The body as a whole (text, bytes, hashed bodies).
    Body,
    /// A field of a JSON body; empty for the root value.
    Json(Vec<JsonSegment>),
}

impl FieldPath {
    /// The path with every array index replaced by `[*]`: the key of the "fields that differ
    /// most" statistics and of learned noise.
    pub fn template(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, true);
        out
    }

    /// Calls `f` with the template of every ancestor of this path and of the path itself,
    /// outermost first (`body`, `body.$`, `body.$.a`, …); true as soon as `f` is.
    pub(crate) fn any_template_prefix(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        match self {
            FieldPath::Json(segments) => {
                let mut buf = String::from("body");
                if f(&buf) {
                    return true;
                }
                buf.push_str(".$");
                if f(&buf) {
                    return true;
                }
                for segment in segments {
                    write_segment(&mut buf, segment, true);
                    if f(&buf) {
                        return true;
                    }
                }
                false
            }
            other => f(&other.template()),
        }
    }

    fn write(&self, out: &mut String, template: bool) {
        match self {
            FieldPath::Status => out.push_str("status"),
            FieldPath::Header(name) => {
                out.push_str("header.");
                out.push_str(name.as_str());
            }
            FieldPath::Body => out.push_str("body"),
            FieldPath::Json(segments) => {
                out.push_str("body.$");
                for segment in segments {
                    write_segment(out, segment, template);
                }
            }
        }
    }
}

fn write_segment(out: &mut String, segment: &JsonSegment, template: bool) {
    match segment {
        JsonSegment::Key(key) if is_plain_key(key) => {
            out.push('.');
            out.push_str(key);
        }
        JsonSegment::Key(key) => {
            out.push('[');
            crate::json::push_json_string(out, key);
            out.push(']');
        }
        JsonSegment::Index(_) if template => out.push_str("[*]"),
        JsonSegment::Index(index) => {
            let _ = write!(out, "[{index}]");
        }
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out, false);
        f.write_str(&out)
    }
}

impl FromStr for FieldPath {
    type Err = InvalidFieldPath;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidFieldPath { path: s.to_owned() };
        match s {
            "status" => return Ok(FieldPath::Status),
            "body" => return Ok(FieldPath::Body),
            _ => {}
        }
        if let Some(name) = s.strip_prefix("header.") {
            return HeaderName::from_bytes(name.as_bytes())
                .map(FieldPath::Header)
                .map_err(|_| invalid());
        }
        let json = s.strip_prefix("body.").ok_or_else(invalid)?;
        let pattern = JsonPath::parse(json).map_err(|_| invalid())?;
        pattern
            .segments
            .into_iter()
            .map(|segment| match segment {
                Pattern::Key(key) => Ok(JsonSegment::Key(key)),
                Pattern::Index(index) => Ok(JsonSegment::Index(index)),
                Pattern::Any | Pattern::Descendants => Err(invalid()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(FieldPath::Json)
    }
}

impl serde::Serialize for FieldPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FieldPath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `.name` or `["name"]`.
    Key(String),
    /// `[3]`.
    Index(usize),
    /// `.*` or `[*]`: any one key or index.
    Any,
    /// `..`: any number (zero or more) of steps.
    Descendants,
}

/// A JSON field (or a family of fields) to ignore when comparing JSON bodies: the field and
/// everything below it are skipped.
///
/// The syntax is a small JSONPath subset: `$` is the root, `.name` or `["name"]` an object
/// member, `[3]` an array element, `[*]` or `.*` any one member or element, and `..` any depth
/// (`$..timestamp` is every `timestamp` member anywhere). Examples: `$.meta.generatedAt`,
/// `$.items[*].id`, `$..requestId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    source: String,
    segments: Vec<Pattern>,
}

impl JsonPath {
    /// Parses a path such as `$.items[*].updatedAt`.
    pub fn parse(path: &str) -> Result<Self, InvalidJsonPath> {
        Parser { text: path, pos: 0 }.parse()
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether this pattern names exactly the node at `path`.
    pub(crate) fn matches(&self, path: &[SegmentRef<'_>]) -> bool {
        matches(&self.segments, path)
    }
}

fn matches(pattern: &[Pattern], path: &[SegmentRef<'_>]) -> bool {
    let Some((first, rest)) = pattern.split_first() else {
        return path.is_empty();
    };
    if *first == Pattern::Descendants {
        return (0..=path.len()).any(|skip| matches(rest, &path[skip..]));
    }
    let Some((step, path_rest)) = path.split_first() else {
        return false;
    };
    let step_matches = match (first, step) {
        (Pattern::Any, _) => true,
        (Pattern::Key(key), SegmentRef::Key(name)) => key == name,
        (Pattern::Index(index), SegmentRef::Index(at)) => index == at,
        _ => false,
    };
    step_matches && matches(rest, path_rest)
}

impl FromStr for JsonPath {
    type Err = InvalidJsonPath;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, reason: &'static str) -> InvalidJsonPath {
        InvalidJsonPath {
            path: self.text.to_owned(),
            position: self.pos,
            reason,
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn parse(mut self) -> Result<JsonPath, InvalidJsonPath> {
        if !self.text.starts_with('$') {
            return Err(self.error("expected '$' at the start"));
        }
        self.pos = 1;
        let mut segments = Vec::new();
        while !self.rest().is_empty() {
            if self.rest().starts_with("..") {
                self.pos += 2;
                segments.push(Pattern::Descendants);
                if self.rest().starts_with('[') {
                    continue;
                }
                segments.push(self.name()?);
            } else if self.rest().starts_with('.') {
                self.pos += 1;
                segments.push(self.name()?);
            } else if self.rest().starts_with('[') {
                self.pos += 1;
                segments.push(self.bracket()?);
            } else {
                return Err(self.error("expected '.' or '['"));
            }
        }
        Ok(JsonPath {
            source: self.text.to_owned(),
            segments,
        })
    }

    /// A member name after `.`: up to the next `.` or `[`; `*` is any member.
    fn name(&mut self) -> Result<Pattern, InvalidJsonPath> {
        let rest = self.rest();
        let end = rest.find(['.', '[', ']']).unwrap_or(rest.len());
        if end == 0 {
            return Err(self.error("expected a member name"));
        }
        let name = &rest[..end];
        self.pos += end;
        Ok(if name == "*" {
            Pattern::Any
        } else {
            Pattern::Key(name.to_owned())
        })
    }

    /// The inside of `[...]` and the closing bracket.
    fn bracket(&mut self) -> Result<Pattern, InvalidJsonPath> {
        let rest = self.rest();
        let (pattern, len) = if rest.starts_with('*') {
            (Pattern::Any, 1)
        } else if rest.starts_with('"') {
            let len = quoted_len(rest, '"').ok_or_else(|| self.error("unclosed string"))?;
            let key: String = serde_json::from_str(&rest[..len])
                .map_err(|_| self.error("invalid string escape"))?;
            (Pattern::Key(key), len)
        } else if let Some(inner) = rest.strip_prefix('\'') {
            let len = inner
                .find('\'')
                .ok_or_else(|| self.error("unclosed string"))?;
            (Pattern::Key(inner[..len].to_owned()), len + 2)
        } else {
            let len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let index = rest[..len]
                .parse()
                .map_err(|_| self.error("expected an index, '*' or a quoted name"))?;
            (Pattern::Index(index), len)
        };
        self.pos += len;
        if !self.rest().starts_with(']') {
            return Err(self.error("expected ']'"));
        }
        self.pos += 1;
        Ok(pattern)
    }
}

/// The length of the quoted string at the start of `text` (quotes included).
fn quoted_len(text: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in text.char_indices().skip(1) {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == quote && !escaped => return Some(at + 1),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segments: &[SegmentRef<'static>]) -> Vec<SegmentRef<'static>> {
        segments.to_vec()
    }

    #[test]
    fn json_paths_match_the_nodes_they_name() {
        use SegmentRef::{Index as I, Key as K};
        let cases: &[(&str, &[SegmentRef<'static>], bool)] = &[
            ("$", &[], true),
            ("$", &[K("a")], false),
            ("$.a.b", &[K("a"), K("b")], true),
            ("$.a.b", &[K("a")], false),
            ("$.a.b", &[K("a"), K("b"), K("c")], false),
            ("$.items[*].id", &[K("items"), I(7), K("id")], true),
            ("$.items[*].id", &[K("items"), K("x"), K("id")], true),
            ("$.items[3].id", &[K("items"), I(3), K("id")], true),
            ("$.items[3].id", &[K("items"), I(4), K("id")], false),
            ("$..ts", &[K("ts")], true),
            ("$..ts", &[K("a"), I(1), K("ts")], true),
            ("$..ts", &[K("a"), I(1), K("ts"), K("x")], false),
            ("$..[0]", &[K("a"), I(0)], true),
            ("$.*.id", &[K("x"), K("id")], true),
            ("$[\"a.b\"]", &[K("a.b")], true),
            ("$['a b'].c", &[K("a b"), K("c")], true),
        ];
        for (pattern, at, expected) in cases {
            let parsed = JsonPath::parse(pattern).expect(pattern);
            assert_eq!(parsed.matches(&path(at)), *expected, "{pattern} at {at:?}");
        }
    }

    #[test]
    fn invalid_json_paths_say_where() {
        let cases = [
            ("a.b", 0),
            ("$.", 2),
            ("$.a[", 4),
            ("$.a[x]", 4),
            ("$.a[1", 5),
            ("$[\"a]", 2),
            ("$a", 1),
            ("$..", 3),
        ];
        for (text, position) in cases {
            let error = JsonPath::parse(text).expect_err(text);
            assert_eq!(error.position, position, "{text}: {error}");
            assert!(error.to_string().starts_with("invalid JSON path"));
        }
    }

    #[test]
    fn field_paths_render_parse_and_template() {
        let cases = [
            (FieldPath::Status, "status", "status"),
            (
                FieldPath::Header(HeaderName::from_static("content-type")),
                "header.content-type",
                "header.content-type",
            ),
            (FieldPath::Body, "body", "body"),
            (FieldPath::Json(vec![]), "body.$", "body.$"),
            (
                FieldPath::Json(vec![
                    JsonSegment::Key("items".into()),
                    JsonSegment::Index(2),
                    JsonSegment::Key("price".into()),
                ]),
                "body.$.items[2].price",
                "body.$.items[*].price",
            ),
            (
                FieldPath::Json(vec![JsonSegment::Key("a.b \"c\"".into())]),
                r#"body.$["a.b \"c\""]"#,
                r#"body.$["a.b \"c\""]"#,
            ),
        ];
        for (field, rendered, template) in cases {
            assert_eq!(field.to_string(), rendered);
            assert_eq!(field.template(), template);
            assert_eq!(rendered.parse::<FieldPath>().as_ref(), Ok(&field));
        }
        assert!("body.$.items[*]".parse::<FieldPath>().is_err());
        assert!("nonsense".parse::<FieldPath>().is_err());
    }

    #[test]
    fn template_prefixes_go_outermost_first() {
        let field: FieldPath = "body.$.items[2].price".parse().expect("valid");
        let mut seen = Vec::new();
        field.any_template_prefix(|t| {
            seen.push(t.to_owned());
            false
        });
        assert_eq!(
            seen,
            [
                "body",
                "body.$",
                "body.$.items",
                "body.$.items[*]",
                "body.$.items[*].price"
            ]
        );
    }
}
