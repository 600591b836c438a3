//! Webhook delivery: one JSON POST per event over hyper's pooled client (rustls for https).

use crate::config::WebhookConfig;
use crate::error::SinkProblem;
use crate::retry::AttemptError;
use crate::tls::{client_config, error_chain};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// The `User-Agent` of every webhook request: `torii/<version>`.
pub const USER_AGENT: &str = concat!("torii/", env!("CARGO_PKG_VERSION"));

/// Headers torii sets (or that would break the framing); the configuration cannot set them.
const RESERVED: [&str; 11] = [
    "host",
    "content-type",
    "content-length",
    "user-agent",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
];

/// How long torii reads a response body (to reuse the connection) before giving up on it.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
/// How much of a response body torii reads.
const DRAIN_LIMIT: usize = 64 * 1024;

/// A validated webhook with its client.
pub(crate) struct WebhookSink {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    headers: HeaderMap,
    timeout: Duration,
}

impl WebhookSink {
    /// Validates `config` and builds the client (no connection is made).
    pub(crate) fn new(config: &WebhookConfig) -> Result<Self, SinkProblem> {
        let uri = parse_url(&config.url)?;
        let headers = headers(config)?;
        if config.timeout.is_zero() {
            return Err(SinkProblem::ZeroTimeout);
        }
        let tls = client_config(config.ca_certificates.as_deref())?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(2)
            .build(https);
        Ok(WebhookSink {
            client,
            uri,
            headers,
            timeout: config.timeout,
        })
    }

    /// One POST of `body`; `Ok` on a 2xx answer.
    pub(crate) async fn attempt(&self, body: &Bytes) -> Result<(), AttemptError> {
        let mut request = Request::post(self.uri.clone())
            .body(Full::new(body.clone()))
            .map_err(|e| AttemptError::GiveUp {
                reason: format!("cannot build the request: {e}"),
                code: None,
            })?;
        *request.headers_mut() = self.headers.clone();
        let response = match tokio::time::timeout(self.timeout, self.client.request(request)).await
        {
            Err(_) => {
                return Err(AttemptError::Retry {
                    reason: "timed out waiting for the response".to_owned(),
                    code: None,
                    retry_after: None,
                })
            }
            Ok(Err(e)) => {
                return Err(AttemptError::Retry {
                    reason: error_chain(&e),
                    code: None,
                    retry_after: None,
                })
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        // Read (a bounded amount of) the body so the connection can serve the next event.
        let drain = Limited::new(response.into_body(), DRAIN_LIMIT).collect();
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
        classify(status, retry_after)
    }
}

/// 2xx delivered; 408, 429 and 5xx retried; anything else (3xx, other 4xx) given up.
fn classify(status: StatusCode, retry_after: Option<Duration>) -> Result<(), AttemptError> {
    let code = Some(status.as_u16());
    if status.is_success() {
        Ok(())
    } else if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Err(AttemptError::Retry {
            reason: format!("the receiver answered {status}"),
            code,
            retry_after,
        })
    } else {
        Err(AttemptError::GiveUp {
            reason: format!("the receiver answered {status}"),
            code,
        })
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

fn parse_url(url: &str) -> Result<Uri, SinkProblem> {
    let uri: Uri = url.trim().parse().map_err(|_| SinkProblem::InvalidUrl)?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(SinkProblem::UnsupportedScheme(other.to_owned())),
        None => return Err(SinkProblem::InvalidUrl),
    }
    let authority = uri.authority().ok_or(SinkProblem::InvalidUrl)?;
    if authority.as_str().contains('@') {
        return Err(SinkProblem::CredentialsInUrl);
    }
    if authority.host().is_empty() {
        return Err(SinkProblem::InvalidUrl);
    }
    Ok(uri)
}

fn headers(config: &WebhookConfig) -> Result<HeaderMap, SinkProblem> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    let mut seen = std::collections::HashSet::new();
    for (name, value) in &config.headers {
        let parsed = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| SinkProblem::InvalidHeaderName(name.clone()))?;
        if RESERVED.contains(&parsed.as_str()) {
            return Err(SinkProblem::ReservedHeader(name.clone()));
        }
        if !seen.insert(parsed.clone()) {
            return Err(SinkProblem::DuplicateHeader(name.clone()));
        }
        let mut value = HeaderValue::from_str(value.expose())
            .map_err(|_| SinkProblem::InvalidHeaderValue(name.clone()))?;
        value.set_sensitive(true);
        headers.insert(parsed, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(config: WebhookConfig) -> String {
        match WebhookSink::new(&config) {
            Ok(_) => panic!("{config:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn urls_are_checked() {
        for (url, want) in [
            ("ftp://example.com/x", "must be http or https, not \"ftp\""),
            ("example.com/hook", "not a valid absolute URL"),
            ("/hook", "not a valid absolute URL"),
            (
                "https://user:secret@example.com/hook",
                "must not carry credentials",
            ),
            ("http://exa mple.com/", "not a valid absolute URL"),
        ] {
            let text = problem(WebhookConfig::new(url));
            assert!(text.contains(want), "{url}: {text}");
            assert!(!text.contains("secret"), "{text}");
        }
        for url in [
            "http://127.0.0.1:8080/hook",
            "https://hooks.example.com/services/T0/B0/x?y=z",
            "https://[::1]/",
        ] {
            WebhookSink::new(&WebhookConfig::new(url)).expect(url);
        }
    }

    #[test]
    fn headers_are_checked_and_values_are_sensitive() {
        let base = || WebhookConfig::new("https://example.com/");
        assert!(
            problem(base().with_header("Bad Name", "x")).contains("not a valid HTTP header name")
        );
        let text = problem(base().with_header("X-Token", "s3cr3t\n"));
        assert!(
            text.contains("X-Token") && !text.contains("s3cr3t"),
            "{text}"
        );
        assert!(problem(base().with_header("content-type", "text/plain")).contains("set by torii"));
        assert!(problem(base().with_header("Host", "x")).contains("set by torii"));
        assert!(
            problem(base().with_header("x-a", "1").with_header("X-A", "2"))
                .contains("more than once")
        );
        assert!(problem(base().with_timeout(Duration::ZERO)).contains("longer than zero"));
        assert!(problem(base().with_ca_certificates("not pem")).contains("caCertificates"));

        let map = headers(&base().with_header("Authorization", "Bearer t")).unwrap();
        assert_eq!(map[header::CONTENT_TYPE], "application/json");
        assert_eq!(map[header::USER_AGENT], USER_AGENT);
        assert!(map[header::AUTHORIZATION].is_sensitive());
        assert!(!format!("{map:?}").contains("Bearer t"));
    }

    #[test]
    fn statuses_are_classified() {
        let retried = |s: u16| {
            matches!(
                classify(StatusCode::from_u16(s).unwrap(), None),
                Err(AttemptError::Retry { .. })
            )
        };
        let given_up = |s: u16| {
            matches!(
                classify(StatusCode::from_u16(s).unwrap(), None),
                Err(AttemptError::GiveUp { .. })
            )
        };
        for s in [200, 201, 202, 204, 299] {
            assert!(
                classify(StatusCode::from_u16(s).unwrap(), None).is_ok(),
                "{s}"
            );
        }
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert!(retried(s), "{s}");
        }
        for s in [301, 302, 400, 401, 403, 404, 410, 422] {
            assert!(given_up(s), "{s}");
        }
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }
}
