use super::*;
use http::{HeaderName, HeaderValue};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("valid name"),
            HeaderValue::from_str(value).expect("valid value"),
        );
    }
    map
}

fn json(body: &str) -> CapturedResponse {
    CapturedResponse::new(
        200,
        headers(&[("content-type", "application/json")]),
        body.to_owned(),
    )
}

/// Records primary/candidate/secondary bodies on `endpoint` with default compare options.
fn record(
    store: &DiffStore,
    endpoint: &EndpointKey,
    primary: &str,
    candidate: &str,
    secondary: Option<&str>,
) -> Verdict {
    let (primary, candidate) = (json(primary), json(candidate));
    let secondary = secondary.map(json);
    let input = SampleInput {
        method: &Method::GET,
        target: "/items?page=1",
        headers: &HeaderMap::new(),
        primary: &primary,
        candidate: &candidate,
        secondary: secondary.as_ref(),
    };
    store.compare_and_record(
        endpoint,
        input,
        &CompareOptions::default(),
        1_700_000_000_000,
    )
}

fn key(route: &str) -> EndpointKey {
    EndpointKey::new("GET", route)
}

fn regression(fields: &[&str]) -> Verdict {
    Verdict::Regression {
        fields: fields.iter().map(|f| f.parse().expect("valid")).collect(),
    }
}

