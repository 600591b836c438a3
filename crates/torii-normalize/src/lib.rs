//! Canonical request targets, so that one request is seen one way: by routing, by filters and
//! by the upstream that finally serves it.
//!
//! - [`normalize_path`]: RFC 3986 §6.2.2 (percent-encoded unreserved characters decoded, the
//!   other escapes upper-cased) and §5.2.4 (dot segments removed), repeated slashes merged,
//!   and a chosen action ([`EscapedSlashes`]) for `%2F`, `%5C` and `\`. A path that is already
//!   normal is returned borrowed: no allocation.
//! - [`match_view`]: the path routing compares against, with `;parameters` taken off each
//!   segment (a Java backend serves `/admin;x=1` as `/admin`, so the `/admin` rule must see it).
//! - [`parse_authority`]: `uri-host [":" port]` (RFC 9112 §3.2, RFC 3986 §3.2.2), refusing
//!   what is not one host: lists, user info, paths, spaces.
//!
//! Pure functions, no I/O; fuzzed and benched.

mod authority;
mod path;

pub use authority::{parse_authority, Authority, InvalidAuthority};
pub use path::{match_view, normalize_path, EscapedSlashes, InvalidPath, NormalPath};
