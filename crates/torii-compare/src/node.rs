//! A JSON value borrowing its strings from the body: parsing allocates only for arrays,
//! objects and strings with escapes, about a third of what `serde_json::Value` costs.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

/// Objects up to this size are searched linearly; larger ones through a sorted index.
const LINEAR_LOOKUP: usize = 16;

/// A parsed JSON value; object members stay in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// The value in `body`, or `None` when it is not JSON (or nested more than 128 deep).
    pub(crate) fn parse(body: &'a [u8]) -> Option<Self> {
        serde_json::from_slice(body).ok()
    }
}

/// Object members with a lookup by key.
pub(crate) struct Members<'n, 'a> {
    members: &'n [(Cow<'a, str>, Node<'a>)],
    /// Indexes sorted by key, built at the first lookup that needs it.
    sorted: OnceCell<Vec<usize>>,
}

impl<'n, 'a> Members<'n, 'a> {
    pub(crate) fn new(members: &'n [(Cow<'a, str>, Node<'a>)]) -> Self {
        Self {
            members,
            sorted: OnceCell::new(),
        }
    }

    /// A member called `key` (with repeated keys, which one is unspecified); `hint` is where
    /// it probably is (both documents usually list members in the same order).
    pub(crate) fn get(&self, key: &str, hint: usize) -> Option<&'n Node<'a>> {
        let members = self.members;
        if let Some((k, value)) = members.get(hint) {
            if k == key {
                return Some(value);
            }
        }
        if members.len() <= LINEAR_LOOKUP {
            return members.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        }
        let sorted = self.sorted.get_or_init(|| {
            let mut sorted: Vec<usize> = (0..members.len()).collect();
            sorted.sort_by(|&x, &y| members[x].0.cmp(&members[y].0));
            sorted
        });
        let at = sorted.partition_point(|&i| members[i].0.as_ref() < key);
        let &i = sorted.get(at)?;
        (members[i].0 == key).then_some(&members[i].1)
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(v).map_or(Node::Null, Node::Number))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Node::String(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Node::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Node::String(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Key(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Node::Object(members))
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_borrowing_strings_in_document_order() {
        let body = br#"{"b":"x","a":[1,-2,0.5,true,null],"c\n":"y\u00e9"}"#;
        let node = Node::parse(body).expect("valid JSON");
        let Node::Object(members) = &node else {
            panic!("an object: {node:?}");
        };
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["b", "a", "c\n"]);
        assert!(matches!(
            &members[0],
            (Cow::Borrowed(_), Node::String(Cow::Borrowed("x")))
        ));
        assert!(matches!(&members[2], (Cow::Owned(_), Node::String(Cow::Owned(s))) if s == "yé"));
        assert!(Node::parse(b"{nope").is_none());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(Node::parse(deep.as_bytes()).is_none(), "recursion limit");
    }

    #[test]
    fn members_are_found_small_and_large() {
        for n in [3, 40] {
            let text = format!(
                "{{{}}}",
                (0..n)
                    .rev()
                    .map(|i| format!(r#""k{i}":{i}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let node = Node::parse(text.as_bytes()).expect("valid JSON");
            let Node::Object(members) = &node else {
                panic!("an object");
            };
            let members = Members::new(members);
            for i in 0..n {
                for hint in [0, i, n - 1 - i, n + 5] {
                    let found = members.get(&format!("k{i}"), hint);
                    assert_eq!(found, Some(&Node::Number(i.into())), "k{i} hint {hint}");
                }
            }
            assert_eq!(members.get("missing", 0), None);
            assert_eq!(members.get("k", 0), None);
        }
    }
}
