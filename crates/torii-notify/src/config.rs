//! The notifier's configuration: a list of sinks (webhooks and e-mail), each with a pool filter,
//! a queue and a retry policy. Secrets live in [`Secret`], which never shows in `Debug` output.
//!
//! Every type deserialises (serde, camelCase, durations as `10s`, `1m30s`, `500ms`), so a
//! configuration file can hold them; [`crate::Notifier::new`] validates.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Events a sink's queue holds by default before new ones are dropped.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;
/// The most events a sink's queue may hold.
pub const MAX_QUEUE_CAPACITY: usize = 1_000_000;
/// The most delivery attempts a retry policy may ask for.
pub const MAX_ATTEMPTS: u32 = 100;
/// How long a webhook request may take by default (connect to the end of the response head).
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an SMTP delivery may take by default (connect to the end of the exchange).
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where notifications go: every sink gets every event that passes its pool filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifierConfig {
    /// The sinks; their names must be unique.
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
}

/// One destination of notifications.
///
/// In a file, exactly one of `webhook` and `email` is given beside the common fields:
///
/// ```yaml
/// name: ops
/// pools: [payments]        # optional; empty or absent = every event
/// queueCapacity: 1024      # optional
/// retry: { attempts: 5, initialBackoff: 1s, maxBackoff: 1m }   # optional
/// webhook: { url: "https://hooks.example.com/torii", headers: { Authorization: "Bearer …" } }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawSinkConfig")]
pub struct SinkConfig {
    /// Identifies the sink in logs, counters and config reloads; unique, not empty.
    pub name: String,
    /// Pool filter. Empty: every event. Otherwise events whose `pool` is one of these, plus
    /// events without a pool (load-balancer and global events), which every sink receives.
    pub pools: Vec<String>,
    /// Rollout filter. Empty: no filter. Otherwise the sink hears only events of these
    /// rollouts (a rollout's own notification targets).
    pub rollouts: Vec<String>,
    /// Events the sink's queue holds while deliveries are slow; newer ones are then dropped.
    pub queue_capacity: usize,
    /// How failed deliveries are retried.
    pub retry: RetryPolicy,
    /// Where and how the events are delivered.
    pub target: SinkTarget,
}

impl SinkConfig {
    /// A webhook sink named `name` with no pool filter and default queue and retries.
    pub fn webhook(name: impl Into<String>, webhook: WebhookConfig) -> Self {
        Self::new(name.into(), SinkTarget::Webhook(webhook))
    }

    /// An e-mail sink named `name` with no pool filter and default queue and retries.
    pub fn email(name: impl Into<String>, email: EmailConfig) -> Self {
        Self::new(name.into(), SinkTarget::Email(email))
    }

    fn new(name: String, target: SinkTarget) -> Self {
        SinkConfig {
            name,
            pools: Vec::new(),
            rollouts: Vec::new(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            retry: RetryPolicy::default(),
            target,
        }
    }

    /// Sets the pool filter.
    pub fn with_pools<I, S>(mut self, pools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pools = pools.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the rollout filter: the sink hears only events of these rollouts.
    pub fn with_rollouts<I, S>(mut self, rollouts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rollouts = rollouts.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the queue capacity.
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// The kind of a sink and its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkTarget {
    /// JSON POST to a URL.
    Webhook(WebhookConfig),
    /// A plain-text e-mail over SMTP.
    Email(EmailConfig),
}

impl SinkTarget {
    /// `"webhook"` or `"email"`, as used in logs and [`crate::SinkStats`].
    pub fn kind(&self) -> &'static str {
        match self {
            SinkTarget::Webhook(_) => "webhook",
            SinkTarget::Email(_) => "email",
        }
    }
}

/// The file form of [`SinkConfig`]: `webhook` and `email` side by side, exactly one set.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSinkConfig {
    name: String,
    #[serde(default)]
    pools: Vec<String>,
    #[serde(default)]
    rollouts: Vec<String>,
    #[serde(default = "default_queue_capacity")]
    queue_capacity: usize,
    #[serde(default)]
    retry: RetryPolicy,
    #[serde(default)]
    webhook: Option<WebhookConfig>,
    #[serde(default)]
    email: Option<EmailConfig>,
}

fn default_queue_capacity() -> usize {
    DEFAULT_QUEUE_CAPACITY
}

impl TryFrom<RawSinkConfig> for SinkConfig {
    type Error = String;

    fn try_from(raw: RawSinkConfig) -> Result<Self, String> {
        let target = match (raw.webhook, raw.email) {
            (Some(webhook), None) => SinkTarget::Webhook(webhook),
            (None, Some(email)) => SinkTarget::Email(email),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "notification sink {:?} sets both `webhook` and `email`; set one",
                    raw.name
                ))
            }
            (None, None) => {
                return Err(format!(
                    "notification sink {:?} sets neither `webhook` nor `email`",
                    raw.name
                ))
            }
        };
        Ok(SinkConfig {
            name: raw.name,
            pools: raw.pools,
            rollouts: raw.rollouts,
            queue_capacity: raw.queue_capacity,
            retry: raw.retry,
            target,
        })
    }
}

