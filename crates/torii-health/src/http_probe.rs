//! The http and https checks: one HTTP/1.1 exchange per hop on torii-http1's client
//! connection (driven inline, no task, no buffer held while idle), redirects followed to the
//! same origin address. Each origin keeps its connection between checks unless the probe's
//! options say otherwise.

use crate::error::CheckError;
use crate::probe::{connect, NetProbe, ProbeTarget};
use bytes::Bytes;
use http::header::{CONNECTION, HOST, LOCATION, USER_AGENT};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use torii_config::lb::StatusCodes;
use torii_http1::client::{ClientConnection, ResponseBody, SendError, SendErrorKind};

/// A connection kept between checks of one origin (TLS ones with the name they were opened
/// for).
pub(crate) enum Idle {
    Plain(ClientConnection<TcpStream>),
    Tls(
        Box<ClientConnection<TlsStream<TcpStream>>>,
        ServerName<'static>,
    ),
}

/// A kept connection, counted against the probe's limit for as long as it exists.
pub(crate) struct Kept {
    idle: Option<Idle>,
    count: Arc<AtomicUsize>,
}

impl Kept {
    fn into_idle(mut self) -> Option<Idle> {
        self.idle.take()
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where an origin's kept connection waits for the next check.
pub(crate) type IdleSlot = Arc<Mutex<Option<Kept>>>;

/// Keeps `idle` in `slot`, unless the probe already keeps its limit of connections (then
/// it is dropped, which closes it).
fn keep(slot: &IdleSlot, idle: Idle, count: &Arc<AtomicUsize>, max: usize) {
    if count.fetch_add(1, Ordering::Relaxed) >= max {
        count.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let kept = Kept {
        idle: Some(idle),
        count: Arc::clone(count),
    };
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(kept);
}

/// What one exchange answered.
struct Reply {
    status: StatusCode,
    location: Option<HeaderValue>,
    /// Whether the body holds the expected text; `None` when it was not read.
    body_found: Option<bool>,
}

/// How an exchange failed: before any response byte (on a kept connection, the origin may
/// just have closed it: try a fresh one) or after.
enum Failure {
    BeforeResponse(CheckError),
    After(CheckError),
}

impl Failure {
    fn into_error(self) -> CheckError {
        match self {
            Failure::BeforeResponse(error) | Failure::After(error) => error,
        }
    }
}

/// The request of one hop.
struct Hop<'a> {
    method: &'a Method,
    path: &'a str,
    host: &'a HeaderValue,
    headers: &'a [(http::HeaderName, HeaderValue)],
    keep_alive: bool,
}

/// How the body is judged.
struct Judge<'a> {
    needle: Option<&'a str>,
    codes: &'a StatusCodes,
    follow: bool,
    limit: usize,
}

impl Judge<'_> {
    /// Whether the body of a response with `status` must be searched.
    fn wants_body(&self, status: StatusCode) -> bool {
        self.needle.is_some()
            && codes_contain(self.codes, status)
            && !(self.follow && is_redirect(status))
    }
}

/// Runs an http (or, with `tls`, https) check: request, redirects, status and body.
pub(crate) async fn check(
    probe: &NetProbe,
    target: &ProbeTarget,
    tls: bool,
) -> Result<(), CheckError> {
    let monitor = &**target.monitor();
    let mut host = monitor
        .headers
        .iter()
        .find(|(name, _)| name == HOST)
        .map(|(_, value)| value.clone())
        .or_else(|| target.host().cloned())
        .unwrap_or_else(|| address_host(target.address()));
    let mut path = if monitor.path.starts_with('/') {
        monitor.path.clone()
    } else {
        format!("/{}", monitor.path)
    };
    let mut method = monitor.method.clone();
    let judge = Judge {
        needle: monitor
            .expected_body
            .as_deref()
            .filter(|text| !text.is_empty()),
        codes: &monitor.expected_codes,
        follow: monitor.follow_redirects,
        limit: probe.body_limit,
    };
    let mut hops = 0u8;
    loop {
        let hop = Hop {
            method: &method,
            path: &path,
            host: &host,
            headers: &monitor.headers,
            keep_alive: probe.reuse_connections,
        };
        let reply = send(probe, target, tls, &hop, &judge).await?;
        if judge.follow && is_redirect(reply.status) {
            if hops >= probe.max_redirects {
                return Err(CheckError::Redirect(format!(
                    "more than {} redirects",
                    probe.max_redirects
                )));
            }
            hops += 1;
            let location = reply
                .location
                .ok_or_else(|| CheckError::Redirect("no Location header".into()))?;
            (host, path) = resolve_location(&location, &host, &path)?;
            let status = reply.status.as_u16();
            if (status == 303 && method != Method::HEAD)
                || (matches!(status, 301 | 302) && method == Method::POST)
            {
                method = Method::GET;
            }
            continue;
        }
        if !codes_contain(&monitor.expected_codes, reply.status) {
            return Err(CheckError::Status {
                status: reply.status.as_u16(),
                expected: describe_codes(&monitor.expected_codes),
            });
        }
        if let Some(needle) = judge.needle {
            if reply.body_found != Some(true) {
                return Err(CheckError::Body(needle.to_string()));
            }
        }
        return Ok(());
    }
}

