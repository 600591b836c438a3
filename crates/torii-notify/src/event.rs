//! The event: what happened, where, and when, as sent to every sink.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

/// What kind of thing happened: an open set of camelCase names.
///
/// The constants name the events torii sends today; a feature with events of its own (rollouts,
/// certificate expiry, …) uses its own names through [`EventKind::from_static`] or
/// [`EventKind::new`] without a change to this crate. Receivers must ignore kinds they do not
/// know.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventKind(Cow<'static, str>);

impl EventKind {
    /// An origin (one endpoint of a pool) became healthy or unhealthy.
    pub const ORIGIN_HEALTH_CHANGED: EventKind = EventKind::from_static("originHealthChanged");
    /// A pool became healthy or unhealthy (enough of its origins are, or are no longer, healthy).
    pub const POOL_HEALTH_CHANGED: EventKind = EventKind::from_static("poolHealthChanged");
    /// A load balancer moved its traffic from one pool to another.
    pub const LOAD_BALANCER_FAILOVER: EventKind = EventKind::from_static("loadBalancerFailover");
    /// A progressive rollout started.
    pub const ROLLOUT_STARTED: EventKind = EventKind::from_static("rolloutStarted");
    /// A progressive rollout moved to its next step (for example a larger traffic weight).
    pub const ROLLOUT_ADVANCED: EventKind = EventKind::from_static("rolloutAdvanced");
    /// A progressive rollout was paused (by a person or a failed check).
    pub const ROLLOUT_PAUSED: EventKind = EventKind::from_static("rolloutPaused");
    /// A progressive rollout finished: all traffic is on the new version.
    pub const ROLLOUT_COMPLETED: EventKind = EventKind::from_static("rolloutCompleted");
    /// A progressive rollout was rolled back: all traffic is on the old version again.
    pub const ROLLOUT_ROLLED_BACK: EventKind = EventKind::from_static("rolloutRolledBack");

    /// A kind named by a string constant (usable in `const` items).
    pub const fn from_static(name: &'static str) -> Self {
        EventKind(Cow::Borrowed(name))
    }

    /// A kind named at run time.
    pub fn new(name: impl Into<String>) -> Self {
        EventKind(Cow::Owned(name.into()))
    }

    /// The kind's name, as it appears in JSON.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&'static str> for EventKind {
    fn from(name: &'static str) -> Self {
        EventKind::from_static(name)
    }
}

impl From<String> for EventKind {
    fn from(name: String) -> Self {
        EventKind::new(name)
    }
}

/// One event, sent as JSON to webhooks and as a plain-text message by e-mail.
///
/// Build one with [`Event::new`] and the `with_*` methods. The JSON shape is documented at the
/// crate root; fields that are `None` (or an empty `details`) are left out of the JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// When it happened (RFC 3339, UTC, millisecond precision in JSON).
    #[serde(with = "rfc3339")]
    pub time: SystemTime,
    /// The load balancer concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<String>,
    /// The pool concerned, if any; sinks filter on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// The origin concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The rollout concerned, if any; only that rollout's sinks receive the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
    /// The state before the change (for example `healthy`, or the pool failed over from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The state after the change (for example `unhealthy`, or the pool failed over to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Why it happened, in a few words (for example `3 consecutive failed checks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human-readable sentence describing the event.
    pub message: String,
    /// Further facts specific to the kind (for example a rollout's step and weight).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl Event {
    /// An event of `kind` happening now, described by `message`.
    pub fn new(kind: EventKind, message: impl Into<String>) -> Self {
        Event {
            kind,
            time: SystemTime::now(),
            load_balancer: None,
            pool: None,
            origin: None,
            rollout: None,
            previous: None,
            current: None,
            reason: None,
            message: message.into(),
            details: BTreeMap::new(),
        }
    }

    /// Sets when the event happened.
    pub fn with_time(mut self, time: SystemTime) -> Self {
        self.time = time;
        self
    }

    /// Sets the load balancer concerned.
    pub fn with_load_balancer(mut self, name: impl Into<String>) -> Self {
        self.load_balancer = Some(name.into());
        self
    }

    /// Sets the pool concerned.
    pub fn with_pool(mut self, name: impl Into<String>) -> Self {
        self.pool = Some(name.into());
        self
    }

    /// Sets the rollout concerned.
    pub fn with_rollout(mut self, name: impl Into<String>) -> Self {
        self.rollout = Some(name.into());
        self
    }

    /// Sets the origin concerned.
    pub fn with_origin(mut self, name: impl Into<String>) -> Self {
        self.origin = Some(name.into());
        self
    }

    /// Sets the state before and after the change.
    pub fn with_change(mut self, previous: impl Into<String>, current: impl Into<String>) -> Self {
        self.previous = Some(previous.into());
        self.current = Some(current.into());
        self
    }

    /// Sets why the event happened.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds one kind-specific fact to `details`.
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// The event as its JSON document (the webhook request body).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain strings, a map of strings and a formatted time cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The e-mail subject: `[torii] <kind>: <first line of the message>`, at most ~160 bytes.
    pub(crate) fn subject(&self) -> String {
        const MAX: usize = 160;
        let line = self.message.lines().next().unwrap_or("").trim();
        let mut subject = if line.is_empty() {
            format!("[torii] {}", self.kind)
        } else {
            format!("[torii] {}: {line}", self.kind)
        };
        subject.retain(|c| !c.is_control());
        if subject.len() > MAX {
            let mut end = MAX;
            while !subject.is_char_boundary(end) {
                end -= 1;
            }
            subject.truncate(end);
            subject.push('…');
        }
        subject
    }

    /// The e-mail body: the message, then one `Label: value` line per field that is set.
    pub(crate) fn text_body(&self) -> String {
        let time = rfc3339::format(self.time);
        let mut rows: Vec<(&str, &str)> = vec![("Kind", self.kind.as_str()), ("Time", &time)];
        let optional = [
            ("Load balancer", &self.load_balancer),
            ("Pool", &self.pool),
            ("Origin", &self.origin),
            ("Previous", &self.previous),
            ("Current", &self.current),
            ("Reason", &self.reason),
        ];
        rows.extend(
            optional
                .iter()
                .filter_map(|(label, value)| value.as_deref().map(|v| (*label, v))),
        );
        rows.extend(self.details.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
        let mut body = String::with_capacity(256);
        body.push_str(&self.message);
        body.push_str("\n\n");
        for (label, value) in rows {
            body.push_str(&format!("{:<width$} {value}\n", format!("{label}:")));
        }
        body.push_str(concat!(
            "\n-- \nSent by torii ",
            env!("CARGO_PKG_VERSION"),
            "\n"
        ));
        body
    }
}