#[test]
fn verdicts_with_a_secondary() {
    let store = DiffStore::default();
    let items = key("items");
    let cases = [
        (
            r#"{"ts":1,"price":10}"#,
            r#"{"ts":1,"price":10}"#,
            Some(r#"{"ts":1,"price":10}"#),
            Verdict::Identical,
        ),
        (
            r#"{"ts":1,"price":10}"#,
            r#"{"ts":2,"price":10}"#,
            Some(r#"{"ts":3,"price":10}"#),
            Verdict::NoiseOnly,
        ),
        (
            r#"{"ts":1,"price":10}"#,
            r#"{"ts":2,"price":11}"#,
            Some(r#"{"ts":3,"price":10}"#),
            regression(&["body.$.price"]),
        ),
        (
            r#"{"ts":1,"price":10}"#,
            r#"{"ts":2,"price":10}"#,
            None,
            regression(&["body.$.ts"]),
        ),
    ];
    for (primary, candidate, secondary, expected) in cases {
        assert_eq!(
            record(&store, &items, primary, candidate, secondary),
            expected,
            "{candidate}"
        );
    }
    let report = store.report();
    let endpoint = &report.endpoints[0];
    assert_eq!(
        (
            endpoint.compared,
            endpoint.identical,
            endpoint.noise_only,
            endpoint.regressions
        ),
        (4, 1, 1, 2)
    );
    assert_eq!(endpoint.secondary_pairs, 3);
    assert_eq!(
        endpoint.top_fields,
        [
            FieldStat {
                field: "body.$.ts".into(),
                regressions: 1,
                noise: 2
            },
            FieldStat {
                field: "body.$.price".into(),
                regressions: 1,
                noise: 0
            },
        ]
    );
    assert_eq!(
        endpoint.status_pairs,
        [StatusPair {
            primary: 200,
            candidate: 200,
            count: 4
        }]
    );
    assert_eq!(endpoint.samples.len(), 2, "regressions only");
    assert!(endpoint.learned_noise.is_empty(), "too few pairs");
}

#[test]
fn noise_is_learned_per_endpoint() {
    let store = DiffStore::default();
    let (items, users) = (key("items"), key("users"));
    let (primary, changed) = (r#"{"items":[{"at":1}]}"#, r#"{"items":[{"at":2}]}"#);
    // 9 pairs: 2 noisy. Not enough pairs yet.
    for i in 0..9 {
        let secondary = if i < 2 { changed } else { primary };
        record(&store, &items, primary, primary, Some(secondary));
    }
    assert_eq!(
        record(&store, &items, primary, changed, None),
        regression(&["body.$.items[0].at"])
    );
    // The 10th pair: 2 of 10 is 20%, learned.
    record(&store, &items, primary, primary, Some(primary));
    assert_eq!(
        record(&store, &items, primary, changed, None),
        Verdict::NoiseOnly
    );
    let deeper = r#"{"items":[{"at":1},{"at":3}]}"#;
    assert_eq!(
        record(
            &store,
            &items,
            deeper,
            r#"{"items":[{"at":1},{"at":4}]}"#,
            None
        ),
        Verdict::NoiseOnly,
        "any index of the template"
    );
    // Learned on one endpoint only.
    assert_eq!(
        record(&store, &users, primary, changed, None),
        regression(&["body.$.items[0].at"])
    );
    let report = store.report();
    let learned: Vec<_> = report
        .endpoints
        .iter()
        .map(|e| (e.endpoint.route.as_str(), e.learned_noise.clone()))
        .collect();
    assert!(learned.contains(&("items", vec!["body.$.items[*].at".to_owned()])));
    assert!(learned.contains(&("users", vec![])));

    // Below the rate: 1 noisy pair in 10 is not noise.
    let rare = key("rare");
    for i in 0..10 {
        record(
            &store,
            &rare,
            primary,
            primary,
            Some(if i == 0 { changed } else { primary }),
        );
    }
    assert!(record(&store, &rare, primary, changed, None).is_regression());
}

#[test]
fn endpoints_beyond_the_cap_share_one_key() {
    let store = DiffStore::new(StoreOptions {
        max_endpoints: 3,
        ..StoreOptions::default()
    });
    for i in 0..5 {
        record(&store, &key(&format!("route-{i}")), "{}", "{}", None);
    }
    record(&store, &key("route-0"), "{}", "{}", None);
    store.record_shed(&key("route-9"));
    let report = store.report();
    assert_eq!(report.endpoints.len(), 4);
    let overflow = report
        .endpoints
        .iter()
        .find(|e| e.endpoint == EndpointKey::overflow());
    assert_eq!(overflow.map(|e| (e.compared, e.shed)), Some((2, 1)));
    let first = report
        .endpoints
        .iter()
        .find(|e| e.endpoint == key("route-0"));
    assert_eq!(first.map(|e| e.compared), Some(2));
}

#[test]
fn full_rings_take_new_samples_at_an_interval() {
    let store = DiffStore::new(StoreOptions {
        samples_per_endpoint: 2,
        min_sample_interval_ms: 1_000,
        ..StoreOptions::default()
    });
    let endpoint = key("a");
    let (primary, candidate) = (json(r#"{"v":0}"#), json(r#"{"v":1}"#));
    let input = SampleInput {
        method: &Method::GET,
        target: "/",
        headers: &HeaderMap::new(),
        primary: &primary,
        candidate: &candidate,
        secondary: None,
    };
    let opts = CompareOptions::default();
    for now in [0, 10, 500, 1_009, 1_010, 2_010] {
        store.compare_and_record(&endpoint, input, &opts, now);
    }
    let report = store.report();
    let times: Vec<u64> = report.endpoints[0]
        .samples
        .iter()
        .map(|s| s.time_unix_ms)
        .collect();
    assert_eq!(times, [1_010, 2_010]);
    assert_eq!(report.endpoints[0].regressions, 6);
}

#[test]
fn samples_are_bounded() {
    let store = DiffStore::new(StoreOptions {
        samples_per_endpoint: 3,
        max_samples: 5,
        min_sample_interval_ms: 0,
        ..StoreOptions::default()
    });
    let (a, b) = (key("a"), key("b"));
    for i in 0..5 {
        record(
            &store,
            &a,
            r#"{"v":0}"#,
            &format!(r#"{{"v":{}}}"#, i + 1),
            None,
        );
    }
    let ids = |store: &DiffStore, endpoint: &EndpointKey| -> Vec<u64> {
        let report = store.report();
        let found = report.endpoints.iter().find(|e| &e.endpoint == endpoint);
        found
            .map(|e| e.samples.iter().map(|s| s.id).collect())
            .unwrap_or_default()
    };
    assert_eq!(ids(&store, &a), [3, 4, 5]);
    assert!(store.sample(2).is_none());
    assert_eq!(store.sample(5).map(|s| s.id), Some(5));
    for i in 0..3 {
        record(
            &store,
            &b,
            r#"{"v":0}"#,
            &format!(r#"{{"v":{}}}"#, i + 1),
            None,
        );
    }
    // 6 kept per endpoint, 5 in all: the oldest (3, on `a`) goes.
    assert_eq!(ids(&store, &a), [4, 5]);
    assert_eq!(ids(&store, &b), [6, 7, 8]);

    store.reset();
    assert!(store.report().endpoints.is_empty());
    record(&store, &a, r#"{"v":0}"#, r#"{"v":1}"#, None);
    assert_eq!(ids(&store, &a), [9], "ids keep increasing");
}

#[test]
fn samples_and_reports_hold_no_secrets() {
    let store = DiffStore::default();
    let endpoint = key("login");
    let request_headers = headers(&[
        ("authorization", "Bearer SECRET-1"),
        ("cookie", "sid=SECRET-2"),
        ("x-api-key", "SECRET-8"),
        ("accept", "application/json"),
    ]);
    let response = |cookie: &str, token: &str, price: u32| {
        CapturedResponse::new(
            200,
            headers(&[("content-type", "application/json"), ("set-cookie", cookie)]),
            format!(
                r#"{{"access_token":"{token}","price":{price},"nested":{{"password":"SECRET-9"}}}}"#
            ),
        )
    };
    let primary = response("sid=SECRET-4; Path=/", "SECRET-6", 1);
    let candidate = response("sid=SECRET-5; Path=/", "SECRET-7", 2);
    let input = SampleInput {
        method: &Method::POST,
        target: "/login?token=SECRET-3&next=/home",
        headers: &request_headers,
        primary: &primary,
        candidate: &candidate,
        secondary: None,
    };
    let verdict = store.compare_and_record(&endpoint, input, &CompareOptions::default(), 0);
    // The token differs too, but its values are redacted.
    assert_eq!(
        verdict,
        regression(&["body.$.access_token", "body.$.price"])
    );
    let report = store.report();
    let id = report.endpoints[0].samples[0].id;
    let sample = store.sample(id).expect("kept");
    assert_eq!(sample.request.target, "/login?token=<redacted>&next=/home");
    assert!(sample
        .request
        .headers
        .contains(&("accept".into(), "application/json".into())));
    let texts = [
        serde_json::to_string(&report).expect("serializes"),
        serde_json::to_string(&sample).expect("serializes"),
        crate::render_sample(&sample),
        crate::render_summary(&report),
    ];
    for text in texts {
        assert!(!text.contains("SECRET"), "{text}");
        assert!(
            text.contains("<redacted>") || !text.contains("login?"),
            "{text}"
        );
    }
}

#[test]
fn reports_round_trip_through_json() {
    let store = DiffStore::default();
    record(
        &store,
        &key("a"),
        r#"{"v":0}"#,
        r#"{"v":1}"#,
        Some(r#"{"v":0}"#),
    );
    record(&store, &key("b"), "{}", "{}", None);
    let report = store.report();
    let text = serde_json::to_string(&report).expect("serializes");
    assert!(
        text.contains(r#""noiseOnly":0"#) && text.contains(r#""topFields""#),
        "{text}"
    );
    let back: DiffReport = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back, report);
    let sample = store
        .sample(report.endpoints[0].samples[0].id)
        .expect("kept");
    let back: SampleDiff =
        serde_json::from_str(&serde_json::to_string(&sample).expect("serializes"))
            .expect("deserializes");
    assert_eq!(back, sample);
}

#[test]
fn records_from_many_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<DiffStore>();
    let store = DiffStore::default();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let store = &store;
            scope.spawn(move || {
                for i in 0..50 {
                    let candidate = if i % 5 == 0 {
                        r#"{"v":1}"#
                    } else {
                        r#"{"v":0}"#
                    };
                    record(
                        store,
                        &key(&format!("r{}", t % 2)),
                        r#"{"v":0}"#,
                        candidate,
                        None,
                    );
                }
            });
        }
    });
    let report = store.report();
    let compared: u64 = report.endpoints.iter().map(|e| e.compared).sum();
    let regressions: u64 = report.endpoints.iter().map(|e| e.regressions).sum();
    assert_eq!((compared, regressions), (200, 40));
}