/// Sends one hop: on the origin's kept connection when there is one that is still open (and
/// fits), else — or when the kept one turns out closed before answering — on a fresh
/// connection. A response read to its end on a keep-alive connection hands the connection
/// back to the origin's slot (when the options keep connections).
async fn send(
    probe: &NetProbe,
    target: &ProbeTarget,
    tls: bool,
    hop: &Hop<'_>,
    judge: &Judge<'_>,
) -> Result<Reply, CheckError> {
    let name = tls.then(|| server_name(hop.host, target.address()));
    let slot = target.idle_slot();
    let idle = if probe.reuse_connections {
        let kept = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        kept.and_then(Kept::into_idle)
    } else {
        None
    };
    match idle.and_then(|idle| still_usable(idle, name.as_ref())) {
        Some(Idle::Plain(conn)) => {
            let release = plain_release(probe, slot);
            match exchange(conn, build_request(hop)?, release, judge).await {
                Err(Failure::BeforeResponse(_)) => {}
                result => return result.map_err(Failure::into_error),
            }
        }
        Some(Idle::Tls(conn, kept)) => {
            let release = tls_release(probe, slot, kept);
            match exchange(*conn, build_request(hop)?, release, judge).await {
                Err(Failure::BeforeResponse(_)) => {}
                result => return result.map_err(Failure::into_error),
            }
        }
        None => {}
    }

    let stream = connect(target.address()).await?;
    let request = build_request(hop)?;
    let result = match name {
        None => {
            let release = plain_release(probe, slot);
            exchange(ClientConnection::new(stream), request, release, judge).await
        }
        Some(name) => {
            let config = if target.monitor().verify_tls {
                &probe.verified
            } else {
                &probe.unverified
            };
            let stream = TlsConnector::from(Arc::clone(config))
                .connect(name.clone(), stream)
                .await
                .map_err(|error| CheckError::Tls(error.to_string()))?;
            let release = tls_release(probe, slot, name);
            exchange(ClientConnection::new(stream), request, release, judge).await
        }
    };
    result.map_err(Failure::into_error)
}

/// The kept connection, if it fits the hop (plain, or TLS for the same name) and the origin
/// has not closed it meanwhile.
fn still_usable(idle: Idle, name: Option<&ServerName<'static>>) -> Option<Idle> {
    match idle {
        Idle::Plain(mut conn) => {
            (name.is_none() && conn.is_reusable()).then_some(Idle::Plain(conn))
        }
        Idle::Tls(mut conn, kept) => {
            (name == Some(&kept) && conn.is_reusable()).then_some(Idle::Tls(conn, kept))
        }
    }
}

type Release<I> = torii_http1::client::Release<I>;

/// Hands a plain connection back to the origin's slot.
fn plain_release(probe: &NetProbe, slot: &IdleSlot) -> Release<TcpStream> {
    let slot = Arc::clone(slot);
    let count = Arc::clone(&probe.kept);
    let max = probe.max_kept;
    Arc::new(move |conn| keep(&slot, Idle::Plain(conn), &count, max))
}

/// Hands a TLS connection back to the origin's slot, with its name.
fn tls_release(
    probe: &NetProbe,
    slot: &IdleSlot,
    name: ServerName<'static>,
) -> Release<TlsStream<TcpStream>> {
    let slot = Arc::clone(slot);
    let count = Arc::clone(&probe.kept);
    let max = probe.max_kept;
    Arc::new(move |conn| keep(&slot, Idle::Tls(Box::new(conn), name.clone()), &count, max))
}

