//! Errors: why a check failed ([`CheckError`], its text is the reason shown to people) and
//! why the checker could not be built ([`HealthError`]).

use std::time::Duration;

/// Why one check attempt failed. The `Display` text is the reason shown in status, logs and
/// events (`connect refused`, `status 503 not in 2xx`, `timeout after 2s`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The origin refused the connection.
    #[error("connect refused")]
    ConnectRefused,
    /// The connection could not be made for another reason.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The attempt took longer than the monitor's timeout.
    #[error("timeout after {0:?}")]
    Timeout(Duration),
    /// The TLS handshake failed (certificate validation included).
    #[error("tls handshake failed: {0}")]
    Tls(String),
    /// The HTTP exchange failed (reset, closed early, not HTTP, …).
    #[error("http exchange failed: {0}")]
    Http(String),
    /// The status code is not one of the expected codes.
    #[error("status {status} not in {expected}")]
    Status {
        /// The status received.
        status: u16,
        /// The expected codes, as written (`2xx`, `200,301-302`).
        expected: String,
    },
    /// The body does not contain the expected text (within the first bytes read).
    #[error("body does not contain {0:?}")]
    Body(String),
    /// A redirect could not be followed (no or bad `Location`, too many hops).
    #[error("redirect not followed: {0}")]
    Redirect(String),
    /// Any other reason (used by custom probes).
    #[error("{0}")]
    Other(String),
}

/// Why a checker or a probe could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The checker needs a tokio runtime: build it from inside one.
    #[error("the health checker must be created inside a tokio runtime")]
    NoRuntime,
    /// The TLS client configuration could not be built.
    #[error("tls client configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// An extra trust root was rejected.
    #[error("invalid extra trust root: {0}")]
    InvalidRoot(String),
}
