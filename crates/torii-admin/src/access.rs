//! Who may use the admin server, decided for every request before any route runs.
//!
//! [`AdminAccess::check`] is a pure function of the request's method, path, headers and peer:
//!
//! 1. **DNS rebinding**: `Host` must be an IP literal, `localhost`, or a name given with
//!    [`AdminAccess::with_allowed_hosts`]. A rebinding attack makes a browser send its own
//!    DNS name (`Host: rebind.evil.example`); an IP literal can never be that name.
//! 2. **Cross-origin**: an `Origin` header, when present, must be the same origin as `Host`
//!    (`null` is refused); a mutation whose `Sec-Fetch-Site` is `cross-site` or `same-site`
//!    is refused.
//! 3. **Token**: with a token set, mutations (every method but GET, HEAD and OPTIONS) and
//!    every read except `/readyz`, `/healthz` and (unless asked) `/metrics` need
//!    `Authorization: Bearer <token>`, compared in constant time. Without a token the admin
//!    server is loopback-only ([`AdminAccess::new`] refuses anything else) and mutations
//!    must come from a loopback peer.
//! 4. **Forgeable shapes**: a mutation with a body must say `Content-Type: application/json`;
//!    one without a body needs the token or an `X-Torii-Request` header. A cross-site page can
//!    send neither without a CORS preflight, and the admin server grants none (it never sends
//!    `Access-Control-Allow-*`).

use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// The header the CLI sends on every request; a browser page on another origin cannot set it
/// without a CORS preflight.
pub const REQUEST_HEADER: &str = "x-torii-request";

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// The longest token accepted (a token file is small; anything larger is the wrong file).
const MAX_TOKEN_LEN: usize = 4096;

/// The secret a client shows as `Authorization: Bearer <token>`. Never printed: its `Debug`
/// is redacted.
#[derive(Clone)]
pub struct AdminToken(Box<str>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Why a text is not a usable token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidAdminToken {
    /// Nothing but whitespace.
    #[error("the token is empty")]
    Empty,
    /// Shorter than [`MIN_TOKEN_LEN`].
    #[error(
        "the token is {0} characters long; use at least 16 (for example `openssl rand -hex 32`)"
    )]
    TooShort(usize),
    /// Longer than any token.
    #[error("the token is {0} characters long; this is not a token file")]
    TooLong(usize),
    /// Holds a character that cannot travel in a header (only printable ASCII, no spaces).
    #[error("the token holds characters other than printable ASCII without spaces")]
    NotPrintable,
}

/// A token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenFileError {
    /// The file cannot be read.
    #[error("cannot read the admin token file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a usable token.
    #[error("invalid admin token file {}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with its text.
        #[source]
        source: InvalidAdminToken,
    },
}

impl AdminToken {
    /// A token from text: surrounding whitespace (a trailing newline) is removed; the rest
    /// must be 16 to 4096 printable ASCII characters.
    pub fn parse(text: &str) -> Result<AdminToken, InvalidAdminToken> {
        let token = text.trim();
        let len = token.chars().count();
        if token.is_empty() {
            Err(InvalidAdminToken::Empty)
        } else if len > MAX_TOKEN_LEN {
            Err(InvalidAdminToken::TooLong(len))
        } else if !token.bytes().all(|b| b.is_ascii_graphic()) {
            Err(InvalidAdminToken::NotPrintable)
        } else if len < MIN_TOKEN_LEN {
            Err(InvalidAdminToken::TooShort(len))
        } else {
            Ok(AdminToken(token.into()))
        }
    }

    /// Reads a token file (the one given to `--admin-token-file`).
    pub fn read(path: &Path) -> Result<AdminToken, AdminTokenFileError> {
        let text = std::fs::read(path).map_err(|source| AdminTokenFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |source| AdminTokenFileError::Invalid {
            path: path.to_owned(),
            source,
        };
        let text =
            std::str::from_utf8(&text).map_err(|_| invalid(InvalidAdminToken::NotPrintable))?;
        AdminToken::parse(text).map_err(invalid)
    }

    /// The secret itself, for a client building its `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token; takes the same time wherever they differ.
    fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented))
    }
}