/// How a failed delivery is retried: exponential back-off with jitter, capped attempts.
///
/// The wait before retry `n` (1 for the second attempt) is drawn uniformly from
/// `[b/2, b]` where `b = min(initialBackoff × 2^(n-1), maxBackoff)`. A `Retry-After` answer
/// (in seconds) from a webhook lengthens the wait, up to `maxBackoff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Delivery attempts per event, the first one included (1 = no retries). Default 5.
    pub attempts: u32,
    /// The back-off before the first retry. Default 1 s.
    #[serde(deserialize_with = "duration")]
    pub initial_backoff: Duration,
    /// The longest back-off. Default 1 min.
    #[serde(deserialize_with = "duration")]
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// A webhook: each event is POSTed as JSON to `url`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL. Its path and query are treated as secret (chat webhooks
    /// carry their token there): logs name the sink, never the URL.
    pub url: String,
    /// Extra request headers, for example `Authorization: Bearer …`. Values are secret.
    /// `Host`, `Content-Type`, `Content-Length`, `User-Agent` and hop-by-hop headers are
    /// set by torii and cannot be configured.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// How long one attempt may take, connection and response head included. Default 10 s.
    #[serde(default = "default_webhook_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Extra trusted CA certificates (PEM), added to the built-in web PKI roots, for receivers
    /// with certificates of a private CA.
    #[serde(default)]
    pub ca_certificates: Option<String>,
}

fn default_webhook_timeout() -> Duration {
    DEFAULT_WEBHOOK_TIMEOUT
}

impl WebhookConfig {
    /// A webhook to `url` with no extra headers and the default timeout.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            headers: BTreeMap::new(),
            timeout: DEFAULT_WEBHOOK_TIMEOUT,
            ca_certificates: None,
        }
    }

    /// Adds a request header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the per-attempt timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets extra trusted CA certificates (PEM).
    pub fn with_ca_certificates(mut self, pem: impl Into<String>) -> Self {
        self.ca_certificates = Some(pem.into());
        self
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &Secret)> =
            self.headers.iter().map(|(k, v)| (k.as_str(), v)).collect();
        f.debug_struct("WebhookConfig")
            .field("url", &redacted_url(&self.url))
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("ca_certificates", &self.ca_certificates.is_some())
            .finish()
    }
}

/// `scheme://authority/…`: a URL with its path and query hidden.
pub(crate) fn redacted_url(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => {
                format!(
                    "{scheme}://{}/…",
                    authority.as_str().rsplit('@').next().unwrap_or("")
                )
            }
            _ => "<redacted>".to_owned(),
        },
        Err(_) => "<redacted>".to_owned(),
    }
}

/// An e-mail sink: each event is a plain-text message from `from` to every `to`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server to hand the messages to.
    pub smtp: SmtpConfig,
    /// The sender mailbox, `torii@example.com` or `Torii <torii@example.com>`.
    pub from: String,
    /// The recipient mailboxes; at least one.
    pub to: Vec<String>,
}

impl EmailConfig {
    /// Messages from `from` to `to` through `smtp`.
    pub fn new<I, S>(smtp: SmtpConfig, from: impl Into<String>, to: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        EmailConfig {
            smtp,
            from: from.into(),
            to: to.into_iter().map(Into::into).collect(),
        }
    }
}

/// An SMTP server (a relay or submission server).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name or IP address; also the name its TLS certificate must carry.
    pub host: String,
    /// Port; by default 25 (`tls: none`), 587 (`starttls`) or 465 (`tls`).
    #[serde(default)]
    pub port: Option<u16>,
    /// Transport security. Default `starttls`.
    #[serde(default)]
    pub tls: SmtpTls,
    /// User name for SMTP AUTH (PLAIN or LOGIN); secret. Needs `password` and TLS.
    #[serde(default)]
    pub username: Option<Secret>,
    /// Password for SMTP AUTH; secret. Needs `username` and TLS.
    #[serde(default)]
    pub password: Option<Secret>,
    /// How long one delivery may take, connection to end of exchange. Default 30 s.
    #[serde(default = "default_smtp_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Extra trusted CA certificates (PEM), added to the built-in web PKI roots.
    #[serde(default)]
    pub ca_certificates: Option<String>,
}

fn default_smtp_timeout() -> Duration {
    DEFAULT_SMTP_TIMEOUT
}

impl SmtpConfig {
    /// The server at `host` with `tls`, its default port, no credentials, the default timeout.
    pub fn new(host: impl Into<String>, tls: SmtpTls) -> Self {
        SmtpConfig {
            host: host.into(),
            port: None,
            tls,
            username: None,
            password: None,
            timeout: DEFAULT_SMTP_TIMEOUT,
            ca_certificates: None,
        }
    }

