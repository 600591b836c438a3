//! Reading the SNI from the first bytes of a connection, before any TLS stack sees them.
//!
//! A TLS connection starts with a ClientHello handshake message (RFC 8446 §4.1.2, RFC 5246
//! §7.4.1.2) carried in one or more handshake records (RFC 8446 §5.1); the server name is in
//! its `server_name` extension (RFC 6066 §3). The parser reads only what the lengths promise,
//! checks every length against what is there, and never allocates unless the message spans
//! several records.

use rustls_pki_types::ServerName;
use std::borrow::Cow;

/// The most bytes a peek looks at: a ClientHello that does not end within them is refused.
pub const MAX_CLIENT_HELLO_BYTES: usize = 16 * 1024;

const RECORD_HEADER_LEN: usize = 5;
const HANDSHAKE_HEADER_LEN: usize = 4;
/// RFC 8446 §5.1: a plaintext record carries at most 2^14 bytes.
const MAX_FRAGMENT_LEN: usize = 1 << 14;
const CONTENT_TYPE_HANDSHAKE: u8 = 22;
const HANDSHAKE_TYPE_CLIENT_HELLO: u8 = 1;
const EXTENSION_SERVER_NAME: u16 = 0;
const NAME_TYPE_HOST_NAME: u8 = 0;

/// What the first bytes of a connection say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHelloPeek {
    /// The bytes so far are a valid start of a ClientHello: read more and peek again.
    NeedMore,
    /// Not a TLS ClientHello, a malformed one, or one longer than [`MAX_CLIENT_HELLO_BYTES`].
    NotTls,
    /// A complete ClientHello.
    Hello {
        /// The `host_name` of its `server_name` extension, lower-case without trailing dot;
        /// `None` without the extension or when it holds an IP address.
        sni: Option<String>,
    },
}

/// Inspects the first bytes of a connection: whether they hold a complete TLS ClientHello
/// and which server name it asks for.
pub fn peek_client_hello(buf: &[u8]) -> ClientHelloPeek {
    match handshake_message(buf) {
        Err(Stop::NeedMore) => ClientHelloPeek::NeedMore,
        Err(Stop::Malformed) => ClientHelloPeek::NotTls,
        Ok(body) => match server_name(&body) {
            Ok(sni) => ClientHelloPeek::Hello { sni },
            Err(Malformed) => ClientHelloPeek::NotTls,
        },
    }
}

/// Why the handshake message is not available.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    NeedMore,
    Malformed,
}

/// The bytes break the TLS grammar.
#[derive(Debug, PartialEq, Eq)]
struct Malformed;

impl From<Malformed> for Stop {
    fn from(_: Malformed) -> Self {
        Stop::Malformed
    }
}

/// The body of the ClientHello handshake message, joined from the records that carry it.
fn handshake_message(buf: &[u8]) -> Result<Cow<'_, [u8]>, Stop> {
    let incomplete = || {
        if buf.len() >= MAX_CLIENT_HELLO_BYTES {
            Stop::Malformed
        } else {
            Stop::NeedMore
        }
    };
    let mut records = &buf[..buf.len().min(MAX_CLIENT_HELLO_BYTES)];
    let mut message: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    loop {
        let Some((header, rest)) = records.split_at_checked(RECORD_HEADER_LEN) else {
            // Refuse what is already visibly not a handshake record.
            check_record_start(records)?;
            return Err(incomplete());
        };
        check_record_start(header)?;
        let fragment_len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if fragment_len == 0 || fragment_len > MAX_FRAGMENT_LEN {
            return Err(Stop::Malformed);
        }
        let fragment = &rest[..fragment_len.min(rest.len())];
        if message.is_empty() {
            message = Cow::Borrowed(fragment);
        } else {
            message.to_mut().extend_from_slice(fragment);
        }

        if let Some(body_len) = client_hello_len(&message)? {
            let end = HANDSHAKE_HEADER_LEN + body_len;
            if message.len() >= end {
                return Ok(match message {
                    Cow::Borrowed(message) => Cow::Borrowed(&message[HANDSHAKE_HEADER_LEN..end]),
                    Cow::Owned(mut message) => {
                        message.truncate(end);
                        message.drain(..HANDSHAKE_HEADER_LEN);
                        Cow::Owned(message)
                    }
                });
            }
        }
        if fragment.len() < fragment_len {
            return Err(incomplete());
        }
        records = &rest[fragment_len..];
    }
}

