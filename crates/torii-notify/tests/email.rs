//! E-mail delivery against a real SMTP server: Python's aiosmtpd, started by each test.
//!
//! These tests fail (they do not skip) when aiosmtpd is missing: `pip install aiosmtpd`.

mod support;

use std::time::Duration;
use support::{closed_port, fast_retry, wait_for_outcomes, SmtpOptions, SmtpServer, TestPki};
use torii_notify::{
    EmailConfig, Event, EventKind, Notifier, NotifierConfig, SinkConfig, SmtpConfig, SmtpTls,
};

fn notifier(sink: SinkConfig) -> Notifier {
    Notifier::new(NotifierConfig { sinks: vec![sink] }).expect("valid config")
}

fn pool_down() -> Event {
    Event::new(EventKind::POOL_HEALTH_CHANGED, "pool payments is unhealthy")
        .with_load_balancer("shop")
        .with_pool("payments")
        .with_origin("10.0.0.7:8080")
        .with_change("healthy", "unhealthy")
        .with_reason("no healthy origins left")
        .with_detail("healthyOrigins", "0/3")
}

#[tokio::test]
async fn a_message_with_every_field_reaches_a_real_smtp_server() {
    let server = SmtpServer::start(SmtpOptions::default()).await;
    let smtp = SmtpConfig::new("127.0.0.1", SmtpTls::None).with_port(server.port);
    let notifier = notifier(SinkConfig::email(
        "mail",
        EmailConfig::new(
            smtp,
            "Torii Alerts <torii@example.test>",
            ["oncall@example.test", "Edge Team <edge@example.test>"],
        ),
    ));

    let event = pool_down();
    notifier.notify(event.clone());
    let s = wait_for_outcomes(&notifier, "mail", 1).await;
    assert_eq!((s.delivered, s.retried, s.failed), (1, 0, 0));

    let messages = server.wait_for_messages(1).await;
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.mail_from, "torii@example.test");
    assert_eq!(mail.rcpt_tos, ["oncall@example.test", "edge@example.test"]);
    assert_eq!(mail.from, "Torii Alerts <torii@example.test>");
    assert_eq!(
        mail.to,
        "oncall@example.test, Edge Team <edge@example.test>"
    );
    assert_eq!(
        mail.subject,
        "[torii] poolHealthChanged: pool payments is unhealthy"
    );
    assert_eq!(mail.content_type, "text/plain");
    assert_eq!(mail.login, None);
    // RFC 2045 §4 and RFC 5322 §3.6.4: a MIME-Version and exactly one Message-ID, unique.
    assert_eq!(mail.mime_version.as_deref(), Some("1.0"));
    assert_eq!(mail.message_ids.len(), 1, "{:?}", mail.message_ids);
    let id = &mail.message_ids[0];
    let right = id
        .strip_prefix('<')
        .and_then(|id| id.strip_suffix('>'))
        .and_then(|id| id.split_once('@'))
        .unwrap_or_else(|| panic!("Message-ID {id} is not <left@right>"));
    assert!(right.0.len() >= 16, "{id}");
    assert_eq!(right.1, "example.test", "{id}");
    let body = &mail.body;
    assert!(body.starts_with("pool payments is unhealthy\n"), "{body}");
    let time = humantime::format_rfc3339_millis(event.time).to_string();
    for (label, value) in [
        ("Kind:", "poolHealthChanged"),
        ("Time:", time.as_str()),
        ("Load balancer:", "shop"),
        ("Pool:", "payments"),
        ("Origin:", "10.0.0.7:8080"),
        ("Previous:", "healthy"),
        ("Current:", "unhealthy"),
        ("Reason:", "no healthy origins left"),
        ("healthyOrigins:", "0/3"),
    ] {
        assert!(
            body.lines().any(|line| line.starts_with(label)
                && line.ends_with(value)
                && line[label.len()..line.len() - value.len()]
                    .trim()
                    .is_empty()),
            "no line {label} {value} in\n{body}"
        );
    }

    // A second message has its own Message-ID.
    notifier.notify(pool_down());
    wait_for_outcomes(&notifier, "mail", 2).await;
    let messages = server.wait_for_messages(2).await;
    assert_eq!(messages[1].message_ids.len(), 1);
    assert_ne!(messages[1].message_ids[0], messages[0].message_ids[0]);
}

