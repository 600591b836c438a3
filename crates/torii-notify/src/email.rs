//! E-mail delivery: one plain-text message per event over SMTP (lettre, rustls with ring).

use crate::config::{EmailConfig, SmtpTls};
use crate::error::SinkProblem;
use crate::event::Event;
use crate::retry::AttemptError;
use crate::tls::{error_chain, parse_ca_certificates};
use lettre::address::Envelope;
use lettre::message::header::{ContentType, MIME_VERSION_1_0};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// A validated e-mail sink with its SMTP transport.
pub(crate) struct EmailSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    timeout: Duration,
}

/// A message ready to send, built once per event and reused by every attempt.
pub(crate) struct Mail {
    envelope: Envelope,
    bytes: Vec<u8>,
}

impl EmailSink {
    /// Validates `config` and builds the transport (no connection is made).
    pub(crate) fn new(config: &EmailConfig) -> Result<Self, SinkProblem> {
        let smtp = &config.smtp;
        let host = smtp.host.trim();
        if host.is_empty() {
            return Err(SinkProblem::EmptySmtpHost);
        }
        if smtp.port == Some(0) {
            return Err(SinkProblem::ZeroPort);
        }
        if smtp.timeout.is_zero() {
            return Err(SinkProblem::ZeroTimeout);
        }
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| SinkProblem::InvalidFrom {
                address: config.from.clone(),
                reason: e.to_string(),
            })?;
        if config.to.is_empty() {
            return Err(SinkProblem::NoRecipients);
        }
        let to = config
            .to
            .iter()
            .map(|address| {
                address
                    .parse::<Mailbox>()
                    .map_err(|e| SinkProblem::InvalidRecipient {
                        address: address.clone(),
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let tls = match smtp.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => {
                Tls::Required(tls_parameters(host, smtp.ca_certificates.as_deref())?)
            }
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(host, smtp.ca_certificates.as_deref())?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(smtp.effective_port())
            .tls(tls)
            .timeout(Some(smtp.timeout));
        match (&smtp.username, &smtp.password) {
            (None, None) => {}
            (Some(username), Some(password)) => {
                if smtp.tls == SmtpTls::None {
                    return Err(SinkProblem::CredentialsWithoutTls);
                }
                builder = builder.credentials(Credentials::new(
                    username.expose().to_owned(),
                    password.expose().to_owned(),
                ));
            }
            _ => return Err(SinkProblem::IncompleteCredentials),
        }
        Ok(EmailSink {
            transport: builder.build(),
            from,
            to,
            timeout: smtp.timeout,
        })
    }

    /// The message for `event`: subject `[torii] <kind>: <message>`, a plain-text body listing
    /// every field, with `MIME-Version` (RFC 2045 §4) and a fresh `Message-ID` (RFC 5322 §3.6.4).
    pub(crate) fn mail(&self, event: &Event) -> Result<Mail, AttemptError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(event.subject())
            .message_id(Some(message_id(self.from.email.domain())))
            .header(MIME_VERSION_1_0)
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .body(event.text_body())
            .map_err(|e| AttemptError::GiveUp {
                reason: format!("cannot build the message: {e}"),
                code: None,
            })?;
        Ok(Mail {
            envelope: message.envelope().clone(),
            bytes: message.formatted(),
        })
    }

    /// One SMTP exchange; `Ok` once the server accepted the message.
    pub(crate) async fn attempt(&self, mail: &Mail) -> Result<(), AttemptError> {
        let send = self.transport.send_raw(&mail.envelope, &mail.bytes);
        match tokio::time::timeout(self.timeout, send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                let code = e.status().map(u16::from);
                let reason = error_chain(&e);
                if e.is_permanent() {
                    Err(AttemptError::GiveUp { reason, code })
                } else {
                    Err(AttemptError::Retry {
                        reason,
                        code,
                        retry_after: None,
                    })
                }
            }
            Err(_) => Err(AttemptError::Retry {
                reason: "timed out".to_owned(),
                code: None,
                retry_after: None,
            }),
        }
    }
}

/// A unique `Message-ID` (RFC 5322 §3.6.4): `<random@domain>`, with the sender's domain on the
/// right so the id is unique across hosts without revealing the host's own name. 32 random
/// alphanumeric characters carry ~190 bits: ids never repeat in practice, across retries of one
/// message included (the id is made once per event, so a retried message keeps its id).
fn message_id(domain: &str) -> String {
    let random: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(32)
        .collect();
    format!("<{random}@{domain}>")
}

fn tls_parameters(host: &str, ca_pem: Option<&str>) -> Result<TlsParameters, SinkProblem> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(pem) = ca_pem {
        // Checked with rustls first, for a clear error; lettre parses the same bundle again.
        parse_ca_certificates(pem)?;
        let certificates = Certificate::from_pem(pem.as_bytes())
            .map_err(|e| SinkProblem::InvalidCaCertificates(e.to_string()))?;
        builder = builder.add_root_certificate(certificates);
    }
    builder
        .build_rustls()
        .map_err(|e| SinkProblem::Tls(error_chain(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SmtpConfig;
    use crate::event::EventKind;

    fn problem(config: EmailConfig) -> String {
        match EmailSink::new(&config) {
            Ok(_) => panic!("{config:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    fn smtp() -> SmtpConfig {
        SmtpConfig::new("smtp.example.com", SmtpTls::Starttls)
    }

    #[test]
    fn addresses_and_credentials_are_checked() {
        let ok = EmailConfig::new(
            smtp(),
            "Torii <torii@example.com>",
            ["a@example.com", "B <b@example.com>"],
        );
        EmailSink::new(&ok).expect("valid");
        assert!(problem(EmailConfig::new(
            smtp(),
            "not an address",
            ["a@example.com"]
        ))
        .contains("from address \"not an address\""));
        assert!(problem(EmailConfig::new(
            smtp(),
            "t@example.com",
            ["a@example.com", "b@"]
        ))
        .contains("recipient \"b@\""));
        assert!(problem(EmailConfig::new(
            smtp(),
            "t@example.com",
            Vec::<String>::new()
        ))
        .contains("at least one recipient"));
        assert!(problem(EmailConfig::new(
            SmtpConfig::new(" ", SmtpTls::Tls),
            "t@example.com",
            ["a@example.com"]
        ))
        .contains("host is empty"));
        assert!(problem(EmailConfig::new(
            smtp().with_port(0),
            "t@example.com",
            ["a@example.com"]
        ))
        .contains("port must not be 0"));
        let clear = SmtpConfig::new("relay.local", SmtpTls::None).with_credentials("u", "hunter2");
        let text = problem(EmailConfig::new(clear, "t@example.com", ["a@example.com"]));
        assert!(
            text.contains("need TLS") && !text.contains("hunter2"),
            "{text}"
        );
        let mut half = smtp();
        half.password = Some("p".into());
        assert!(
            problem(EmailConfig::new(half, "t@example.com", ["a@example.com"]))
                .contains("together")
        );
        assert!(problem(EmailConfig::new(
            smtp().with_ca_certificates(""),
            "t@example.com",
            ["a@example.com"]
        ))
        .contains("caCertificates"));
    }

    #[test]
    fn the_message_has_the_subject_addresses_and_fields() {
        let sink = EmailSink::new(&EmailConfig::new(
            smtp(),
            "Torii <torii@example.com>",
            ["oncall@example.com", "team@example.com"],
        ))
        .unwrap();
        let event = Event::new(EventKind::POOL_HEALTH_CHANGED, "pool payments is unhealthy")
            .with_pool("payments")
            .with_change("healthy", "unhealthy");
        let mail = sink.mail(&event).unwrap();
        let text = String::from_utf8(mail.bytes).unwrap();
        assert!(
            text.contains("From: Torii <torii@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("To: oncall@example.com, team@example.com\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Subject: [torii] poolHealthChanged: pool payments is unhealthy\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
        assert!(text.contains("Pool:     payments"), "{text}");
        assert_eq!(mail.envelope.to().len(), 2);
        // RFC 2045 §4: a MIME message says so; RFC 5322 §3.6.4: it has a unique Message-ID.
        assert!(text.contains("MIME-Version: 1.0\r\n"), "{text}");
        let id = |text: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix("Message-ID: "))
                .unwrap_or_else(|| panic!("no Message-ID in {text}"))
                .to_owned()
        };
        let first = id(&text);
        assert!(
            first.starts_with('<') && first.ends_with("@example.com>") && first.len() > 20,
            "{first}"
        );
        let again = String::from_utf8(sink.mail(&event).unwrap().bytes).unwrap();
        assert_ne!(id(&again), first, "every message has its own id");
    }
}
