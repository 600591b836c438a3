//! The table: objects of torii's kinds, what the API server does with them (through the CRDs'
//! schemas and CEL rules) and what file mode does with the same object.
//!
//! Every object the API server refuses must also be one that file mode refuses or does not
//! apply, so the two modes never disagree about what is valid; the edge values at the end are
//! accepted by both.

use crate::file_mode::FileMode::{self, Invalid, LoadError, Unresolved, Warned};

/// What the API server does with the object (`kubectl apply --dry-run=server
/// --validate=strict`).
#[derive(Debug, Clone, Copy)]
pub enum Admission {
    /// Refused; the message contains this text.
    Refused(&'static str),
    /// Accepted.
    Accepted,
}
use Admission::{Accepted, Refused};

/// One object: a name, its kind, its spec (YAML, indented under `spec:`), and the outcomes.
pub struct Case {
    pub name: &'static str,
    pub kind: &'static str,
    pub spec: &'static str,
    pub admission: Admission,
    pub file_mode: FileMode,
}

const HM: &str = "HealthMonitor";
const OP: &str = "OriginPool";
const LB: &str = "LoadBalancer";
const CMP: &str = "Comparison";
const RO: &str = "Rollout";

const fn c(
    name: &'static str,
    kind: &'static str,
    spec: &'static str,
    admission: Admission,
    file_mode: FileMode,
) -> Case {
    Case {
        name,
        kind,
        spec,
        admission,
        file_mode,
    }
}

/// A valid Rollout's required fields, before the ones a case adds.
macro_rules! rollout {
    ($rest:literal) => {
        concat!(
            "targetRef: {kind: HTTPRoute, name: r}\nstableRef: {name: a, port: 80}\n",
            "candidateRef: {name: b, port: 80}\n",
            $rest
        )
    };
}

/// A valid Comparison's required fields, before the ones a case adds.
macro_rules! comparison {
    ($rest:literal) => {
        concat!(
            "targetRef: {kind: HTTPRoute, name: r}\ncandidate: {name: svc, port: 80}\n",
            $rest
        )
    };
}

/// A load balancer with one notification target, whose fields follow.
macro_rules! notify {
    ($rest:literal) => {
        concat!("defaultPools: [p]\nnotifications:\n- name: ops\n", $rest)
    };
}

const MATCH: &str = "in body should match";

/// The table.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    // --- HealthMonitor ------------------------------------------------------------------
    c("hm-type", HM, "type: udp", Refused(r#"spec.type: Unsupported value: "udp": supported values: "http", "https", "tcp""#), Invalid),
    c("hm-method", HM, "method: 'GE T'", Refused(MATCH), Invalid),
    c("hm-path", HM, "path: healthz", Refused("spec.path: Invalid value: \"string\": must start with / and hold no spaces or control characters"), Invalid),
    c("hm-path-space", HM, "path: /a b", Refused("must start with / and hold no spaces"), Invalid),
    c("hm-port-zero", HM, "port: 0", Refused("spec.port in body should be greater than or equal to 1"), Invalid),
    c("hm-port-big", HM, "port: 70000", Refused("spec.port in body should be less than or equal to 65535"), LoadError),
    c("hm-codes", HM, "expectedCodes: '600'", Refused("spec.expectedCodes in body should match"), Invalid),
    c("hm-codes-empty-entry", HM, "expectedCodes: '200,,301'", Refused(MATCH), Invalid),
    c("hm-interval-fraction", HM, "interval: 1.5s", Refused("spec.interval in body should match '^([0-9]{1,5}(h|m|s|ms)){1,4}$'"), Invalid),
    c("hm-interval-days", HM, "interval: 1d", Refused(MATCH), Invalid),
    c("hm-interval-zero", HM, "interval: 0s", Refused("spec.interval: Invalid value: \"string\": must be above zero"), Invalid),
    c("hm-timeout-zero", HM, "timeout: 0ms", Refused("spec.timeout: Invalid value: \"string\": must be above zero"), Invalid),
    c("hm-timeout-over-interval", HM, "interval: 10s\ntimeout: 20s", Refused("spec.timeout: Invalid value: \"object\": timeout must be at most the interval"), Invalid),
    c("hm-default-timeout-over-interval", HM, "interval: 2s", Refused("timeout must be at most the interval"), Invalid),
    c("hm-retries", HM, "retries: 6", Refused("spec.retries in body should be less than or equal to 5"), Invalid),
    c("hm-retries-type", HM, "retries: lots", Refused("spec.retries in body must be of type integer"), LoadError),
    c("hm-up-zero", HM, "consecutiveUp: 0", Refused("spec.consecutiveUp in body should be greater than or equal to 1"), Invalid),
    c("hm-down-big", HM, "consecutiveDown: 101", Refused("less than or equal to 100"), Invalid),
    c("hm-header-name", HM, "headers: [{name: 'a b', value: x}]", Refused("spec.headers[0].name in body should match"), Invalid),
    c("hm-header-value", HM, "headers: [{name: a, value: \"x\\ny\"}]", Refused("spec.headers[0].value in body should match"), Invalid),
    c("hm-header-no-value", HM, "headers: [{name: a}]", Refused("spec.headers[0].value: Required value"), LoadError),
    c("hm-unknown-field", HM, "colour: red", Refused(r#"unknown field "spec.colour""#), Warned),
    // --- OriginPool ---------------------------------------------------------------------
    c("op-no-origins", OP, "monitor: m", Refused("spec.origins: Required value"), LoadError),
    c("op-empty-origins", OP, "origins: []", Refused("spec.origins in body should have at least 1 items"), Invalid),
    c("op-duplicate-origin", OP, "origins:\n- {name: a, address: '192.0.2.1:80'}\n- {name: a, address: '192.0.2.2:80'}", Refused(r#"spec.origins[1]: Duplicate value: {"name":"a"}"#), Invalid),
    c("op-address-and-service", OP, "origins: [{name: a, address: '192.0.2.1:80', serviceRef: {name: s, port: 80}}]", Refused("spec.origins[0]: Invalid value: \"object\": exactly one of address and serviceRef"), Invalid),
    c("op-no-address", OP, "origins: [{name: a, weight: 2}]", Refused("exactly one of address and serviceRef"), Invalid),
    c("op-address-no-port", OP, "origins: [{name: a, address: 192.0.2.1}]", Refused("spec.origins[0].address in body should match"), Invalid),
    c("op-address-port-zero", OP, "origins: [{name: a, address: '192.0.2.1:0'}]", Refused(MATCH), Invalid),
    c("op-address-port-big", OP, "origins: [{name: a, address: 'shop.example.com:65536'}]", Refused(MATCH), Invalid),
    c("op-weight-negative", OP, "origins: [{name: a, address: '192.0.2.1:80', weight: -1}]", Refused("spec.origins[0].weight in body should be greater than or equal to 0"), LoadError),
    c("op-origin-name-empty", OP, "origins: [{name: '', address: '192.0.2.1:80'}]", Refused("spec.origins[0].name in body should be at least 1 chars long"), Invalid),
    c("op-service-no-port", OP, "origins: [{name: a, serviceRef: {name: s}}]", Refused("spec.origins[0].serviceRef.port: Required value"), LoadError),
    c("op-host", OP, "origins: [{name: a, address: '192.0.2.1:80', host: \"a\\u0001b\"}]", Refused("spec.origins[0].host in body should match"), Invalid),
    c("op-policy", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nloadBalancing: {policy: random}", Refused(r#"spec.loadBalancing.policy: Unsupported value: "random""#), Invalid),
    c("op-hash-missing", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nloadBalancing: {policy: consistentHash}", Refused("spec.loadBalancing.hashOn: Invalid value: \"object\": consistentHash needs hashOn"), Invalid),
    c("op-hash-type", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nloadBalancing: {policy: consistentHash, hashOn: {type: url}}", Refused("hashOn.type must be clientIp, header or cookie"), Invalid),
    c("op-hash-name", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nloadBalancing: {policy: consistentHash, hashOn: {type: header}}", Refused("spec.loadBalancing.hashOn.name: Invalid value: \"object\": a header or cookie name is needed"), Invalid),
    c("op-latitude", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nlocation: {latitude: 91, longitude: 0}", Refused("spec.location.latitude in body should be less than or equal to 90"), Invalid),
    c("op-latitude-alone", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nlocation: {latitude: 50}", Refused("spec.location: Invalid value: \"object\": latitude and longitude go together"), Invalid),
    c("op-region", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nlocation: {region: MARS}", Refused("spec.location.region: Invalid value: \"string\": unknown region"), Invalid),
    c("op-country", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nlocation: {country: DEU}", Refused("spec.location.country in body should match"), Invalid),
    c("op-shedding", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nloadShedding: {percent: 101}", Refused("spec.loadShedding.percent in body should be less than or equal to 100"), Invalid),
    c("op-shedding-type", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nloadShedding: {percent: 300}", Refused("less than or equal to 100"), LoadError),
    c("op-ejection-times", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\noutlierDetection: {baseEjectionTime: 10m, maxEjectionTime: 1m}", Refused("spec.outlierDetection.maxEjectionTime: Invalid value: \"object\": maxEjectionTime must be at least baseEjectionTime"), Invalid),
    c("op-ejection-default-max", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\noutlierDetection: {baseEjectionTime: 10m}", Refused("maxEjectionTime must be at least baseEjectionTime"), Invalid),
    c("op-ejection-percent", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\noutlierDetection: {maxEjectionPercent: 101}", Refused("less than or equal to 100"), Invalid),
    c("op-app-protocol", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nappProtocol: https", Refused(r#"spec.appProtocol: Unsupported value: "https": supported values: "http", "h2c""#), Invalid),
    // --- LoadBalancer -------------------------------------------------------------------
    c("lb-no-pools", LB, "hostnames: [shop.example.com]", Refused("spec.defaultPools: Required value"), LoadError),
    c("lb-empty-pools", LB, "defaultPools: []", Refused("spec.defaultPools in body should have at least 1 items"), Invalid),
    c("lb-wildcard-hostname", LB, "defaultPools: [p]\nhostnames: ['*.example.com']", Refused("spec.hostnames[0] in body should match"), Invalid),
    c("lb-steering", LB, "defaultPools: [p]\nsteering: {policy: random}", Refused(r#"spec.steering.policy: Unsupported value: "random""#), Invalid),
    c("lb-geo-country", LB, "defaultPools: [p]\nsteering: {policy: geo, countries: {DEU: [p]}}", Refused("spec.steering.countries: Invalid value: \"object\": country keys are ISO 3166-1 alpha-2 codes"), Invalid),
    c("lb-geo-region", LB, "defaultPools: [p]\nsteering: {policy: geo, regions: {MARS: [p]}}", Refused("spec.steering.regions: Invalid value: \"object\": region keys are"), Invalid),
    c("lb-weight-negative", LB, "defaultPools: [p]\nsteering: {policy: weighted, weights: {p: -1}}", Refused("greater than or equal to 0"), LoadError),
    c("lb-affinity-type", LB, "defaultPools: [p]\nsessionAffinity: {type: url}", Refused(r#"spec.sessionAffinity.type: Unsupported value: "url""#), Invalid),
    c("lb-affinity-header-name", LB, "defaultPools: [p]\nsessionAffinity: {type: header}", Refused("spec.sessionAffinity.name: Invalid value: \"object\": a header name (an HTTP token) is needed"), Invalid),
    c("lb-affinity-cookie-name", LB, "defaultPools: [p]\nsessionAffinity: {name: 'my cookie'}", Refused("a cookie name is letters, digits, -, _ and ."), Invalid),
    c("lb-affinity-ttl", LB, "defaultPools: [p]\nsessionAffinity: {ttl: 500ms}", Refused("spec.sessionAffinity.ttl: Invalid value: \"string\": must be at least 1s"), Invalid),
    c("lb-affinity-failover", LB, "defaultPools: [p]\nsessionAffinity: {failover: never}", Refused(r#"Unsupported value: "never": supported values: "none", "temporary", "sticky""#), Invalid),
    c("lb-affinity-drain", LB, "defaultPools: [p]\nsessionAffinity: {drainPeriod: 10 minutes}", Refused("spec.sessionAffinity.drainPeriod in body should match"), Invalid),
    c("lb-failover-retries", LB, "defaultPools: [p]\nfailover: {retries: 11}", Refused("spec.failover.retries in body should be less than or equal to 10"), Invalid),
    c("lb-failover-codes", LB, "defaultPools: [p]\nfailover: {statusCodes: '5xx,60'}", Refused("spec.failover.statusCodes in body should match"), Invalid),
    c("lb-failover-timeout", LB, "defaultPools: [p]\nfailover: {attemptTimeout: 0s}", Refused("spec.failover.attemptTimeout: Invalid value: \"string\": must be above zero"), Invalid),
    c("lb-ttl-negative", LB, "defaultPools: [p]\nttl: -1", Refused("spec.ttl in body should be greater than or equal to 0"), LoadError),
    c("lb-notify-both", LB, notify!("  webhook: {url: 'https://h.example.com/'}\n  email: {smtpHost: mail, from: a@b, to: [c@d]}"), Refused("spec.notifications[0]: Invalid value: \"object\": exactly one of webhook and email"), Invalid),
    c("lb-notify-neither", LB, notify!("  pools: [p]"), Refused("exactly one of webhook and email"), Invalid),
    c("lb-notify-duplicate", LB, "defaultPools: [p]\nnotifications:\n- {name: ops, webhook: {url: 'https://a.example.com/'}}\n- {name: ops, webhook: {url: 'https://b.example.com/'}}", Refused(r#"spec.notifications[1]: Duplicate value: {"name":"ops"}"#), Invalid),
    c("lb-notify-name-blank", LB, "defaultPools: [p]\nnotifications: [{name: '  ', webhook: {url: 'https://a.example.com/'}}]", Refused("spec.notifications[0].name: Invalid value: \"string\": must not be empty"), Invalid),
    c("lb-webhook-scheme", LB, notify!("  webhook: {url: 'ftp://files.example.com/'}"), Refused("spec.notifications[0].webhook.url: Invalid value: \"string\": must be an absolute http:// or https:// URL with a host"), Invalid),
    c("lb-webhook-relative", LB, notify!("  webhook: {url: /hooks}"), Refused("must be an absolute http:// or https:// URL"), Invalid),
    c("lb-webhook-credentials", LB, notify!("  webhook: {url: 'https://user:pw@hooks.example.com/x'}"), Refused("must not carry credentials (user:password@); send them in a header"), Invalid),
    c("lb-webhook-reserved-header", LB, notify!("  webhook: {url: 'https://h.example.com/', headers: [{name: Content-Type, value: text/plain}]}"), Refused("are set by torii and cannot be configured"), Invalid),
    c("lb-webhook-duplicate-header", LB, notify!("  webhook: {url: 'https://h.example.com/', headers: [{name: X-Key, value: a}, {name: x-key, value: b}]}"), Refused("spec.notifications[0].webhook.headers: Invalid value: \"array\": a header is configured more than once"), Invalid),
    c("lb-email-from", LB, notify!("  email: {smtpHost: mail, from: nobody, to: [ops@example.com]}"), Refused("spec.notifications[0].email.from: Invalid value: \"string\": must be a mailbox"), Invalid),
    c("lb-email-to-empty", LB, notify!("  email: {smtpHost: mail, from: a@example.com, to: []}"), Refused("spec.notifications[0].email.to in body should have at least 1 items"), Invalid),
    c("lb-email-to", LB, notify!("  email: {smtpHost: mail, from: a@example.com, to: [ops@example.com, ops]}"), Refused("spec.notifications[0].email.to: Invalid value: \"array\": must be a mailbox"), Invalid),
    c("lb-email-tls", LB, notify!("  email: {smtpHost: mail, from: a@example.com, to: [b@example.com], tls: ssl}"), Refused(r#"Unsupported value: "ssl": supported values: "none", "starttls", "tls""#), Invalid),
    c("lb-email-port", LB, notify!("  email: {smtpHost: mail, smtpPort: 0, from: a@example.com, to: [b@example.com]}"), Refused("spec.notifications[0].email.smtpPort in body should be greater than or equal to 1"), Invalid),
    c("lb-email-host", LB, notify!("  email: {smtpHost: ' ', from: a@example.com, to: [b@example.com]}"), Refused("spec.notifications[0].email.smtpHost: Invalid value: \"string\": must not be empty"), Invalid),
    // --- Comparison ---------------------------------------------------------------------
    c("cmp-no-target", CMP, "candidate: {name: svc, port: 80}", Refused("spec.targetRef: Required value"), LoadError),
    c("cmp-no-candidate", CMP, "targetRef: {kind: HTTPRoute, name: r}", Refused("spec.candidate: Required value"), LoadError),
    c("cmp-service-without-port", CMP, "targetRef: {kind: HTTPRoute, name: r}\ncandidate: {name: svc}", Refused("spec.candidate.port: Invalid value: \"object\": a Service needs a port"), Unresolved),
    c("cmp-port-range", CMP, "targetRef: {kind: HTTPRoute, name: r}\ncandidate: {name: svc, port: 70000}", Refused("spec.candidate.port in body should be less than or equal to 65535"), Unresolved),
    c("cmp-sampling-zero", CMP, comparison!("sampling: {percent: 0}"), Refused("spec.sampling.percent: Invalid value: \"number\": must be above 0 and at most 100"), Invalid),
    c("cmp-sampling-over", CMP, comparison!("sampling: {percent: 100.5}"), Refused("must be above 0 and at most 100"), Invalid),
    c("cmp-methods-empty", CMP, comparison!("methods: []"), Refused("spec.methods in body should have at least 1 items"), Invalid),
    c("cmp-methods-twice", CMP, comparison!("methods: [GET, GET]"), Refused(r#"spec.methods[1]: Duplicate value: "GET""#), Invalid),
    c("cmp-method", CMP, comparison!("methods: ['GE T']"), Refused("spec.methods[0] in body should match"), Invalid),
    c("cmp-ignore-header", CMP, comparison!("ignore: {headers: ['x build']}"), Refused("spec.ignore.headers[0] in body should match"), Invalid),
    c("cmp-json-path", CMP, comparison!("ignore: {jsonPaths: [meta.generatedAt]}"), Refused("spec.ignore.jsonPaths[0] in body should match"), Invalid),
    c("cmp-redact-header", CMP, comparison!("redactHeaders: ['a:b']"), Refused("spec.redactHeaders[0] in body should match"), Invalid),
    c("cmp-max-body", CMP, comparison!("maxBodyBytes: 67108865"), Refused("spec.maxBodyBytes in body should be less than or equal to"), Invalid),
    c("cmp-max-concurrent", CMP, comparison!("maxConcurrent: 0"), Refused("spec.maxConcurrent in body should be greater than or equal to 1"), Invalid),
    c("cmp-timeout", CMP, comparison!("timeout: 0s"), Refused("spec.timeout: Invalid value: \"string\": must be above zero"), Invalid),
    // --- Rollout ------------------------------------------------------------------------
    c("ro-no-steps", RO, "targetRef: {kind: HTTPRoute, name: r}\nstableRef: {name: a, port: 80}\ncandidateRef: {name: b, port: 80}", Refused("spec.steps: Required value"), LoadError),
    c("ro-empty-steps", RO, rollout!("steps: []"), Refused("spec.steps in body should have at least 1 items"), Invalid),
    c("ro-step-both", RO, rollout!("steps: [{weight: 100, mirror: {}}]"), Refused("spec.steps[0]: Invalid value: \"object\": exactly one of mirror and weight"), Invalid),
    c("ro-step-neither", RO, rollout!("steps: [{pause: 1m}, {weight: 100}]"), Refused("exactly one of mirror and weight"), Invalid),
    c("ro-weight-zero", RO, rollout!("steps: [{weight: 0}, {weight: 100}]"), Refused("spec.steps[0].weight in body should be greater than or equal to 1"), Invalid),
    c("ro-weight-over", RO, rollout!("steps: [{weight: 101}]"), Refused("less than or equal to 100"), Invalid),
    c("ro-mirror-pause", RO, rollout!("steps: [{mirror: {}, pause: 1m}, {weight: 100}]"), Refused("spec.steps[0].pause: Invalid value: \"object\": only weight steps pause (a mirror step lasts mirror.duration)"), Invalid),
    c("ro-mirror-after-weight", RO, rollout!("steps: [{weight: 50}, {mirror: {}}, {weight: 100}]"), Refused("spec.steps: Invalid value: \"object\": mirror steps must come before the weight steps"), Invalid),
    c("ro-weights-repeat", RO, rollout!("steps: [{weight: 50}, {weight: 50}, {weight: 100}]"), Refused("spec.steps: Invalid value: \"object\": weights must strictly increase"), Invalid),
    c("ro-weights-decrease", RO, rollout!("steps: [{weight: 50}, {weight: 10}, {weight: 100}]"), Refused("weights must strictly increase"), Invalid),
    c("ro-last-not-100", RO, rollout!("steps: [{mirror: {}}, {weight: 50}]"), Refused("spec.steps: Invalid value: \"object\": the last step must be a weight step of 100"), Invalid),
    c("ro-only-mirror", RO, rollout!("steps: [{mirror: {}}]"), Refused("the last step must be a weight step of 100"), Invalid),
    c("ro-mirror-diff-rate", RO, rollout!("steps: [{mirror: {maxDiffRate: 2}}, {weight: 100}]"), Refused("spec.steps[0].mirror.maxDiffRate in body should be less than or equal to 1"), Invalid),
    c("ro-mirror-min-compared", RO, rollout!("steps: [{mirror: {minCompared: 0}}, {weight: 100}]"), Refused("spec.steps[0].mirror.minCompared in body should be greater than or equal to 1"), Invalid),
    c("ro-mirror-duration", RO, rollout!("steps: [{mirror: {duration: 1.5h}}, {weight: 100}]"), Refused("spec.steps[0].mirror.duration in body should match"), Invalid),
    c("ro-error-rate", RO, rollout!("steps: [{weight: 100}]\nanalysis: {maxErrorRate: 1.5}"), Refused("spec.analysis.maxErrorRate in body should be less than or equal to 1"), Invalid),
    c("ro-error-rate-increase", RO, rollout!("steps: [{weight: 100}]\nanalysis: {maxErrorRateIncrease: -0.1}"), Refused("greater than or equal to 0"), Invalid),
    c("ro-p99-ratio", RO, rollout!("steps: [{weight: 100}]\nanalysis: {maxLatencyP99Ratio: 0.5}"), Refused("spec.analysis.maxLatencyP99Ratio in body should be greater than or equal to 1"), Invalid),
    c("ro-min-requests", RO, rollout!("steps: [{weight: 100}]\nanalysis: {minRequests: 0}"), Refused("spec.analysis.minRequests in body should be greater than or equal to 1"), Invalid),
    c("ro-min-compared", RO, rollout!("steps: [{weight: 100}]\nanalysis: {maxDiffRate: 0.1, minCompared: 0}"), Refused("spec.analysis.minCompared: Invalid value: \"object\": must be at least 1 when maxDiffRate is set"), Invalid),
    c("ro-interval", RO, rollout!("steps: [{weight: 100}]\nanalysis: {interval: 0s}"), Refused("spec.analysis.interval: Invalid value: \"string\": must be above zero"), Invalid),
    c("ro-latency-slack", RO, rollout!("steps: [{weight: 100}]\nanalysis: {latencySlack: 5 ms}"), Refused("spec.analysis.latencySlack in body should match"), Invalid),
    c("ro-cookie-name", RO, rollout!("steps: [{weight: 100}]\nsessionAffinity: {cookieName: 'a b'}"), Refused("spec.sessionAffinity.cookieName in body should match"), Invalid),
    c("ro-affinity-ttl", RO, rollout!("steps: [{weight: 100}]\nsessionAffinity: {ttl: 0s}"), Refused("spec.sessionAffinity.ttl: Invalid value: \"string\": must be at least 1s"), Invalid),
    c("ro-compare-timeout", RO, rollout!("steps: [{weight: 100}]\ncompare: {timeout: 0s}"), Refused("spec.compare.timeout: Invalid value: \"string\": must be above zero"), Invalid),
    c("ro-notify-pools", RO, rollout!("steps: [{weight: 100}]\nnotifications: [{name: ops, webhook: {url: 'https://h.example.com/'}, pools: [p]}]"), Refused("spec.notifications: Invalid value: \"object\": a rollout's events belong to no pool; remove the pools filter"), Invalid),
    c("ro-stable-without-port", RO, "targetRef: {kind: HTTPRoute, name: r}\nstableRef: {name: a}\ncandidateRef: {name: b, port: 80}\nsteps: [{weight: 100}]", Refused("spec.stableRef.port: Invalid value: \"object\": a Service needs a port"), Unresolved),
    c("ro-unknown-field", RO, rollout!("steps: [{weight: 100, pace: fast}]"), Refused(r#"unknown field "spec.steps[0].pace""#), Warned),
    // --- Edge values both modes accept --------------------------------------------------
    c("ok-hm-defaults", HM, "{}", Accepted, FileMode::Accepted),
    c("ok-hm-edges", HM, "type: https\nmethod: PURGE\npath: /health?full=1\nexpectedCodes: ' 200 , 301-302,5XX,+0204'\ninterval: 1h1h1h1h\ntimeout: 99999ms\nretries: 0\nheaders: [{name: Host, value: \"shop.example.com\\tx\"}]", Accepted, FileMode::Accepted),
    c("ok-op-addresses", OP, "origins:\n- {name: v6, address: '[2001:db8::1]:8080'}\n- {name: zero, address: 'shop.example.com:080'}\n- {name: dns, address: 'Shop.Example.com.:+8080', weight: 0}\n- {name: max, address: '192.0.2.1:65535', enabled: false}\n- {name: svc, serviceRef: {name: shop, port: 80}}", Accepted, FileMode::Unresolved),
    c("ok-op-hash-ignored", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nloadBalancing: {policy: roundRobin, hashOn: {type: anything}}", Accepted, FileMode::Accepted),
    c("ok-op-client-ip-hash", OP, "origins: [{name: a, address: '192.0.2.1:80'}]\nloadBalancing: {policy: consistentHash, hashOn: {type: clientIp}}\nlocation: {latitude: -90, longitude: 180, region: weu, country: de}\nloadShedding: {percent: 100}\noutlierDetection: {consecutiveFailures: 0, baseEjectionTime: 0s, maxEjectionTime: 0s, maxEjectionPercent: 0}\nappProtocol: h2c", Accepted, FileMode::Accepted),
    c("ok-lb-edges", LB, "hostnames: [Shop.Example.COM..]\ndefaultPools: [p]\nsteering: {policy: failover, countries: {DEU: [p]}, regions: {MARS: [p]}}\nsessionAffinity: {}\nfailover: {statusCodes: 5xx, retries: 0, attemptTimeout: 1ms}\nttl: 0", Accepted, FileMode::Accepted),
    c("ok-lb-geo", LB, "defaultPools: [p]\nsteering: {policy: geo, countries: {de: [p]}, regions: {weu: [p]}}\nsessionAffinity: {type: header, name: X-Session, ttl: 1s, failover: sticky, drainPeriod: 0s}", Accepted, FileMode::Accepted),
    c("ok-lb-notify", LB, "defaultPools: [p]\nnotifications:\n- {name: web, webhook: {url: ' HTTPS://hooks.example.com:8443/x?y=1', headers: [{name: Authorization, value: Bearer t}]}}\n- {name: mail, email: {smtpHost: mail, smtpPort: 587, tls: starttls, from: 'Ops Team <ops@example.com>', to: [a@b, 'x@y@z']}}", Accepted, FileMode::Accepted),
    c("ok-cmp-edges", CMP, "targetRef: {kind: HTTPRoute, name: r}\nprimary: {name: a, port: 80}\ncandidate: {group: '', kind: Service, name: svc, port: 80}\nsecondary: {name: b, port: 80}\nsampling: {percent: 0.5}\nmethods: [GET, PURGE]\nignore: {headers: [X-Build], jsonPaths: ['$..requestId', '$.items[*].id']}\nmaxBodyBytes: 67108864\nmaxConcurrent: 65536\ntimeout: 1ms", Accepted, FileMode::Accepted),
    c("ok-ro-mirror-first", RO, rollout!("steps: [{mirror: {duration: 0s, maxDiffRate: 0, minCompared: 1}}, {mirror: {}}, {weight: 1, pause: 1m}, {weight: 100}]\nanalysis: {maxErrorRate: 0, maxLatencyP99Ratio: 1, maxDiffRate: 1, minCompared: 1}\nsessionAffinity: {cookieName: \"tok~en!\", ttl: 1s}\nnotifications: [{name: ops, webhook: {url: 'http://h.example.com'}}]"), Accepted, FileMode::Accepted),
];