fn build_request(hop: &Hop<'_>) -> Result<Request<Empty<Bytes>>, CheckError> {
    let uri = Uri::try_from(hop.path)
        .map_err(|_| CheckError::Http(format!("invalid path {:?}", hop.path)))?;
    let mut request = Request::builder()
        .method(hop.method.clone())
        .uri(uri)
        .body(Empty::new())
        .map_err(|error| CheckError::Http(error.to_string()))?;
    let map = request.headers_mut();
    for (name, value) in hop.headers {
        if name != HOST {
            map.append(name.clone(), value.clone());
        }
    }
    map.insert(HOST, hop.host.clone());
    if !map.contains_key(USER_AGENT) {
        map.insert(USER_AGENT, HeaderValue::from_static("torii-health"));
    }
    if !hop.keep_alive {
        map.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(request)
}

/// One request and its response on `conn`: the body searched when the judge wants it, then
/// read to its end (up to the limit) so the connection goes back through `release`.
async fn exchange<I>(
    conn: ClientConnection<I>,
    request: Request<Empty<Bytes>>,
    release: Release<I>,
    judge: &Judge<'_>,
) -> Result<Reply, Failure>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let response = conn.send(request, release).await.map_err(send_failure)?;
    let status = response.status();
    let location = response.headers().get(LOCATION).cloned();
    let mut body = response.into_body();
    let mut read = 0usize;
    let body_found = match judge.needle {
        Some(needle) if judge.wants_body(status) => Some(
            search_body(&mut body, needle, judge.limit, &mut read)
                .await
                .map_err(Failure::After)?,
        ),
        _ => None,
    };
    // Reading to the end is what hands the connection back; a long body is dropped instead
    // (which closes the connection).
    drain(&mut body, judge.limit, &mut read).await;
    Ok(Reply {
        status,
        location,
        body_found,
    })
}

fn send_failure(mut error: SendError<Empty<Bytes>>) -> Failure {
    let before_response = error.take_request().is_some();
    let kind = error.kind();
    let text = match (kind, std::error::Error::source(&error)) {
        (SendErrorKind::ClosedBeforeResponse, _) => "connection closed before the response".into(),
        (SendErrorKind::InvalidResponse, _) => "invalid response".into(),
        (SendErrorKind::HeadTooLarge, _) => "response head too large".into(),
        (SendErrorKind::TooManyHeaders, _) => "too many headers in the response".into(),
        (_, Some(source)) => source.to_string(),
        (kind, None) => kind.to_string(),
    };
    let error = CheckError::Http(text);
    if before_response {
        Failure::BeforeResponse(error)
    } else {
        Failure::After(error)
    }
}

/// Reads the rest of the body (its end returns the connection); gives up past `limit`.
async fn drain<I>(body: &mut ResponseBody<I, Empty<Bytes>>, limit: usize, read: &mut usize)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            *read += data.len();
            if *read > limit {
                return;
            }
        }
    }
}

/// Reads at most `limit` body bytes looking for `needle`, case-insensitively.
async fn search_body<I>(
    body: &mut ResponseBody<I, Empty<Bytes>>,
    needle: &str,
    limit: usize,
    read: &mut usize,
) -> Result<bool, CheckError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let wanted = needle.as_bytes();
    let mut seen: Vec<u8> = Vec::new();
    while seen.len() < limit {
        let Some(frame) = body.frame().await else {
            break;
        };
        let frame = frame.map_err(|error| CheckError::Http(error_text(&*error)))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        *read += data.len();
        let from = seen.len().saturating_sub(wanted.len().saturating_sub(1));
        let take = data.len().min(limit - seen.len());
        seen.extend_from_slice(&data[..take]);
        if contains_ignore_ascii_case(&seen[from..], wanted) {
            return Ok(true);
        }
    }
    if !needle.is_ascii() {
        let text = String::from_utf8_lossy(&seen).to_lowercase();
        return Ok(text.contains(&needle.to_lowercase()));
    }
    Ok(false)
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

/// The text of an error and its causes (`invalid upstream response body: …`).
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Whether the monitor expects `status`; an empty set means `2xx`.
fn codes_contain(codes: &StatusCodes, status: StatusCode) -> bool {
    if codes.is_empty() {
        status.is_success()
    } else {
        codes.contains(status.as_u16())
    }
}

/// Writes a status-code set back as text (`2xx`, `200,301-302`).
pub(crate) fn describe_codes(codes: &StatusCodes) -> String {
    if codes.is_empty() {
        return "2xx".into();
    }
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for code in 100..=599 {
        if codes.contains(code) {
            match ranges.last_mut() {
                Some(last) if last.1 + 1 == code => last.1 = code,
                _ => ranges.push((code, code)),
            }
        }
    }
    let mut parts = Vec::new();
    for (from, to) in ranges {
        // Whole classes are written `2xx`; the rest as codes and ranges: 150-399 → 150-199,2xx,3xx.
        let mut start = from;
        while start <= to {
            if start % 100 == 0 && start + 99 <= to {
                parts.push(format!("{}xx", start / 100));
                start += 100;
                continue;
            }
            let next_class = start - start % 100 + 100;
            let end = if next_class + 99 <= to {
                next_class - 1
            } else {
                to
            };
            parts.push(if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
            start = end + 1;
        }
    }
    parts.join(",")
}

fn path_without_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or("/")
}

