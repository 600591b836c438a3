use super::*;
use crate::json::compare_values;
use bytes::Bytes;
use http::HeaderValue;
use proptest::prelude::*;
use serde_json::Value;
use DifferenceKind::{Added, Changed, Missing, TypeChanged};

fn response(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> CapturedResponse {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("valid name"),
            HeaderValue::from_str(value).expect("valid value"),
        );
    }
    CapturedResponse::new(status, map, body.into())
}

fn json(body: &str) -> CapturedResponse {
    response(
        200,
        &[("content-type", "application/json")],
        body.to_owned(),
    )
}

fn text(body: &str) -> CapturedResponse {
    response(
        200,
        &[("content-type", "text/plain; charset=utf-8")],
        body.to_owned(),
    )
}

/// Expected differences: (rendered field, kind).
type Expected<'a> = &'a [(&'a str, DifferenceKind)];

fn found(differences: &Differences) -> Vec<(String, DifferenceKind)> {
    differences
        .iter()
        .map(|d| (d.field.to_string(), d.kind))
        .collect()
}

fn expect(expected: &[(&str, DifferenceKind)]) -> Vec<(String, DifferenceKind)> {
    expected
        .iter()
        .map(|(f, k)| ((*f).to_owned(), *k))
        .collect()
}

#[test]
fn json_bodies_compare_structurally() {
    let cases: &[(&str, &str, Expected)] = &[
        (r#"{"a":1,"b":[1,2]}"#, r#"{ "b": [1, 2], "a": 1 }"#, &[]),
        (r#"{"a":1}"#, r#"{"a":1.0}"#, &[]),
        (r#"{"a":-0.5e2}"#, r#"{"a":-50}"#, &[]),
        (
            r#"{"user":{"name":"Ann","id":1}}"#,
            r#"{"user":{"name":"Bob","id":1}}"#,
            &[("body.$.user.name", Changed)],
        ),
        (r#"{"a":1,"b":2}"#, r#"{"a":1}"#, &[("body.$.b", Missing)]),
        (r#"{"a":1}"#, r#"{"a":1,"c":null}"#, &[("body.$.c", Added)]),
        (
            r#"{"items":[1,2]}"#,
            r#"{"items":[1,2,3]}"#,
            &[("body.$.items[2]", Added)],
        ),
        (
            r#"{"items":[1,2,3]}"#,
            r#"{"items":[1]}"#,
            &[("body.$.items[1]", Missing), ("body.$.items[2]", Missing)],
        ),
        (
            r#"{"items":[{"price":1},{"price":2},{"price":3}]}"#,
            r#"{"items":[{"price":1},{"price":2},{"price":5}]}"#,
            &[("body.$.items[2].price", Changed)],
        ),
        (r#"{"a":1}"#, r#"{"a":"1"}"#, &[("body.$.a", TypeChanged)]),
        (r#"{"a":null}"#, r#"{"a":0}"#, &[("body.$.a", TypeChanged)]),
        (r#"{"a":true}"#, r#"{"a":false}"#, &[("body.$.a", Changed)]),
        (r#"[1]"#, r#"{"a":1}"#, &[("body.$", TypeChanged)]),
        (
            r#"{"a b":1}"#,
            r#"{"a b":2}"#,
            &[(r#"body.$["a b"]"#, Changed)],
        ),
    ];
    let opts = CompareOptions::default();
    for (a, b, expected) in cases {
        let differences = compare(&json(a), &json(b), &opts);
        assert_eq!(found(&differences), expect(expected), "{a} vs {b}");
        assert!(!differences.is_capped());
    }
}

#[test]
fn large_objects_compare_by_key_whatever_the_order() {
    let object = |order: &mut dyn Iterator<Item = u32>, changed: Option<u32>| {
        let members: Vec<String> = order
            .map(|i| format!(r#""k{i}":{}"#, if Some(i) == changed { 0 } else { i }))
            .collect();
        format!("{{{}}}", members.join(","))
    };
    let opts = CompareOptions::default();
    let forward = object(&mut (0..30), None);
    assert!(compare(
        &json(&forward),
        &json(&object(&mut (0..30).rev(), None)),
        &opts
    )
    .is_empty());
    let differences = compare(
        &json(&forward),
        &json(&object(&mut (0..30).rev(), Some(7))),
        &opts,
    );
    assert_eq!(found(&differences), expect(&[("body.$.k7", Changed)]));
    let differences = compare(
        &json(&forward),
        &json(&object(&mut (1..31).rev(), None)),
        &opts,
    );
    assert_eq!(
        found(&differences),
        expect(&[("body.$.k0", Missing), ("body.$.k30", Added)])
    );
}

#[test]
fn values_are_rendered_shortened_and_redacted() {
    let opts = CompareOptions::default();
    let differences = compare(
        &json(r#"{"user":{"name":"Ann"},"b":{"x":[1,2]},"token":"s1"}"#),
        &json(r#"{"user":{"name":"Bob"},"token":"s2"}"#),
        &opts,
    );
    let values: Vec<_> = differences
        .iter()
        .map(|d| {
            (
                d.field.to_string(),
                d.primary.as_deref(),
                d.other.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        values,
        [
            (
                "body.$.user.name".to_owned(),
                Some(r#""Ann""#),
                Some(r#""Bob""#)
            ),
            ("body.$.b".to_owned(), Some(r#"{"x":[1,2]}"#), None),
            ("body.$.token".to_owned(), Some(REDACTED), Some(REDACTED)),
        ]
    );

    let long = "x".repeat(1000);
    let differences = compare(&json(&format!(r#"["{long}"]"#)), &json(r#"["y"]"#), &opts);
    let primary = differences.as_slice()[0]
        .primary
        .as_deref()
        .unwrap_or_default();
    assert!(primary.len() <= opts.max_value_len + '…'.len_utf8() && primary.ends_with('…'));
}

#[test]
fn ignored_json_paths_are_skipped() {
    let opts = CompareOptions::default()
        .ignore_json_path("$.meta.generatedAt")
        .and_then(|o| o.ignore_json_path("$.items[*].id"))
        .and_then(|o| o.ignore_json_path("$..timestamp"))
        .expect("valid paths");
    let a = r#"{"meta":{"generatedAt":"1","v":1},"items":[{"id":1,"n":"a","timestamp":1}],"timestamp":5}"#;
    let cases = [
        (
            r#"{"meta":{"generatedAt":"2","v":1},"items":[{"id":2,"n":"a","timestamp":2}],"timestamp":6}"#,
            vec![],
        ),
        (r#"{"meta":{"v":1},"items":[{"n":"a"}]}"#, vec![]),
        (
            r#"{"meta":{"generatedAt":"2","v":2},"items":[{"id":2,"n":"b"}]}"#,
            vec![("body.$.meta.v", Changed), ("body.$.items[0].n", Changed)],
        ),
    ];
    for (b, expected) in cases {
        assert_eq!(
            found(&compare(&json(a), &json(b), &opts)),
            expect(&expected),
            "{b}"
        );
    }
    assert!(CompareOptions::default()
        .ignore_json_path("meta.x")
        .is_err());
}

#[test]
fn headers_compare_case_insensitively_minus_ignored_ones() {
    let opts = CompareOptions::default();
    let base: &[(&str, &str)] = &[
        ("Content-Type", "text/plain"),
        ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ("Server", "vm"),
        ("Cache-Control", "max-age=60"),
        ("Vary", "accept"),
        ("Vary", "origin"),
        ("Set-Cookie", "sid=1; Path=/"),
    ];
    let cases: &[(&[(&str, &str)], Expected)] = &[
        (base, &[]),
        (
            &[
                ("content-type", "text/plain"),
                ("date", "Tue, 02 Jan 2024 00:00:00 GMT"),
                ("server", "k8s"),
                ("x-request-id", "abc"),
                ("cache-control", "max-age=60"),
                ("vary", "accept"),
                ("vary", "origin"),
                ("set-cookie", "sid=2; Path=/"),
            ],
            &[],
        ),
        (
            &[
                ("content-type", "text/plain"),
                ("vary", "origin"),
                ("vary", "accept"),
            ],
            &[
                ("header.cache-control", Missing),
                ("header.set-cookie", Missing),
                ("header.vary", Changed),
            ],
        ),
        (
            &[
                ("content-type", "text/plain"),
                ("cache-control", "no-cache"),
                ("vary", "accept"),
                ("vary", "origin"),
                ("set-cookie", "sid=1"),
                ("set-cookie", "csrf=2"),
                ("x-new", "1"),
            ],
            &[
                ("header.cache-control", Changed),
                ("header.set-cookie", Changed),
                ("header.x-new", Added),
            ],
        ),
    ];
    for (other, expected) in cases {
        let differences = compare(&response(200, base, ""), &response(200, other, ""), &opts);
        assert_eq!(found(&differences), expect(expected), "{other:?}");
    }
    let differences = compare(
        &response(200, &[("set-cookie", "sid=1")], ""),
        &response(
            200,
            &[("set-cookie", "sid=2"), ("set-cookie", "csrf=3")],
            "",
        ),
        &opts,
    );
    let cookie = &differences.as_slice()[0];
    assert_eq!(
        (cookie.primary.as_deref(), cookie.other.as_deref()),
        (Some("sid"), Some("csrf, sid"))
    );

    let differences = compare(
        &response(200, &[("x-api-key", "secret-1")], ""),
        &response(200, &[("x-api-key", "secret-2")], ""),
        &opts,
    );
    assert_eq!(differences.as_slice()[0].primary.as_deref(), Some(REDACTED));
}

#[test]
fn status_differences() {
    let differences = compare(
        &json("{}"),
        &response(503, &[("content-type", "application/json")], "{}"),
        &CompareOptions::default(),
    );
    assert_eq!(found(&differences), expect(&[("status", Changed)]));
    let status = &differences.as_slice()[0];
    assert_eq!(
        (status.primary.as_deref(), status.other.as_deref()),
        (Some("200"), Some("503"))
    );
}

#[test]
fn text_bodies_are_normalized() {
    let normalized = CompareOptions::default();
    let exact = CompareOptions {
        normalize_text: false,
        ..CompareOptions::default()
    };
    let cases = [
        ("a  b\r\nc\n", "a b\nc", true, false),
        ("\n\n  hello\tworld  \n", "hello world", true, false),
        ("x\ny\nz", "x\nY\nz", false, false),
        ("same", "same", true, true),
    ];
    for (a, b, equal_normalized, equal_exact) in cases {
        assert_eq!(
            compare(&text(a), &text(b), &normalized).is_empty(),
            equal_normalized,
            "{a:?}"
        );
        assert_eq!(
            compare(&text(a), &text(b), &exact).is_empty(),
            equal_exact,
            "{a:?}"
        );
    }
    let differences = compare(&text("x\ny\nz"), &text("x\nY\nz"), &normalized);
    let body = &differences.as_slice()[0];
    assert_eq!(body.field, FieldPath::Body);
    assert_eq!(
        (body.primary.as_deref(), body.other.as_deref()),
        (Some("line 2: y"), Some("line 2: Y"))
    );
    let differences = compare(&text("x"), &text("x\ny"), &normalized);
    assert_eq!(
        differences.as_slice()[0].primary.as_deref(),
        Some("<end of text>")
    );
}

#[test]
fn other_bodies_compare_as_bytes_or_hashes() {
    let opts = CompareOptions::default();
    let binary = |body: &'static [u8]| response(200, &[("content-type", "image/png")], body);
    assert!(compare(&binary(b"\xff\x00"), &binary(b"\xff\x00"), &opts).is_empty());
    let differences = compare(&binary(b"\xff\x00"), &binary(b"\xff\x01"), &opts);
    assert_eq!(found(&differences), expect(&[("body", Changed)]));
    assert_eq!(
        differences.as_slice()[0].primary.as_deref(),
        Some("<binary 2 bytes, differs from byte 1>")
    );

    // Invalid JSON falls back to bytes.
    let differences = compare(&json("{not json"), &json("{not json!"), &opts);
    assert_eq!(found(&differences), expect(&[("body", Changed)]));
    // JSON on one side only: bytes.
    let differences = compare(&json(r#"{"a":1}"#), &text(r#"{ "a": 1 }"#), &opts);
    assert_eq!(
        found(&differences),
        expect(&[("header.content-type", Changed), ("body", Changed)])
    );
    // Over the size limit: bytes, never parsed.
    let small = CompareOptions {
        max_body_bytes: 4,
        ..CompareOptions::default()
    };
    let differences = compare(&json(r#"{"a":1}"#), &json(r#"{"a":2}"#), &small);
    assert_eq!(found(&differences), expect(&[("body", Changed)]));

    let hashed = |status, body: &[u8]| CapturedResponse {
        body: CapturedBody::hashed(body),
        ..response(status, &[("content-type", "image/png")], "")
    };
    assert!(compare(&hashed(200, b"abc"), &hashed(200, b"abc"), &opts).is_empty());
    assert!(compare(&binary(b"abc"), &hashed(200, b"abc"), &opts).is_empty());
    let differences = compare(&hashed(200, b"abc"), &hashed(200, b"abd"), &opts);
    assert_eq!(found(&differences), expect(&[("body", Changed)]));
    assert!(differences.as_slice()[0]
        .primary
        .as_deref()
        .is_some_and(|v| v.starts_with("<hashed 3 bytes")));
}

#[test]
fn differences_are_capped() {
    let object = |value: u32, n: u32| {
        let members: Vec<String> = (0..n).map(|i| format!(r#""k{i:03}":{value}"#)).collect();
        format!("{{{}}}", members.join(","))
    };
    let opts = CompareOptions {
        max_differences: 100,
        ..CompareOptions::default()
    };
    let differences = compare(&json(&object(1, 250)), &json(&object(2, 250)), &opts);
    assert_eq!(differences.len(), 100);
    assert!(differences.is_capped());
    let differences = compare(&json(&object(1, 100)), &json(&object(2, 100)), &opts);
    assert_eq!(differences.len(), 100);
    assert!(!differences.is_capped());
}

#[test]
fn compare_all_equals_two_compares() {
    let opts = CompareOptions::default();
    let (primary, candidate, secondary) = (
        json(r#"{"a":1,"t":1}"#),
        json(r#"{"a":2,"t":2}"#),
        json(r#"{"a":1,"t":3}"#),
    );
    let (c, s) = compare_all(&primary, &candidate, Some(&secondary), &opts);
    assert_eq!(c, compare(&primary, &candidate, &opts));
    assert_eq!(s, Some(compare(&primary, &secondary, &opts)));
    assert_eq!(
        found(&c),
        expect(&[("body.$.a", Changed), ("body.$.t", Changed)])
    );
}

#[test]
fn difference_kinds_and_differences_serialize() {
    let differences = compare(
        &json(r#"{"a":1}"#),
        &json(r#"{"a":"x"}"#),
        &CompareOptions::default(),
    );
    let text = serde_json::to_string(&differences).expect("serializes");
    assert_eq!(
        text,
        r#"{"items":[{"field":"body.$.a","kind":"typeChanged","primary":"1","other":"\"x\""}],"capped":false}"#
    );
    let back: Differences = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back, differences);
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "[a-z\"\\\\é \n]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z.]{0,4}", inner, 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn a_value_equals_itself(value in arbitrary_json()) {
        let compact = serde_json::to_string(&value).expect("serializes");
        let pretty = serde_json::to_string_pretty(&value).expect("serializes");
        let differences = compare(&json(&compact), &json(&pretty), &CompareOptions::default());
        prop_assert!(differences.is_empty(), "{:?}", differences);
        let parsed = crate::node::Node::parse(compact.as_bytes()).expect("valid JSON");
        let mut out = Collector::new(100);
        compare_values(&parsed, &parsed, &CompareOptions::default(), &mut out);
        prop_assert!(out.finish().is_empty());
    }
}
