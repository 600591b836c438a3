//! Notifications of health and rollout events to webhooks and e-mail.
//!
//! Whatever changes state in torii (an origin's or a pool's health, a load balancer's
//! failover, a rollout's step) builds an [`Event`] and hands it to [`Notifier::notify`], which
//! returns at once. Each configured sink (a [`WebhookConfig`] or an [`EmailConfig`]) has a
//! bounded queue and a background task that delivers the events in order, with retries.
//! Logging the event and counting it in metrics is the caller's job; this crate only delivers.
//!
//! # The event (webhook body)
//!
//! Webhooks receive one `POST` per event with `Content-Type: application/json`,
//! `User-Agent: torii/<version>`, the configured headers, and this body:
//!
//! ```json
//! {
//!   "kind": "originHealthChanged",
//!   "time": "2026-05-01T12:00:00.123Z",
//!   "loadBalancer": "shop",
//!   "pool": "payments",
//!   "origin": "10.0.0.7:8080",
//!   "previous": "healthy",
//!   "current": "unhealthy",
//!   "reason": "3 consecutive failed checks",
//!   "message": "origin 10.0.0.7:8080 of pool payments is unhealthy",
//!   "details": { "checkType": "http" }
//! }
//! ```
//!
//! - `kind` (always): an open set of camelCase names ([`EventKind`]): `originHealthChanged`,
//!   `poolHealthChanged`, `loadBalancerFailover`, `rolloutStarted`, `rolloutAdvanced`,
//!   `rolloutPaused`, `rolloutCompleted`, `rolloutRolledBack`, and more later. Receivers must
//!   ignore kinds they do not know.
//! - `time` (always): RFC 3339 in UTC with milliseconds.
//! - `message` (always): one human-readable sentence.
//! - `loadBalancer`, `pool`, `origin`, `previous`, `current`, `reason` (strings): present only
//!   when they apply. For a failover, `previous` and `current` are the pools traffic moved from
//!   and to; for health changes they are states such as `healthy` and `unhealthy`.
//! - `details` (object of strings): kind-specific facts (a rollout's step or weight); present
//!   only when not empty.
//!
//! E-mails are plain text: the subject is `[torii] <kind>: <message>` and the body is the
//! message followed by one `Label: value` line per field that is set.
//!
//! # Sinks and the pool filter
//!
//! A [`NotifierConfig`] lists [`SinkConfig`]s by unique name. A sink whose `pools` list is
//! empty receives every event. Otherwise it receives the events whose `pool` is in its list,
//! **and every event without a pool** (load-balancer failovers, global events): those concern
//! all pools behind the load balancer and are rare, so a pool's owners should not miss them.
//!
//! # Delivery
//!
//! - [`Notifier::notify`] never blocks and never fails. A sink whose queue
//!   ([`SinkConfig::queue_capacity`], default 1024) is full drops the event for that sink,
//!   counts it, and logs one warning per overflow.
//! - Each sink delivers one event at a time, in order. An attempt succeeds on a 2xx answer (or
//!   once the SMTP server accepts the message). 5xx, 408, 429, connection errors, timeouts and
//!   SMTP 4xx are retried with exponential back-off and jitter ([`RetryPolicy`], default 5
//!   attempts, 1 s doubling to at most 1 min; a webhook's `Retry-After` in seconds lengthens
//!   the wait). Other answers (3xx — redirects are not followed —, 4xx, SMTP 5xx) give up at
//!   once. Delivery is at least once: a receiver that answers too late may get an event twice.
//! - [`Notifier::update`] applies a reloaded configuration: unchanged sinks keep running,
//!   changed sinks keep their queue and counters and deliver with the new settings, removed
//!   sinks stop and drop what they had not delivered.
//! - [`Notifier::shutdown`] stops taking events and delivers what is queued until a deadline.
//!
//! # Counters and logs
//!
//! [`Notifier::stats`] returns delivered, retried, dropped and failed counts and the queue
//! length per sink ([`SinkStats`]), for the integrator to export (for example from a
//! prometheus-client collector); there is no global registry. Logs (`tracing`) have constant
//! messages with the sink's name, the event kind, the attempt and the error in fields. Secrets
//! are never logged nor shown by `Debug`: header values, SMTP credentials ([`Secret`]), and
//! the webhook URL's path and query (chat webhooks carry their token there).
//!
//! # TLS
//!
//! `https` webhooks and SMTP with `starttls` or `tls` use rustls with the ring provider and the
//! Mozilla roots of `webpki-roots`, plus the PEM certificates of `caCertificates` when set.

mod config;
mod email;
mod error;
mod event;
mod notifier;
mod retry;
mod stats;
mod tls;
mod webhook;

pub use config::{
    EmailConfig, NotifierConfig, RetryPolicy, Secret, SinkConfig, SinkTarget, SmtpConfig, SmtpTls,
    WebhookConfig, DEFAULT_QUEUE_CAPACITY, DEFAULT_SMTP_TIMEOUT, DEFAULT_WEBHOOK_TIMEOUT,
    MAX_ATTEMPTS, MAX_QUEUE_CAPACITY,
};
pub use error::{InvalidNotifier, SinkProblem};
pub use event::{Event, EventKind};
pub use notifier::{Notifier, PreparedSinks, ShutdownReport};
pub use stats::SinkStats;
pub use webhook::USER_AGENT;