/// The `Host` and path a redirect leads to; the connection still goes to the origin.
fn resolve_location(
    location: &HeaderValue,
    host: &HeaderValue,
    path: &str,
) -> Result<(HeaderValue, String), CheckError> {
    let bad = || CheckError::Redirect(format!("bad Location {location:?}"));
    let text = location.to_str().map_err(|_| bad())?;
    if text.starts_with('/') && !text.starts_with("//") {
        return Ok((host.clone(), text.to_string()));
    }
    let absolute = if text.starts_with("//") {
        Some(format!("http:{text}"))
    } else if text.contains("://") {
        Some(text.to_string())
    } else {
        None
    };
    match absolute {
        Some(absolute) => {
            let uri: Uri = absolute.parse().map_err(|_| bad())?;
            let authority = uri.authority().ok_or_else(bad)?;
            let new_host = match authority.port_u16() {
                Some(port) => format!("{}:{port}", authority.host()),
                None => authority.host().to_string(),
            };
            let new_host = HeaderValue::try_from(new_host).map_err(|_| bad())?;
            let new_path = uri
                .path_and_query()
                .map(|path| path.as_str())
                .filter(|path| path.starts_with('/'))
                .unwrap_or("/");
            Ok((new_host, new_path.to_string()))
        }
        None => {
            // A relative reference: resolved against the current path's directory.
            let base = path_without_query(path);
            let dir = base.rfind('/').map_or("/", |slash| &base[..=slash]);
            Ok((host.clone(), format!("{dir}{text}")))
        }
    }
}

/// The TLS server name: the `Host` without its port, or the address.
fn server_name(host: &HeaderValue, address: SocketAddr) -> ServerName<'static> {
    host.to_str()
        .ok()
        .map(strip_port)
        .and_then(|name| ServerName::try_from(name.to_string()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(address.ip().into()))
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn address_host(address: SocketAddr) -> HeaderValue {
    HeaderValue::try_from(address.to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("localhost"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_written_back_as_text() {
        for (text, expected) in [
            ("2xx", "2xx"),
            ("200,301-302", "200,301-302"),
            ("2xx,3xx", "2xx,3xx"),
            ("200-399", "2xx,3xx"),
            ("250-310", "250-310"),
            ("150-399", "150-199,2xx,3xx"),
            ("5xx,429", "429,5xx"),
        ] {
            let codes = StatusCodes::parse(text).unwrap();
            assert_eq!(describe_codes(&codes), expected, "{text}");
        }
        assert_eq!(describe_codes(&StatusCodes::default()), "2xx");
    }

    #[test]
    fn locations_resolve_against_the_current_request() {
        let host = HeaderValue::from_static("example.com");
        let resolve = |location: &'static str, path: &str| {
            let (host, path) =
                resolve_location(&HeaderValue::from_static(location), &host, path).unwrap();
            (host.to_str().unwrap().to_string(), path)
        };
        assert_eq!(resolve("/b", "/a"), ("example.com".into(), "/b".into()));
        assert_eq!(
            resolve("https://other.example:8443/x?y=1", "/a"),
            ("other.example:8443".into(), "/x?y=1".into())
        );
        assert_eq!(
            resolve("//cdn.example", "/a"),
            ("cdn.example".into(), "/".into())
        );
        assert_eq!(
            resolve("c?d", "/a/b?q"),
            ("example.com".into(), "/a/c?d".into())
        );
    }

    #[test]
    fn body_search_ignores_ascii_case() {
        assert!(contains_ignore_ascii_case(b"status: OK", b"ok"));
        assert!(!contains_ignore_ascii_case(b"status: KO", b"ok"));
        assert!(contains_ignore_ascii_case(b"", b""));
    }

    #[test]
    fn server_names_drop_the_port() {
        let address: SocketAddr = "127.0.0.1:443".parse().unwrap();
        let name = server_name(&HeaderValue::from_static("example.com:8443"), address);
        assert_eq!(name.to_str(), "example.com");
        let name = server_name(&HeaderValue::from_static("[::1]:8443"), address);
        assert_eq!(name.to_str(), "::1");
        let name = server_name(&HeaderValue::from_static("bad host"), address);
        assert_eq!(name.to_str(), "127.0.0.1");
    }
}
