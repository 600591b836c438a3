//! A deserializer adapter that drops an object's top-level `status`.
//!
//! `status` is written by controllers, never read from input: the API server drops it when an
//! object is created (status is a subresource), so file mode does too. Dropping it while
//! deserializing, rather than from a parsed value, keeps the parser's line numbers for every
//! other field. A copy of `kubectl get -o yaml` output therefore loads even when its status is
//! from another version of the API.

use serde::de::{self, DeserializeSeed, IgnoredAny, IntoDeserializer, MapAccess, Visitor};
use std::fmt;

/// Deserializes a map or struct from the wrapped deserializer, skipping its `status` key.
pub(crate) struct WithoutStatus<D>(pub D);

/// The key that is dropped.
const STATUS: &str = "status";

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for WithoutStatus<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(SkipVisitor(visitor))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(SkipVisitor(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_struct(name, fields, SkipVisitor(visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct enum identifier ignored_any
    }
}

/// Hands the wrapped visitor a map without `status`.
struct SkipVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for SkipVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(SkipStatus(map))
    }
}

/// A map without its `status` entry.
struct SkipStatus<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SkipStatus<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.0.next_key::<String>()? {
                Some(key) if key == STATUS => {
                    self.0.next_value::<IgnoredAny>()?;
                }
                Some(key) => {
                    let key: de::value::StringDeserializer<A::Error> = key.into_deserializer();
                    return seed.deserialize(key).map(Some);
                }
                None => return Ok(None),
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Object {
        spec: Option<u8>,
        status: Option<String>,
        #[serde(default)]
        inner: Vec<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        status: u8,
    }

    #[test]
    fn drops_only_the_top_level_status() {
        let cases = [
            ("spec: 1\nstatus: {any: [thing]}\n", Some(1), vec![]),
            ("status: 3\n", None, vec![]),
            ("inner:\n- status: 7\n", None, vec![Inner { status: 7 }]),
        ];
        for (text, spec, inner) in cases {
            let de = serde_yaml_ng::Deserializer::from_str(text);
            let object = Object::deserialize(WithoutStatus(de)).expect("the text is valid");
            assert_eq!(
                object,
                Object {
                    spec,
                    status: None,
                    inner
                },
                "{text}"
            );
        }
    }

    #[test]
    fn keeps_locations_of_other_errors() {
        let de = serde_yaml_ng::Deserializer::from_str("status: 1\nspec: x\n");
        let error = Object::deserialize(WithoutStatus(de)).expect_err("spec is not a number");
        assert_eq!(error.location().map(|l| l.line()), Some(2));
    }
}
