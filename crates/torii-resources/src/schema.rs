//! What the torii kinds' CRD schemas share: the patterns and CEL expressions that let the API
//! server refuse at `kubectl apply` what translation would refuse anyway.
//!
//! These only shape the generated OpenAPI schema (`schemars` and `x_kube` attributes); they do
//! not change how YAML is read in file mode, where `torii-translate` checks the same rules and
//! reports them as conditions. Each rule here must never refuse what translation accepts.

/// A Gateway API duration (GEP-2257): one to four `<1-5 digits><h|m|s|ms>` parts, the grammar
/// of `torii-translate`'s duration parser.
pub(crate) const DURATION: &str = r"^([0-9]{1,5}(h|m|s|ms)){1,4}$";

/// The longest [`DURATION`]: four parts of five digits and `ms`. As `maxLength` it refuses
/// nothing the pattern accepts, and bounds the cost of the CEL rules below.
pub(crate) const DURATION_MAX: u32 = 28;

/// CEL: the duration field `field` (`self` for the field itself) is set and well-formed, so
/// `duration()` of it cannot fail (a malformed one is the pattern's to report).
fn well_formed(field: &str) -> String {
    format!("{field}.matches('{DURATION}')")
}

/// CEL on a duration field: at least `min` (a Gateway API duration).
pub(crate) fn duration_at_least(min: &str) -> String {
    format!(
        "!{} || duration(self) >= duration('{min}')",
        well_formed("self")
    )
}

/// CEL on a duration field: above zero.
pub(crate) fn duration_above_zero() -> String {
    format!(
        "!{} || duration(self) > duration('0s')",
        well_formed("self")
    )
}

/// CEL on an object: its duration field `lower` (default `lower_default`) is at most its
/// duration field `upper` (default `upper_default`), when both are well-formed.
pub(crate) fn durations_ordered(
    lower: &str,
    lower_default: &str,
    upper: &str,
    upper_default: &str,
) -> String {
    let value =
        |field: &str, default: &str| format!("(has(self.{field}) ? self.{field} : '{default}')");
    let (low, high) = (value(lower, lower_default), value(upper, upper_default));
    format!(
        "!{} || !{} || duration({low}) <= duration({high})",
        well_formed(&low),
        well_formed(&high)
    )
}

/// An HTTP token (RFC 9110 section 5.6.2): a method or a header name.
pub(crate) const TOKEN: &str = r"^[-!#$%&'*+.^_`|~0-9A-Za-z]+$";

/// A status code set: codes 100–599, ranges `a-b`, classes `1xx`–`5xx`, comma-separated, as
/// `torii_config::StatusCodes::parse` reads them (a range that goes downwards is translation's).
pub(crate) const STATUS_CODES: &str = concat!(
    r"^\s*(\+?0*[1-5][0-9][0-9](\s*-\s*\+?0*[1-5][0-9][0-9])?|[1-5][xX][xX])\s*",
    r"(,\s*(\+?0*[1-5][0-9][0-9](\s*-\s*\+?0*[1-5][0-9][0-9])?|[1-5][xX][xX])\s*)*$"
);

/// A valid header value: no control characters but tab (`http::HeaderValue::from_str`). A
/// pattern, not a CEL rule: it sits in long lists (a pool's origins), where a rule's estimated
/// cost would exceed the API server's budget.
pub(crate) const HEADER_VALUE: &str = r"^[^\x00-\x08\x0a-\x1f\x7f]*$";

/// An origin's `host:port`: an IP address, an `[IPv6]` address or a DNS name, and a port 1 to
/// 65535 (as Rust parses a `u16`: leading `+` and zeros allowed). What is not an address or a
/// name is translation's to refuse.
pub(crate) const ADDRESS: &str = concat!(
    r"^(\[[^\]]+\]|[^:\[\]]+):\+?0*",
    r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"
);

/// Region codes of geo steering and pool locations (Cloudflare's), as a CEL list.
pub(crate) const REGIONS_CEL: &str =
    "['WNAM', 'ENAM', 'WEU', 'EEU', 'NSAM', 'SSAM', 'OC', 'ME', 'NAF', 'SAF', 'SAS', 'SEAS', 'NEAS']";

/// The longest string a name or reference field takes in the schema (a DNS subdomain).
pub(crate) const MAX_NAME: u32 = 253;

/// The longest free-text field with a CEL rule (paths, URLs, header values): bounds the rule's
/// cost, which the API server estimates from the largest value the schema allows.
pub(crate) const MAX_TEXT: u32 = 4096;

/// The most entries of a short list (headers of a check, methods).
pub(crate) const MAX_SMALL_LIST: u32 = 64;

/// The most notification targets of an object, and the most headers and recipients of one:
/// their CEL rules multiply by these in the API server's cost estimate.
pub(crate) const MAX_NOTIFICATIONS: u32 = 16;