/// A DNS name that `Host` may carry besides loopback names and IP literals
/// (`--admin-allowed-host`): lower-cased, without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost(Box<str>);

/// A text that is not a host name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a host name (letters, digits, '-', '_' and '.', no port)")]
pub struct InvalidAllowedHost(pub String);

impl std::str::FromStr for AllowedHost {
    type Err = InvalidAllowedHost;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(AllowedHost(name.into()))
        } else {
            Err(InvalidAllowedHost(text.to_owned()))
        }
    }
}

/// The admin server would listen beyond loopback with nothing to authenticate callers.
#[derive(Debug, thiserror::Error)]
#[error("admin address {address} is beyond loopback and no admin token is set")]
pub struct UnprotectedAdminError {
    /// The address asked for.
    pub address: SocketAddr,
}

/// Who may use the admin server: its address, its token, the extra host names it answers to.
#[derive(Debug, Clone)]
pub struct AdminAccess {
    address: SocketAddr,
    token: Option<AdminToken>,
    allowed_hosts: Vec<AllowedHost>,
    metrics_need_token: bool,
}

/// Whether an address is loopback (`127.0.0.0/8`, `::1`, and their IPv4-mapped forms).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

impl AdminAccess {
    /// The policy for an admin server on `address`; without a token only a loopback address
    /// is allowed.
    pub fn new(
        address: SocketAddr,
        token: Option<AdminToken>,
    ) -> Result<AdminAccess, UnprotectedAdminError> {
        if token.is_none() && !is_loopback(address.ip()) {
            return Err(UnprotectedAdminError { address });
        }
        Ok(AdminAccess {
            address,
            token,
            allowed_hosts: Vec::new(),
            metrics_need_token: false,
        })
    }

    /// Also answers requests whose `Host` is one of `hosts`.
    pub fn with_allowed_hosts(mut self, hosts: impl IntoIterator<Item = AllowedHost>) -> Self {
        self.allowed_hosts.extend(hosts);
        self
    }

    /// Whether `/metrics` needs the token too (when one is set).
    pub fn with_metrics_token(mut self, needed: bool) -> Self {
        self.metrics_need_token = needed;
        self
    }

    /// The address the admin server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Whether a token is set.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Decides one request: `Ok` lets it through to the routes.
    pub fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<(), Refusal> {
        let host = self.host(uri, headers)?;
        let origin = single(headers, &header::ORIGIN).map_err(|_| Refusal::CrossOrigin)?;
        if let Some(origin) = origin {
            let same = match (host, parse_origin(origin)) {
                (Some(host), Some(origin)) => host == origin,
                _ => false,
            };
            if !same {
                return Err(Refusal::CrossOrigin);
            }
        }
        let mutation = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if mutation {
            let site = single(headers, &HeaderName::from_static("sec-fetch-site"))
                .map_err(|_| Refusal::CrossSite)?;
            if site.is_some_and(|site| {
                site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site")
            }) {
                return Err(Refusal::CrossSite);
            }
        }
        let authenticated = match &self.token {
            Some(token) if mutation || !self.is_open(uri.path()) => {
                check_token(token, headers)?;
                true
            }
            _ => false,
        };
        if !mutation {
            return Ok(());
        }
        if self.token.is_none() && !peer.is_some_and(is_loopback) {
            return Err(Refusal::NotLoopback);
        }
        if has_body(headers) {
            let json = single(headers, &header::CONTENT_TYPE)
                .ok()
                .flatten()
                .and_then(|value| value.split(';').next())
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
            if !json {
                return Err(Refusal::NotJson);
            }
        } else if !authenticated && !headers.contains_key(REQUEST_HEADER) {
            return Err(Refusal::NoRequestHeader);
        }
        Ok(())
    }

