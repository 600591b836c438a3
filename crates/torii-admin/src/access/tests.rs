use super::*;
use axum::http::HeaderValue;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const ADMIN: &str = "127.0.0.1:9901";

/// One request and what the layer must answer. `None` in a header column: the header is not
/// sent.
struct Case {
    name: &'static str,
    /// Whether the server has a token set.
    token_set: bool,
    method: Method,
    path: &'static str,
    host: Option<&'static str>,
    origin: Option<&'static str>,
    fetch_site: Option<&'static str>,
    content_type: Option<&'static str>,
    content_length: Option<&'static str>,
    authorization: Option<&'static str>,
    request_header: bool,
    peer: Option<&'static str>,
    expect: Result<(), Refusal>,
}

impl Case {
    /// A body-less POST to a rollout command, from the CLI on loopback, no token set.
    fn post(name: &'static str) -> Case {
        Case {
            name,
            token_set: false,
            method: Method::POST,
            path: "/api/v1/rollouts/default/shop/pause",
            host: Some(ADMIN),
            origin: None,
            fetch_site: None,
            content_type: None,
            content_length: Some("0"),
            authorization: None,
            request_header: true,
            peer: Some("127.0.0.1"),
            expect: Ok(()),
        }
    }

    /// A plain GET of `path`, no token set.
    fn get(name: &'static str, path: &'static str) -> Case {
        Case {
            method: Method::GET,
            path,
            content_length: None,
            request_header: false,
            ..Case::post(name)
        }
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut put = |name: HeaderName, value: Option<&str>| {
            if let Some(value) = value {
                headers.append(name, HeaderValue::from_str(value).expect("valid header"));
            }
        };
        put(header::HOST, self.host);
        put(header::ORIGIN, self.origin);
        put(HeaderName::from_static("sec-fetch-site"), self.fetch_site);
        put(header::CONTENT_TYPE, self.content_type);
        put(header::CONTENT_LENGTH, self.content_length);
        put(header::AUTHORIZATION, self.authorization);
        if self.request_header {
            put(HeaderName::from_static(REQUEST_HEADER), Some("1"));
        }
        headers
    }
}

fn access(token_set: bool) -> AdminAccess {
    let token = token_set.then(|| AdminToken::parse(TOKEN).expect("valid token"));
    AdminAccess::new(ADMIN.parse().expect("address"), token)
        .expect("loopback")
        .with_allowed_hosts(["admin.internal".parse().expect("host name")])
}