/// Checks the visible part of a record header: a handshake record of TLS (major version 3).
fn check_record_start(header: &[u8]) -> Result<(), Malformed> {
    match header {
        [content_type, ..] if *content_type != CONTENT_TYPE_HANDSHAKE => Err(Malformed),
        [_, major, ..] if *major != 3 => Err(Malformed),
        _ => Ok(()),
    }
}

/// The declared body length of the handshake message, once its header is visible.
fn client_hello_len(message: &[u8]) -> Result<Option<usize>, Malformed> {
    match message {
        [kind, ..] if *kind != HANDSHAKE_TYPE_CLIENT_HELLO => Err(Malformed),
        [_, a, b, c, ..] => {
            let len = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
            // Even in a single record it would not fit in what a peek looks at.
            if RECORD_HEADER_LEN + HANDSHAKE_HEADER_LEN + len > MAX_CLIENT_HELLO_BYTES {
                Err(Malformed)
            } else {
                Ok(Some(len))
            }
        }
        _ => Ok(None),
    }
}

/// The SNI of a ClientHello body.
fn server_name(body: &[u8]) -> Result<Option<String>, Malformed> {
    let mut hello = Reader(body);
    hello.take(2)?; // legacy_version
    hello.take(32)?; // random
    if hello.vec_u8()?.len() > 32 {
        return Err(Malformed); // legacy_session_id
    }
    let cipher_suites = hello.vec_u16()?;
    if cipher_suites.is_empty() || cipher_suites.len() % 2 != 0 {
        return Err(Malformed);
    }
    if hello.vec_u8()?.is_empty() {
        return Err(Malformed); // legacy_compression_methods
    }
    if hello.is_empty() {
        return Ok(None); // TLS 1.2 and older may omit the extensions
    }
    let mut extensions = Reader(hello.vec_u16()?);
    if !hello.is_empty() {
        return Err(Malformed);
    }

    let mut sni = None;
    let mut seen = false;
    while !extensions.is_empty() {
        let kind = extensions.u16()?;
        let data = extensions.vec_u16()?;
        if kind == EXTENSION_SERVER_NAME {
            // RFC 8446 §4.2: an extension type appears at most once.
            if seen {
                return Err(Malformed);
            }
            seen = true;
            sni = host_name(data)?;
        }
    }
    Ok(sni)
}

/// The `host_name` of a `server_name` extension, read as rustls reads it: exactly one
/// host_name, names of other types end the list (their encoding is unknown), an IP address
/// counts as no name, and anything that is not a DNS name is malformed.
fn host_name(extension: &[u8]) -> Result<Option<String>, Malformed> {
    let mut extension = Reader(extension);
    let mut names = Reader(extension.vec_u16()?);
    if names.is_empty() || !extension.is_empty() {
        return Err(Malformed);
    }
    let mut host_name = None;
    while !names.is_empty() {
        if names.u8()? != NAME_TYPE_HOST_NAME {
            break;
        }
        let name = names.vec_u16()?;
        if name.is_empty() || host_name.is_some() {
            return Err(Malformed);
        }
        host_name = Some(name);
    }
    match ServerName::try_from(host_name.ok_or(Malformed)?) {
        Ok(ServerName::DnsName(name)) => {
            let name = name.as_ref();
            let name = name.strip_suffix('.').unwrap_or(name);
            if name.is_empty() {
                return Err(Malformed);
            }
            Ok(Some(name.to_ascii_lowercase()))
        }
        Ok(ServerName::IpAddress(_)) => Ok(None),
        Ok(_) | Err(_) => Err(Malformed),
    }
}

/// A cursor over TLS's length-prefixed encoding; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], Malformed> {
        let (taken, rest) = self.0.split_at_checked(len).ok_or(Malformed)?;
        self.0 = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// A vector with a one-byte length prefix.
    fn vec_u8(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.u8()?;
        self.take(usize::from(len))
    }

    /// A vector with a two-byte length prefix.
    fn vec_u16(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests;