    /// Sets the port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the SMTP AUTH credentials.
    pub fn with_credentials(
        mut self,
        username: impl Into<Secret>,
        password: impl Into<Secret>,
    ) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// Sets the timeout of one delivery.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets extra trusted CA certificates (PEM).
    pub fn with_ca_certificates(mut self, pem: impl Into<String>) -> Self {
        self.ca_certificates = Some(pem.into());
        self
    }

    /// The configured port, or the default one for the TLS mode.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("timeout", &self.timeout)
            .field("ca_certificates", &self.ca_certificates.is_some())
            .finish()
    }
}

/// Transport security of an SMTP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (only for a relay on a trusted network; no credentials allowed).
    None,
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS", port 465).
    Tls,
}

/// A secret string (a token, a password): compared and cloned like a string, never shown by
/// `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Secret(secret)
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Self {
        Secret(secret.to_owned())
    }
}

/// Durations as `10s`, `1m30s`, `500ms`, `1h` (humantime syntax).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text)
        .map_err(|e| serde::de::Error::custom(format_args!("invalid duration {text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_deserialises() {
        let config: NotifierConfig = serde_json::from_value(serde_json::json!({
            "sinks": [
                {
                    "name": "ops",
                    "pools": ["payments"],
                    "retry": {"attempts": 3, "initialBackoff": "250ms"},
                    "webhook": {
                        "url": "https://hooks.example.com/services/T0/B0/token",
                        "headers": {"Authorization": "Bearer s3cr3t"},
                        "timeout": "5s"
                    }
                },
                {
                    "name": "mail",
                    "queueCapacity": 16,
                    "email": {
                        "smtp": {"host": "smtp.example.com", "tls": "tls",
                                 "username": "torii", "password": "hunter2"},
                        "from": "Torii <torii@example.com>",
                        "to": ["oncall@example.com"]
                    }
                }
            ]
        }))
        .unwrap();
        let want_webhook = SinkConfig::webhook(
            "ops",
            WebhookConfig::new("https://hooks.example.com/services/T0/B0/token")
                .with_header("Authorization", "Bearer s3cr3t")
                .with_timeout(Duration::from_secs(5)),
        )
        .with_pools(["payments"])
        .with_retry(RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(250),
            ..RetryPolicy::default()
        });
        assert_eq!(config.sinks[0], want_webhook);
        let want_email = SinkConfig::email(
            "mail",
            EmailConfig::new(
                SmtpConfig::new("smtp.example.com", SmtpTls::Tls)
                    .with_credentials("torii", "hunter2"),
                "Torii <torii@example.com>",
                ["oncall@example.com"],
            ),
        )
        .with_queue_capacity(16);
        assert_eq!(config.sinks[1], want_email);
        assert_eq!(
            match &config.sinks[1].target {
                SinkTarget::Email(e) => e.smtp.effective_port(),
                SinkTarget::Webhook(_) => 0,
            },
            465
        );
    }

    #[test]
    fn a_sink_needs_exactly_one_target_and_known_fields() {
        let both = serde_json::from_value::<SinkConfig>(serde_json::json!({
            "name": "x",
            "webhook": {"url": "http://127.0.0.1/"},
            "email": {"smtp": {"host": "h"}, "from": "a@b.c", "to": ["d@e.f"]}
        }));
        assert!(both.unwrap_err().to_string().contains("both"));
        let neither = serde_json::from_value::<SinkConfig>(serde_json::json!({"name": "x"}));
        assert!(neither.unwrap_err().to_string().contains("neither"));
        let typo = serde_json::from_value::<SinkConfig>(serde_json::json!({
            "name": "x", "pool": ["a"], "webhook": {"url": "http://127.0.0.1/"}
        }));
        assert!(typo.unwrap_err().to_string().contains("pool"));
        let bad_duration = serde_json::from_value::<WebhookConfig>(
            serde_json::json!({"url": "http://127.0.0.1/", "timeout": "soon"}),
        );
        assert!(bad_duration
            .unwrap_err()
            .to_string()
            .contains("invalid duration"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let webhook =
            WebhookConfig::new("https://user:pw@hooks.example.com/services/T0/B0/tok3n?x=y")
                .with_header("Authorization", "Bearer s3cr3t");
        let smtp = SmtpConfig::new("smtp.example.com", SmtpTls::Starttls)
            .with_credentials("us3r", "hunter2");
        let text = format!(
            "{:?} {:?}",
            SinkConfig::webhook("w", webhook),
            SinkConfig::email("e", EmailConfig::new(smtp, "a@b.c", ["d@e.f"]))
        );
        for secret in ["s3cr3t", "tok3n", "x=y", "pw", "us3r", "hunter2"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("https://hooks.example.com/…"), "{text}");
        assert!(text.contains("Authorization"), "{text}");
    }
}
