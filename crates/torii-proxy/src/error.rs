//! Errors of the request path and the one place they become HTTP responses.

use crate::body::{ClientFault, ResponseBody};
use http::{header, HeaderValue, Response, StatusCode};

/// 499, nginx's "client closed request": recorded for requests whose client went away
/// mid-request (the answer reaches nobody; the status is for metrics and logs).
pub fn client_closed_request() -> StatusCode {
    StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST)
}

/// Why a request could not be proxied. Each variant knows its side (downstream, upstream,
/// config) and its answer.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No listener or route matches the request.
    #[error("no route matches the request")]
    NoRoute,
    /// The HTTPS request's Host belongs to another listener than its SNI.
    #[error("request host does not belong to the TLS server name's listener")]
    Misdirected,
    /// The rule's chosen backend reference is invalid, or the rule has no backends.
    #[error("the route's backend reference is invalid")]
    InvalidBackend,
    /// The backend has no ready endpoint.
    #[error("no ready endpoint for backend")]
    NoEndpoints,
    /// Connecting to the upstream endpoint failed.
    #[error("upstream connect failed")]
    UpstreamConnect(#[source] crate::body::BodyError),
    /// The upstream connection failed (reset, closed) after connecting, before the answer.
    #[error("upstream request failed")]
    Upstream(#[source] crate::body::BodyError),
    /// The upstream answered with something that is not valid HTTP.
    #[error("upstream sent an invalid response")]
    UpstreamProtocol(#[source] crate::body::BodyError),
    /// The request or backend timeout passed.
    #[error("upstream timed out")]
    Timeout,
    /// The request is malformed in a way the proxy refuses.
    #[error("bad request")]
    BadRequest,
    /// The path had escaped slashes, decoded into this target: the client is redirected
    /// there (308), so it, torii and the backend use one path.
    #[error("path with escaped slashes")]
    NonCanonicalPath(http::uri::PathAndQuery),
    /// The client's side failed (its body broke off, was malformed or stalled).
    #[error("client request failed")]
    Client(crate::body::ClientFault),
}

impl ProxyError {
    /// Classifies a failed upstream exchange: a response that did not parse is a protocol
    /// error, anything else (reset, early close) a failed request.
    pub fn upstream(error: hyper::Error) -> Self {
        if error.is_parse() || error.is_parse_status() || error.is_parse_too_large() {
            ProxyError::UpstreamProtocol(error.into())
        } else {
            ProxyError::Upstream(error.into())
        }
    }

    /// The status code answered downstream.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            ProxyError::InvalidBackend => StatusCode::INTERNAL_SERVER_ERROR,
            // No connection, or one that was reset or closed before the answer: "no healthy
            // upstream", as Envoy answers; an answer that is not HTTP is a bad gateway.
            ProxyError::NoEndpoints | ProxyError::UpstreamConnect(_) | ProxyError::Upstream(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::UpstreamProtocol(_) => StatusCode::BAD_GATEWAY,
            ProxyError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::BadRequest => StatusCode::BAD_REQUEST,
            ProxyError::NonCanonicalPath(_) => StatusCode::PERMANENT_REDIRECT,
            ProxyError::Client(ClientFault::Malformed) => StatusCode::BAD_REQUEST,
            ProxyError::Client(ClientFault::TimedOut) => StatusCode::REQUEST_TIMEOUT,
            ProxyError::Client(ClientFault::Aborted) => client_closed_request(),
        }
    }

    /// Whether an HTTP/1.1 connection should close after this answer: the client's request
    /// was malformed or its body failed, so what follows on the connection cannot be trusted
    /// or is not coming.
    pub fn closes_connection(&self) -> bool {
        matches!(self, ProxyError::BadRequest | ProxyError::Client(_))
    }

    /// Whether the failure happened before the upstream saw the request, so any request may
    /// be retried safely.
    pub fn never_reached_upstream(&self) -> bool {
        matches!(
            self,
            ProxyError::UpstreamConnect(_) | ProxyError::NoEndpoints
        )
    }

    /// The downstream response for this error.
    pub fn into_response(self) -> Response<ResponseBody> {
        let status = self.status();
        if let ProxyError::NonCanonicalPath(target) = &self {
            let mut response = Response::new(ResponseBody::empty());
            *response.status_mut() = status;
            if let Ok(location) = HeaderValue::from_str(target.as_str()) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return response;
        }
        let text: &'static str = match status {
            StatusCode::NOT_FOUND => "no route\n",
            StatusCode::MISDIRECTED_REQUEST => "misdirected request\n",
            StatusCode::INTERNAL_SERVER_ERROR => "invalid backend\n",
            StatusCode::SERVICE_UNAVAILABLE => "no healthy upstream\n",
            StatusCode::BAD_GATEWAY => "upstream unavailable\n",
            StatusCode::GATEWAY_TIMEOUT => "upstream timeout\n",
            StatusCode::REQUEST_TIMEOUT => "request timeout\n",
            _ => "bad request\n",
        };
        let mut response = Response::new(ResponseBody::text(text));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}