    /// Paths readable without the token: the probes, and `/metrics` unless asked otherwise.
    fn is_open(&self, path: &str) -> bool {
        match path {
            "/readyz" | "/healthz" => true,
            "/metrics" => !self.metrics_need_token,
            _ => false,
        }
    }

    /// The request's host and port (`None`: no `Host` at all, as HTTP/1.0 clients may send),
    /// or a refusal when it names something this server does not answer to.
    fn host<'a>(
        &self,
        uri: &'a Uri,
        headers: &'a HeaderMap,
    ) -> Result<Option<Authority<'a>>, Refusal> {
        let header = single(headers, &header::HOST).map_err(|_| Refusal::HostNotAllowed)?;
        let mut found = None;
        // An absolute-form target names a host too; both must pass.
        for text in [header, uri.authority().map(|a| a.as_str())]
            .into_iter()
            .flatten()
        {
            let authority = parse_authority(text).ok_or(Refusal::HostNotAllowed)?;
            if !self.host_allowed(&authority.host) {
                return Err(Refusal::HostNotAllowed);
            }
            found = found.or(Some(authority));
        }
        Ok(found)
    }

    fn host_allowed(&self, host: &HostPart<'_>) -> bool {
        match host {
            HostPart::Ip(_) => true,
            HostPart::Name(name) => {
                let name = name.strip_suffix('.').unwrap_or(name);
                name.eq_ignore_ascii_case("localhost")
                    || self
                        .allowed_hosts
                        .iter()
                        .any(|allowed| name.eq_ignore_ascii_case(&allowed.0))
            }
        }
    }
}

/// A header sent twice, or not as text: never guessed at.
struct Ambiguous;

/// The one value of a header, `Ok(None)` when absent.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a str>, Ambiguous> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Ambiguous);
    }
    first.to_str().map(Some).map_err(|_| Ambiguous)
}

fn check_token(token: &AdminToken, headers: &HeaderMap) -> Result<(), Refusal> {
    let value = single(headers, &header::AUTHORIZATION)
        .ok()
        .flatten()
        .ok_or(Refusal::MissingToken)?;
    // RFC 9110 §11.1: the scheme is case-insensitive; RFC 6750 §2.1: `Bearer 1*SP b64token`.
    let (scheme, presented) = value.split_once(' ').ok_or(Refusal::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::MissingToken);
    }
    if token.matches(presented.trim_start_matches(' ').as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::WrongToken)
    }
}

/// Whether the request carries a body (RFC 9112 §6.3: `Transfer-Encoding`, or a
/// `Content-Length` other than 0).
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .any(|value| value.as_bytes().iter().any(|b| !matches!(b, b'0' | b' ')))
}

/// A host, as a `Host` header or an origin names it.
#[derive(Debug, Clone, Copy)]
enum HostPart<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

impl PartialEq for HostPart<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HostPart::Ip(a), HostPart::Ip(b)) => a == b,
            (HostPart::Name(a), HostPart::Name(b)) => a
                .trim_end_matches('.')
                .eq_ignore_ascii_case(b.trim_end_matches('.')),
            _ => false,
        }
    }
}

/// Host and port; the port is `None` when left out (the scheme's default).
#[derive(Debug, Clone, Copy)]
struct Authority<'a> {
    host: HostPart<'a>,
    port: Option<u16>,
}

/// An origin (RFC 6454 §7): scheme, host, port.
#[derive(Debug)]
struct Origin<'a> {
    authority: Authority<'a>,
    default_port: u16,
}

impl PartialEq<Origin<'_>> for Authority<'_> {
    /// Whether a request with this `Host` comes from the same origin (the admin server speaks
    /// plain HTTP, but a TLS-terminating proxy in front may make it `https`).
    fn eq(&self, origin: &Origin<'_>) -> bool {
        self.host == origin.authority.host
            && self.port.unwrap_or(origin.default_port)
                == origin.authority.port.unwrap_or(origin.default_port)
    }
}

