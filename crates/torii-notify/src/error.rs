//! Configuration errors: what [`crate::Notifier::new`] and [`crate::Notifier::update`] reject.

use crate::config::{MAX_ATTEMPTS, MAX_QUEUE_CAPACITY};

/// A notifier configuration that cannot be used; nothing was started or changed.
#[derive(Debug, thiserror::Error)]
pub enum InvalidNotifier {
    /// A sink without a name.
    #[error("notification sink #{index} has an empty name")]
    EmptyName {
        /// The sink's position in the list, from 0.
        index: usize,
    },
    /// Two sinks with one name.
    #[error("notification sink name {name:?} is used more than once")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A sink whose settings are wrong.
    #[error("notification sink {sink:?}: {problem}")]
    Sink {
        /// The sink's name.
        sink: String,
        /// What is wrong.
        #[source]
        problem: SinkProblem,
    },
}

/// What is wrong with one sink. Messages never quote secrets (header values, passwords, the
/// webhook URL's path and query).
#[derive(Debug, thiserror::Error)]
pub enum SinkProblem {
    /// The webhook URL does not parse.
    #[error("the webhook URL is not a valid absolute URL")]
    InvalidUrl,
    /// The webhook URL's scheme is not http or https.
    #[error("the webhook URL scheme must be http or https, not {0:?}")]
    UnsupportedScheme(String),
    /// The webhook URL has credentials (`user:password@`).
    #[error("the webhook URL must not carry credentials (user:password@); send them in a header")]
    CredentialsInUrl,
    /// A header name is not a valid HTTP header name.
    #[error("{0:?} is not a valid HTTP header name")]
    InvalidHeaderName(String),
    /// A header value is not a valid HTTP header value (control characters, …).
    #[error("the value of header {0:?} is not a valid HTTP header value")]
    InvalidHeaderValue(String),
    /// A header torii sets itself.
    #[error("header {0:?} is set by torii and cannot be configured")]
    ReservedHeader(String),
    /// The same header twice (names are case-insensitive).
    #[error("header {0:?} is configured more than once")]
    DuplicateHeader(String),
    /// A zero timeout.
    #[error("the timeout must be longer than zero")]
    ZeroTimeout,
    /// `caCertificates` holds no usable certificate.
    #[error("caCertificates: {0}")]
    InvalidCaCertificates(String),
    /// TLS could not be set up.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// An empty SMTP host.
    #[error("the SMTP host is empty")]
    EmptySmtpHost,
    /// SMTP port 0.
    #[error("the SMTP port must not be 0")]
    ZeroPort,
    /// A user name without a password or the other way round.
    #[error("SMTP username and password must be given together")]
    IncompleteCredentials,
    /// Credentials over a connection without TLS.
    #[error("SMTP credentials need TLS (tls: starttls or tls); they are never sent in clear text")]
    CredentialsWithoutTls,
    /// The sender does not parse as a mailbox.
    #[error("the from address {address:?} is not a valid mailbox: {reason}")]
    InvalidFrom {
        /// The configured sender.
        address: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A recipient does not parse as a mailbox.
    #[error("the recipient {address:?} is not a valid mailbox: {reason}")]
    InvalidRecipient {
        /// The configured recipient.
        address: String,
        /// Why it does not parse.
        reason: String,
    },
    /// No recipients.
    #[error("an e-mail sink needs at least one recipient")]
    NoRecipients,
    /// Attempts out of range.
    #[error("retry attempts must be between 1 and {MAX_ATTEMPTS}, not {0}")]
    Attempts(u32),
    /// Back-offs out of order.
    #[error("retry initialBackoff must be longer than zero and not longer than maxBackoff")]
    Backoff,
    /// Queue capacity out of range.
    #[error("queueCapacity must be between 1 and {MAX_QUEUE_CAPACITY}, not {0}")]
    QueueCapacity(usize),
    /// An empty pool name in the filter.
    #[error("pool names in the filter must not be empty")]
    EmptyPoolName,
}
