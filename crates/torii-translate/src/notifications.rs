//! Notification targets (`spec.notifications` of `LoadBalancer` and `Rollout`) → validated
//! [`NotificationTarget`]s: webhooks and e-mail, checked as the notifier will use them.

use crate::conditions::Problem;
use crate::lb::{headers, invalid};
use std::sync::Arc;
use torii_config::{NotificationSink, NotificationTarget, PoolId, SmtpTls};
use torii_resources::lb as wire;

/// `spec.notifications` → targets. `pool` turns each entry of a target's `pools` filter
/// (its field and name) into a pool id, reporting the ones that do not resolve.
pub(crate) fn targets(
    specs: &[wire::NotificationSpec],
    mut pool: impl FnMut(String, &str) -> PoolId,
) -> Result<Vec<NotificationTarget>, Problem> {
    let mut notifications: Vec<NotificationTarget> = Vec::new();
    for (i, target) in specs.iter().enumerate() {
        let field = format!("spec.notifications[{i}]");
        if target.name.trim().is_empty() {
            return Err(invalid(&format!("{field}.name"), "must not be empty"));
        }
        if notifications.iter().any(|n| *n.name == *target.name) {
            return Err(invalid(
                &format!("{field}.name"),
                format!("duplicate notification name {:?}", target.name),
            ));
        }
        let sink = match (&target.webhook, &target.email) {
            (Some(webhook), None) => {
                check_webhook_url(&webhook.url)
                    .map_err(|message| invalid(&format!("{field}.webhook.url"), message))?;
                let field = format!("{field}.webhook.headers");
                let headers = headers(&field, webhook.headers.as_deref())?;
                for (j, (name, _)) in headers.iter().enumerate() {
                    if RESERVED_WEBHOOK_HEADERS.contains(&name.as_str()) {
                        return Err(invalid(
                            &format!("{field}[{j}].name"),
                            format!("{name} is set by torii and cannot be configured"),
                        ));
                    }
                    if headers[..j].iter().any(|(other, _)| other == name) {
                        return Err(invalid(
                            &format!("{field}[{j}].name"),
                            format!("header {name} is configured more than once"),
                        ));
                    }
                }
                NotificationSink::Webhook {
                    url: webhook.url.trim().into(),
                    headers,
                }
            }
            (None, Some(email)) => {
                if email.smtp_host.trim().is_empty() {
                    return Err(invalid(
                        &format!("{field}.email.smtpHost"),
                        "must not be empty",
                    ));
                }
                if email.smtp_port == Some(0) {
                    return Err(invalid(
                        &format!("{field}.email.smtpPort"),
                        "must be 1 to 65535",
                    ));
                }
                if !is_mailbox(&email.from) {
                    return Err(invalid(
                        &format!("{field}.email.from"),
                        format!("{:?} is not a mailbox (user@example.com)", email.from),
                    ));
                }
                if email.to.is_empty() {
                    return Err(invalid(
                        &format!("{field}.email.to"),
                        "at least one recipient",
                    ));
                }
                if let Some(j) = email.to.iter().position(|to| !is_mailbox(to)) {
                    return Err(invalid(
                        &format!("{field}.email.to[{j}]"),
                        format!("{:?} is not a mailbox (user@example.com)", email.to[j]),
                    ));
                }
                NotificationSink::Email {
                    smtp_host: email.smtp_host.trim().into(),
                    smtp_port: email.smtp_port.unwrap_or(25),
                    tls: match email.tls.as_deref().unwrap_or("none") {
                        "none" => SmtpTls::None,
                        "starttls" => SmtpTls::Starttls,
                        "tls" => SmtpTls::Tls,
                        other => {
                            return Err(invalid(
                                &format!("{field}.email.tls"),
                                format!("unknown value {other:?} (expected none, starttls or tls)"),
                            ))
                        }
                    },
                    from: email.from.as_str().into(),
                    to: email.to.iter().map(|t| Arc::from(t.as_str())).collect(),
                }
            }
            _ => return Err(invalid(&field, "exactly one of webhook and email")),
        };
        let pools = target
            .pools
            .iter()
            .enumerate()
            .map(|(j, name)| pool(format!("{field}.pools[{j}]"), name))
            .collect();
        notifications.push(NotificationTarget {
            name: target.name.as_str().into(),
            sink,
            pools,
        });
    }
    Ok(notifications)
}

/// Headers the notifier sets itself (or that would break the framing): a webhook cannot set
/// them (`torii-notify` refuses them, which would stop every notification target's update).
const RESERVED_WEBHOOK_HEADERS: [&str; 11] = [
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

/// Checks a webhook URL as the notifier will: an absolute `http` or `https` URL with a host
/// and no credentials. The message never quotes the URL (its path may hold a token).
fn check_webhook_url(url: &str) -> Result<(), &'static str> {
    let uri: http::Uri = url
        .trim()
        .parse()
        .map_err(|_| "must be an absolute http:// or https:// URL")?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err("must be an http:// or https:// URL");
    }
    let authority = uri
        .authority()
        .ok_or("must be an absolute http:// or https:// URL")?;
    if authority.as_str().contains('@') {
        return Err("must not carry credentials (user:password@); send them in a header");
    }
    if authority.host().is_empty() {
        return Err("must name a host");
    }
    Ok(())
}

/// A rough mailbox check (`user@domain`, possibly as `Name <user@domain>`): what the notifier's
/// stricter parser needs at the least.
fn is_mailbox(text: &str) -> bool {
    let text = text.trim();
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text,
    };
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !address.contains(char::is_whitespace)
        }
        None => false,
    }
}