/// RFC 3339 UTC times for serde (`2026-05-01T12:00:00.123Z`).
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub(crate) fn format(time: SystemTime) -> String {
        humantime::format_rfc3339_millis(time).to_string()
    }

    pub(super) fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(*time))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn sample() -> Event {
        Event::new(
            EventKind::ORIGIN_HEALTH_CHANGED,
            "origin 10.0.0.7:8080 of pool payments is unhealthy",
        )
        .with_time(UNIX_EPOCH + Duration::from_millis(1_777_636_800_123))
        .with_load_balancer("shop")
        .with_pool("payments")
        .with_origin("10.0.0.7:8080")
        .with_change("healthy", "unhealthy")
        .with_reason("3 consecutive failed checks")
    }

    #[test]
    fn json_shape_is_camel_case_and_leaves_out_unset_fields() {
        let json: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "originHealthChanged",
                "time": "2026-05-01T12:00:00.123Z",
                "loadBalancer": "shop",
                "pool": "payments",
                "origin": "10.0.0.7:8080",
                "previous": "healthy",
                "current": "unhealthy",
                "reason": "3 consecutive failed checks",
                "message": "origin 10.0.0.7:8080 of pool payments is unhealthy",
            })
        );
        let bare = Event::new(EventKind::from_static("rolloutStarted"), "go")
            .with_time(UNIX_EPOCH)
            .with_detail("step", "1");
        let json: serde_json::Value = serde_json::from_slice(&bare.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "rolloutStarted",
                "time": "1970-01-01T00:00:00.000Z",
                "message": "go",
                "details": {"step": "1"},
            })
        );
    }

    #[test]
    fn json_round_trips_and_accepts_unknown_kinds() {
        let event = sample().with_detail("weight", "10");
        let back: Event = serde_json::from_slice(&event.to_json()).unwrap();
        assert_eq!(back, event);
        let other: Event = serde_json::from_str(
            r#"{"kind":"certificateExpiring","time":"2026-05-01T12:00:00Z","message":"m"}"#,
        )
        .unwrap();
        assert_eq!(other.kind, EventKind::new("certificateExpiring"));
        assert_eq!(other.pool, None);
    }

    #[test]
    fn subject_is_one_short_line() {
        assert_eq!(
            sample().subject(),
            "[torii] originHealthChanged: origin 10.0.0.7:8080 of pool payments is unhealthy"
        );
        let long = Event::new(EventKind::POOL_HEALTH_CHANGED, "é".repeat(200) + "\nsecond");
        let subject = long.subject();
        assert!(subject.len() <= 160 + '…'.len_utf8(), "{}", subject.len());
        assert!(!subject.contains('\n'));
        assert_eq!(
            Event::new(EventKind::POOL_HEALTH_CHANGED, "").subject(),
            "[torii] poolHealthChanged"
        );
    }

    #[test]
    fn text_body_lists_every_set_field() {
        let body = sample().with_detail("checks", "http").text_body();
        assert!(body.starts_with("origin 10.0.0.7:8080 of pool payments is unhealthy\n\n"));
        for line in [
            "Kind:          originHealthChanged",
            "Time:          2026-05-01T12:00:00.123Z",
            "Load balancer: shop",
            "Pool:          payments",
            "Origin:        10.0.0.7:8080",
            "Previous:      healthy",
            "Current:       unhealthy",
            "Reason:        3 consecutive failed checks",
            "checks:        http",
        ] {
            assert!(
                body.lines().any(|l| l == line),
                "missing {line:?} in\n{body}"
            );
        }
    }
}
