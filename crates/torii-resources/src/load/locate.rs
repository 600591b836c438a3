//! Finding the line of a field inside a YAML document, for messages about a field that decoded
//! fine but is wrong (a schema rule, a reference that does not resolve).
//!
//! The YAML parser reports where a value is only when deserializing it fails, so the document
//! is walked along the field path by a deserializer seed that skips everything else and fails,
//! on purpose, at the value the path names: that error carries the value's line. A missing
//! field is placed at its nearest parent that is present.

use super::split;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// What the probe's deliberate error says, to tell it from a real one.
const FOUND: &str = "torii: field found";

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A member of a mapping.
    Key(String),
    /// An item of a sequence.
    Index(usize),
}

/// Splits `spec.rules[0].backendRefs[1]` into segments; `None` when it is not such a path.
fn segments(field: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if name.is_empty() {
            return None;
        }
        out.push(Segment::Key(name.to_owned()));
        while let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            out.push(Segment::Index(after[..end].parse().ok()?));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// The file line of `field` in a document whose text is `text` and whose first line is line
/// `first_line` of the file; the line of the nearest present parent when the field is absent.
pub(crate) fn field_line(text: &str, first_line: usize, field: &str) -> Option<usize> {
    let path = segments(field)?;
    (1..=path.len()).rev().find_map(|len| {
        let error = Probe(&path[..len])
            .deserialize(serde_yaml_ng::Deserializer::from_str(text))
            .err()?;
        if !error.to_string().contains(FOUND) {
            return None;
        }
        let line = error.location()?.line();
        Some(line + first_line.saturating_sub(1))
    })
}

/// The line of `field` (`spec.rules[0].backendRefs[1]`) of the object whose document starts on
/// `document_line` of a file whose text is `text`: where a message about that field should
/// point. `None` when there is no such document or the path is not a field path.
pub fn locate_field(text: &str, document_line: usize, field: &str) -> Option<usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let chunk = split::documents(text).find(|c| c.content_line == document_line)?;
    field_line(chunk.text, chunk.first_line, field)
}

/// Walks to the value at its path and fails there with [`FOUND`].
struct Probe<'p>(&'p [Segment]);

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.0.split_first() {
            None => deserializer.deserialize_any(Found),
            Some((Segment::Key(key), rest)) => deserializer.deserialize_map(Member { key, rest }),
            Some((Segment::Index(index), rest)) => deserializer.deserialize_seq(Item {
                index: *index,
                rest,
            }),
        }
    }
}

/// Fails on whatever value it is given.
struct Found;

impl<'de> Visitor<'de> for Found {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
}

/// Goes into member `key` of a mapping.
struct Member<'p> {
    key: &'p str,
    rest: &'p [Segment],
}

impl<'de> Visitor<'de> for Member<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a mapping with {}", self.key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<serde_yaml_ng::Value>()? {
            if key.as_str() == Some(self.key) {
                return map.next_value_seed(Probe(self.rest));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// Goes into item `index` of a sequence.
struct Item<'p> {
    index: usize,
    rest: &'p [Segment],
}

impl<'de> Visitor<'de> for Item<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a sequence with an item {}", self.index)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for _ in 0..self.index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Probe(self.rest)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_field_paths() {
        use Segment::*;
        let key = |k: &str| Key(k.to_owned());
        assert_eq!(
            segments("spec.rules[0].backendRefs[12].weight"),
            Some(vec![
                key("spec"),
                key("rules"),
                Index(0),
                key("backendRefs"),
                Index(12),
                key("weight")
            ])
        );
        assert_eq!(
            segments("a[0][1]"),
            Some(vec![key("a"), Index(0), Index(1)])
        );
        for bad in ["", "a..b", "a[x]", "a[0", "a[0]b", "[0]"] {
            assert_eq!(segments(bad), None, "{bad}");
        }
    }

    /// Block and flow styles, nested lists, a missing field (its parent's line), anchors.
    #[test]
    fn finds_the_line_of_a_field() {
        let text = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /a}
    backendRefs:
    - name: one
      port: 80
    - {name: two, port: 81,
       weight: -1}
  - backendRefs: [{name: three, port: 82}]
";
        let cases = [
            ("kind", Some(12)),
            ("spec.parentRefs[0]", Some(15)),
            ("spec.rules[0].matches[0].path.value", Some(18)),
            ("spec.rules[0].backendRefs[0]", Some(20)),
            ("spec.rules[0].backendRefs[0].port", Some(21)),
            ("spec.rules[0].backendRefs[1]", Some(22)),
            ("spec.rules[0].backendRefs[1].weight", Some(23)),
            ("spec.rules[1].backendRefs[0].name", Some(24)),
            // Absent: the nearest parent that is present.
            ("spec.rules[1].backendRefs[0].weight", Some(24)),
            ("spec.rules[1].timeouts.request", Some(24)),
            ("spec.rules[7]", Some(17)),
            ("nothing", None),
            ("spec..x", None),
        ];
        for (field, line) in cases {
            assert_eq!(field_line(text, 11, field), line, "{field}");
        }
    }

    #[test]
    fn locates_a_field_in_a_file_of_several_documents() {
        let text = "\u{feff}# leading comment\n---\nkind: A\nspec: {x: 1}\n---\n\nkind: B\nspec:\n  x: 2\n";
        assert_eq!(locate_field(text, 3, "spec.x"), Some(4));
        assert_eq!(locate_field(text, 7, "spec.x"), Some(9));
        assert_eq!(
            locate_field(text, 5, "spec.x"),
            None,
            "no document starts there"
        );
    }
}