/// method × Host × Origin × Sec-Fetch-Site × Content-Type × token → answer.
#[test]
fn decides_every_request() {
    let bearer = "Bearer 0123456789abcdef0123456789abcdef";
    let cases = [
        // The attack of issue 11 §4: a page on evil.example whose name rebinds to loopback.
        Case {
            expect: Err(Refusal::HostNotAllowed),
            host: Some("rebind.evil.example:9901"),
            origin: Some("http://evil.example"),
            ..Case::post("DNS rebinding with a cross origin")
        },
        Case {
            expect: Err(Refusal::HostNotAllowed),
            host: Some("rebind.evil.example:9901"),
            origin: Some("http://rebind.evil.example:9901"),
            fetch_site: Some("same-origin"),
            ..Case::post("DNS rebinding, same origin as far as the browser knows")
        },
        Case {
            expect: Err(Refusal::HostNotAllowed),
            host: Some("rebind.evil.example"),
            ..Case::get("rebinding applies to reads too", "/api/v1/status")
        },
        Case {
            expect: Err(Refusal::HostNotAllowed),
            host: Some("rebind.evil.example"),
            ..Case::get("and to unknown paths", "/nope")
        },
        Case {
            expect: Err(Refusal::HostNotAllowed),
            host: Some("localhost.evil.example"),
            ..Case::get("a name that starts like localhost", "/api/v1/status")
        },
        Case::post("the CLI on loopback"),
        Case {
            host: Some("localhost:9901"),
            ..Case::post("Host localhost")
        },
        Case {
            host: Some("LOCALHOST."),
            ..Case::post("Host localhost, any case, trailing dot")
        },
        Case {
            host: Some("[::1]:9901"),
            ..Case::post("Host [::1]")
        },
        Case {
            host: Some("10.1.2.3:9901"),
            ..Case::get("any IP literal (a probe to the pod IP)", "/readyz")
        },
        Case {
            host: Some("admin.internal:9901"),
            ..Case::post("a name from --admin-allowed-host")
        },
        Case {
            host: Some("ADMIN.internal"),
            ..Case::get("allowed names in any case", "/api/v1/status")
        },
        Case {
            expect: Err(Refusal::HostNotAllowed),
            host: Some("::1"),
            ..Case::get("IPv6 without brackets is malformed", "/readyz")
        },
        Case {
            expect: Err(Refusal::HostNotAllowed),
            host: Some("127.0.0.1:99999"),
            ..Case::get("a port out of range", "/readyz")
        },
        Case {
            expect: Err(Refusal::HostNotAllowed),
            host: Some("127.0.0.1:"),
            ..Case::get("an empty port", "/readyz")
        },
        Case {
            expect: Err(Refusal::HostNotAllowed),
            host: Some("evil.example@127.0.0.1"),
            ..Case::get("userinfo is not a host", "/readyz")
        },
        Case {
            host: None,
            ..Case::get("no Host (HTTP/1.0 tools): not a browser", "/api/v1/status")
        },
        // RFC 6454 §5: same origin = same scheme, host and port.
        Case {
            origin: Some("http://127.0.0.1:9901"),
            ..Case::post("same origin")
        },
        Case {
            host: Some("localhost"),
            origin: Some("http://localhost:80"),
            ..Case::post("same origin, default port")
        },
        Case {
            expect: Err(Refusal::CrossOrigin),
            origin: Some("http://127.0.0.1:3000"),
            ..Case::post("another port on loopback is another origin")
        },
        Case {
            expect: Err(Refusal::CrossOrigin),
            origin: Some("http://localhost:9901"),
            ..Case::post("localhost is another origin than 127.0.0.1")
        },
        Case {
            expect: Err(Refusal::CrossOrigin),
            origin: Some("null"),
            ..Case::post("a null origin (sandboxed frame, file:)")
        },
        Case {
            expect: Err(Refusal::CrossOrigin),
            origin: Some("http://evil.example"),
            ..Case::get("a cross-origin read", "/api/v1/status")
        },
        Case {
            expect: Err(Refusal::CrossOrigin),
            origin: Some("http://evil.example"),
            method: Method::OPTIONS,
            ..Case::get("a CORS preflight from another origin", "/api/v1/rollouts")
        },
        Case {
            expect: Err(Refusal::CrossOrigin),
            host: None,
            origin: Some("http://127.0.0.1:9901"),
            ..Case::post("an origin but no Host to compare it with")
        },
        // Fetch Metadata: only the browser sets Sec-Fetch-*.
        Case {
            expect: Err(Refusal::CrossSite),
            fetch_site: Some("cross-site"),
            ..Case::post("Sec-Fetch-Site cross-site")
        },
        Case {
            expect: Err(Refusal::CrossSite),
            fetch_site: Some("same-site"),
            ..Case::post("Sec-Fetch-Site same-site (another port of localhost)")
        },
        Case {
            fetch_site: Some("same-origin"),
            ..Case::post("Sec-Fetch-Site same-origin")
        },
        Case {
            fetch_site: Some("cross-site"),
            ..Case::get("a cross-site navigation that only reads", "/api/v1/status")
        },
        // Forgeable shapes: what an HTML form can send without a preflight.
        Case {
            expect: Err(Refusal::NotJson),
            content_type: Some("text/plain"),
            content_length: Some("12"),
            request_header: false,
            ..Case::post("a text/plain form post")
        },
        Case {
            expect: Err(Refusal::NoRequestHeader),
            content_type: Some("application/x-www-form-urlencoded"),
            content_length: Some("0"),
            request_header: false,
            ..Case::post("an empty form post")
        },
        Case {
            expect: Err(Refusal::NotJson),
            content_type: Some("text/plain"),
            content_length: Some("12"),
            ..Case::post("a body that is not JSON, even with the header")
        },
        Case {
            content_type: Some("Application/JSON; charset=utf-8"),
            content_length: Some("2"),
            request_header: false,
            ..Case::post("a JSON body")
        },
        Case {
            expect: Err(Refusal::NoRequestHeader),
            request_header: false,
            ..Case::post("body-less without X-Torii-Request")
        },
        Case {
            expect: Err(Refusal::NoRequestHeader),
            content_length: None,
            request_header: false,
            ..Case::post("no Content-Length at all")
        },
        Case {
            expect: Err(Refusal::NotLoopback),
            peer: Some("10.0.0.9"),
            ..Case::post("a change from beyond loopback without a token")
        },
        Case {
            expect: Err(Refusal::NotLoopback),
            peer: None,
            ..Case::post("a change from an unknown peer without a token")
        },
        Case {
            peer: Some("10.0.0.9"),
            ..Case::get("a read from beyond loopback", "/api/v1/status")
        },
        // RFC 6750 §2.1: Authorization: Bearer <token>.
        Case {
            token_set: true,
            authorization: Some(bearer),
            request_header: false,
            ..Case::post("the token, body-less")
        },
        Case {
            token_set: true,
            authorization: Some("bearer   0123456789abcdef0123456789abcdef"),
            request_header: false,
            peer: Some("10.0.0.9"),
            ..Case::post("the token, scheme in any case, from beyond loopback")
        },
        Case {
            expect: Err(Refusal::MissingToken),
            token_set: true,
            ..Case::post("no token, X-Torii-Request is not enough")
        },
        Case {
            expect: Err(Refusal::WrongToken),
            token_set: true,
            authorization: Some("Bearer 0123456789abcdef0123456789abcdeF"),
            ..Case::post("a wrong token")
        },
        Case {
            expect: Err(Refusal::WrongToken),
            token_set: true,
            authorization: Some("Bearer 0123456789abcdef0123456789abcde"),
            ..Case::post("a prefix of the token")
        },
        Case {
            expect: Err(Refusal::MissingToken),
            token_set: true,
            authorization: Some("Basic MDEyMzQ1Njc4OWFiY2RlZg=="),
            ..Case::post("another scheme")
        },
        Case {
            expect: Err(Refusal::HostNotAllowed),
            token_set: true,
            authorization: Some(bearer),
            host: Some("rebind.evil.example"),
            ..Case::post("the token does not lift the Host check")
        },
        Case {
            expect: Err(Refusal::CrossOrigin),
            token_set: true,
            authorization: Some(bearer),
            origin: Some("http://evil.example"),
            ..Case::post("nor the Origin check")
        },
        Case {
            expect: Err(Refusal::NotJson),
            token_set: true,
            authorization: Some(bearer),
            content_type: Some("text/plain"),
            content_length: Some("3"),
            ..Case::post("nor the body type")
        },
        Case {
            expect: Err(Refusal::MissingToken),
            token_set: true,
            ..Case::get("reads of the API need the token", "/api/v1/status")
        },
        Case {
            expect: Err(Refusal::MissingToken),
            token_set: true,
            ..Case::get("so do unknown paths", "/api/v2/future")
        },
        Case {
            token_set: true,
            authorization: Some(bearer),
            ..Case::get("a read with the token", "/api/v1/diffs")
        },
        Case {
            token_set: true,
            ..Case::get("probes stay open", "/readyz")
        },
        Case {
            token_set: true,
            ..Case::get("so does /healthz", "/healthz")
        },
        Case {
            token_set: true,
            ..Case::get("and /metrics by default", "/metrics")
        },
        Case {
            expect: Err(Refusal::MissingToken),
            token_set: true,
            method: Method::DELETE,
            ..Case::get("any other method is a change", "/metrics")
        },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let expect = case.expect;
        let uri: Uri = case.path.parse().expect("path");
        let peer = case.peer.map(|ip| ip.parse().expect("peer address"));
        let got = access(case.token_set).check(&case.method, &uri, &case.headers(), peer);
        if got != expect {
            failures.push(format!("{}: expected {expect:?}, got {got:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tokens_are_trimmed_long_enough_and_printable() {
    let cases: [(&str, Result<&str, InvalidAdminToken>); 7] = [
        ("0123456789abcdef\n", Ok("0123456789abcdef")),
        (
            "  s3cr3t+/=-_.~0123456789  \r\n",
            Ok("s3cr3t+/=-_.~0123456789"),
        ),
        ("", Err(InvalidAdminToken::Empty)),
        (" \n\t", Err(InvalidAdminToken::Empty)),
        ("0123456789abcde", Err(InvalidAdminToken::TooShort(15))),
        ("0123456789 abcdef", Err(InvalidAdminToken::NotPrintable)),
        ("0123456789abcdéf", Err(InvalidAdminToken::NotPrintable)),
    ];
    for (text, expect) in cases {
        let got = AdminToken::parse(text);
        assert_eq!(
            got.as_ref().map(AdminToken::expose),
            expect.as_deref(),
            "{text:?}"
        );
    }
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(
        AdminToken::parse(&long).map(|_| ()),
        Err(InvalidAdminToken::TooLong(MAX_TOKEN_LEN + 1))
    );
}

#[test]
fn token_is_never_printed() {
    let token = AdminToken::parse(TOKEN).expect("valid token");
    let access =
        AdminAccess::new(ADMIN.parse().expect("address"), Some(token.clone())).expect("loopback");
    for shown in [format!("{token:?}"), format!("{access:?}")] {
        assert!(!shown.contains(TOKEN), "{shown}");
    }
}

#[test]
fn token_file_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("torii-admin-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let short = dir.join("short");
    std::fs::write(&short, "abc\n").expect("write");
    let error = AdminToken::read(&short).expect_err("too short");
    assert!(
        error.to_string().contains(&*short.to_string_lossy()),
        "{error}"
    );
    let missing = dir.join("missing");
    let error = AdminToken::read(&missing).expect_err("missing");
    assert!(
        error.to_string().contains(&*missing.to_string_lossy()),
        "{error}"
    );
    let good = dir.join("good");
    std::fs::write(&good, format!("{TOKEN}\n")).expect("write");
    assert_eq!(AdminToken::read(&good).expect("valid").expose(), TOKEN);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn beyond_loopback_needs_a_token() {
    let token = || Some(AdminToken::parse(TOKEN).expect("valid token"));
    for (address, token, allowed) in [
        ("127.0.0.1:9901", None, true),
        ("127.3.4.5:9901", None, true),
        ("[::1]:9901", None, true),
        ("[::ffff:127.0.0.1]:9901", None, true),
        ("0.0.0.0:9901", None, false),
        ("[::]:9901", None, false),
        ("10.0.0.1:9901", None, false),
        ("0.0.0.0:9901", token(), true),
    ] {
        let address: SocketAddr = address.parse().expect("address");
        assert_eq!(
            AdminAccess::new(address, token).is_ok(),
            allowed,
            "{address}"
        );
    }
}

#[test]
fn allowed_hosts_are_names() {
    for (text, expect) in [
        ("admin.example.com", Some("admin.example.com")),
        ("Admin.Example.COM.", Some("admin.example.com")),
        ("torii-admin_1", Some("torii-admin_1")),
        ("", None),
        ("admin.example.com:9901", None),
        ("http://admin.example.com", None),
        ("a b", None),
    ] {
        let got = text.parse::<AllowedHost>().ok();
        assert_eq!(got.as_ref().map(|h| &*h.0), expect, "{text:?}");
    }
}

/// RFC 6750 §3: a 401 carries a `WWW-Authenticate: Bearer` challenge; refusals are JSON.
#[test]
fn refusals_answer_json_with_a_challenge_on_401() {
    for refusal in Refusal::ALL {
        let response = refusal.into_response();
        assert_eq!(response.status(), refusal.status());
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let challenge = headers.get(header::WWW_AUTHENTICATE);
        assert_eq!(
            challenge.is_some(),
            response.status() == StatusCode::UNAUTHORIZED,
            "{refusal:?}"
        );
        if let Some(challenge) = challenge {
            assert!(
                challenge.as_bytes().starts_with(b"Bearer "),
                "{challenge:?}"
            );
        }
        assert!(
            !headers
                .keys()
                .any(|name| name.as_str().starts_with("access-control-")),
            "{refusal:?}"
        );
    }
}