/// `host[:port]` of RFC 9110 §7.2 (`[v6]` for IPv6); `None` when malformed.
fn parse_authority(text: &str) -> Option<Authority<'_>> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (HostPart::Ip(IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?)), port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return None;
        }
        let host = match host.parse::<std::net::Ipv4Addr>() {
            Ok(ip) => HostPart::Ip(IpAddr::V4(ip)),
            Err(_) => HostPart::Name(host),
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            Some(port.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some(Authority { host, port })
}

/// An `Origin` header (`scheme://host[:port]`); `None` for `null` and anything that is not an
/// http or https origin.
fn parse_origin(text: &str) -> Option<Origin<'_>> {
    let (scheme, rest) = text.split_once("://")?;
    let default_port = if scheme.eq_ignore_ascii_case("http") {
        80
    } else if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        return None;
    };
    Some(Origin {
        authority: parse_authority(rest)?,
        default_port,
    })
}

/// Why a request was refused; each becomes one answer (status, JSON `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` names something this server does not answer to (DNS rebinding).
    HostNotAllowed,
    /// `Origin` is another origin than `Host`, or `null`, or headers are ambiguous.
    CrossOrigin,
    /// A mutation a browser marked `Sec-Fetch-Site: cross-site` or `same-site`.
    CrossSite,
    /// No bearer token where one is needed.
    MissingToken,
    /// A bearer token that is not the one set.
    WrongToken,
    /// A mutation from beyond loopback with no token set.
    NotLoopback,
    /// A mutation whose body is not `application/json`.
    NotJson,
    /// A body-less mutation with neither the token nor `X-Torii-Request`.
    NoRequestHeader,
}

impl Refusal {
    /// Every refusal, for metrics.
    pub const ALL: [Refusal; 8] = [
        Refusal::HostNotAllowed,
        Refusal::CrossOrigin,
        Refusal::CrossSite,
        Refusal::MissingToken,
        Refusal::WrongToken,
        Refusal::NotLoopback,
        Refusal::NotJson,
        Refusal::NoRequestHeader,
    ];

    /// The answer's status.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::MissingToken | Refusal::WrongToken => StatusCode::UNAUTHORIZED,
            Refusal::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::FORBIDDEN,
        }
    }

    /// A short name, the `reason` label of `torii_admin_refused_requests_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::HostNotAllowed => "host",
            Refusal::CrossOrigin => "origin",
            Refusal::CrossSite => "cross_site",
            Refusal::MissingToken => "missing_token",
            Refusal::WrongToken => "wrong_token",
            Refusal::NotLoopback => "not_loopback",
            Refusal::NotJson => "content_type",
            Refusal::NoRequestHeader => "request_header",
        }
    }

    /// What the answer's `error` says (never echoing what the request sent).
    pub fn message(self) -> &'static str {
        match self {
            Refusal::HostNotAllowed => {
                "the Host header names neither an IP address, localhost nor a name given with --admin-allowed-host"
            }
            Refusal::CrossOrigin => "cross-origin requests are refused",
            Refusal::CrossSite => "cross-site requests are refused",
            Refusal::MissingToken => {
                "this admin server needs a token: send Authorization: Bearer <token> (torii's CLI: --admin-token-file FILE)"
            }
            Refusal::WrongToken => "the admin token is wrong",
            Refusal::NotLoopback => "changes without a token are accepted from loopback only",
            Refusal::NotJson => "a request body must be application/json",
            Refusal::NoRequestHeader => {
                "a change needs the admin token or an X-Torii-Request header"
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message() }).to_string();
        let mut response = (
            self.status(),
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response();
        // RFC 6750 §3: a challenge on every 401; `invalid_token` when one was sent.
        let challenge = match self {
            Refusal::MissingToken => Some(r#"Bearer realm="torii admin""#),
            Refusal::WrongToken => Some(r#"Bearer realm="torii admin", error="invalid_token""#),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests;