#[tokio::test]
async fn starttls_with_credentials() {
    let pki = TestPki::new();
    let server = SmtpServer::start(SmtpOptions {
        tls: "starttls",
        certificate: Some((&pki.chain, &pki.key)),
        auth: Some(("torii", "s3cr3t-pass")),
        ..SmtpOptions::default()
    })
    .await;
    let smtp = SmtpConfig::new("127.0.0.1", SmtpTls::Starttls)
        .with_port(server.port)
        .with_credentials("torii", "s3cr3t-pass")
        .with_ca_certificates(&pki.ca_pem);
    let notifier = notifier(SinkConfig::email(
        "mail",
        EmailConfig::new(smtp, "torii@example.test", ["oncall@example.test"]),
    ));
    notifier.notify(pool_down());
    let s = wait_for_outcomes(&notifier, "mail", 1).await;
    assert_eq!((s.delivered, s.failed), (1, 0));
    let messages = server.wait_for_messages(1).await;
    assert_eq!(messages[0].login.as_deref(), Some("torii"));
    assert_eq!(
        messages[0].subject,
        "[torii] poolHealthChanged: pool payments is unhealthy"
    );
}

#[tokio::test]
async fn implicit_tls() {
    let pki = TestPki::new();
    let server = SmtpServer::start(SmtpOptions {
        tls: "tls",
        certificate: Some((&pki.chain, &pki.key)),
        ..SmtpOptions::default()
    })
    .await;
    let smtp = SmtpConfig::new("127.0.0.1", SmtpTls::Tls)
        .with_port(server.port)
        .with_ca_certificates(&pki.ca_pem);
    let notifier = notifier(SinkConfig::email(
        "mail",
        EmailConfig::new(smtp, "torii@example.test", ["oncall@example.test"]),
    ));
    notifier.notify(pool_down());
    let s = wait_for_outcomes(&notifier, "mail", 1).await;
    assert_eq!((s.delivered, s.failed), (1, 0));
    assert_eq!(server.wait_for_messages(1).await.len(), 1);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let pki = TestPki::new();
    let server = SmtpServer::start(SmtpOptions {
        tls: "starttls",
        certificate: Some((&pki.chain, &pki.key)),
        ..SmtpOptions::default()
    })
    .await;
    // No caCertificates: the test CA is not among the web PKI roots.
    let smtp = SmtpConfig::new("127.0.0.1", SmtpTls::Starttls).with_port(server.port);
    let notifier = notifier(
        SinkConfig::email(
            "mail",
            EmailConfig::new(smtp, "torii@example.test", ["oncall@example.test"]),
        )
        .with_retry(fast_retry(2)),
    );
    notifier.notify(pool_down());
    let s = wait_for_outcomes(&notifier, "mail", 1).await;
    assert_eq!((s.delivered, s.failed), (0, 1));
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_wrong_password_is_a_permanent_failure() {
    let pki = TestPki::new();
    let server = SmtpServer::start(SmtpOptions {
        tls: "starttls",
        certificate: Some((&pki.chain, &pki.key)),
        auth: Some(("torii", "right")),
        ..SmtpOptions::default()
    })
    .await;
    let smtp = SmtpConfig::new("127.0.0.1", SmtpTls::Starttls)
        .with_port(server.port)
        .with_credentials("torii", "wrong")
        .with_ca_certificates(&pki.ca_pem);
    let notifier = notifier(
        SinkConfig::email(
            "mail",
            EmailConfig::new(smtp, "torii@example.test", ["oncall@example.test"]),
        )
        .with_retry(fast_retry(5)),
    );
    notifier.notify(pool_down());
    let s = wait_for_outcomes(&notifier, "mail", 1).await;
    assert_eq!(
        (s.delivered, s.retried, s.failed),
        (0, 0, 1),
        "535 is not retried"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_temporary_smtp_error_is_retried() {
    let server = SmtpServer::start(SmtpOptions {
        fail_first: 1,
        ..SmtpOptions::default()
    })
    .await;
    let smtp = SmtpConfig::new("127.0.0.1", SmtpTls::None).with_port(server.port);
    let notifier = notifier(
        SinkConfig::email(
            "mail",
            EmailConfig::new(smtp, "torii@example.test", ["oncall@example.test"]),
        )
        .with_retry(fast_retry(5)),
    );
    notifier.notify(pool_down());
    let s = wait_for_outcomes(&notifier, "mail", 1).await;
    assert_eq!(
        (s.delivered, s.retried, s.failed),
        (1, 1, 0),
        "451 is retried"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.messages().len(), 1, "delivered once");
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_given_up() {
    let port = closed_port().await.port();
    let smtp = SmtpConfig::new("127.0.0.1", SmtpTls::None).with_port(port);
    let notifier = notifier(
        SinkConfig::email(
            "mail",
            EmailConfig::new(smtp, "torii@example.test", ["oncall@example.test"]),
        )
        .with_retry(fast_retry(3)),
    );
    notifier.notify(pool_down());
    let s = wait_for_outcomes(&notifier, "mail", 1).await;
    assert_eq!((s.delivered, s.retried, s.failed), (0, 2, 1));
}
