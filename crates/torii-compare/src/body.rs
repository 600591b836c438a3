//! Captured responses: status, headers and a body kept in full or as a hash.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use xxhash_rust::xxh3::{xxh3_128, Xxh3Default};

/// One upstream's response as the proxy captured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedResponse {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, decoded from its transfer encoding (not from its content encoding).
    pub body: CapturedBody,
}

impl CapturedResponse {
    /// A response with a body kept in full.
    pub fn new(status: u16, headers: HeaderMap, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers,
            body: CapturedBody::Full(body.into()),
        }
    }
}

/// A response body: in full when small enough, otherwise only its length and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapturedBody {
    /// The whole body: compared structurally (JSON), as text or as bytes.
    Full(Bytes),
    /// A body too large to keep: compared by length and XXH3-128 hash only.
    Hashed {
        /// The body's length in bytes.
        len: u64,
        /// Its XXH3-128 hash.
        hash: u128,
    },
}

impl CapturedBody {
    /// The hashed form of `body`.
    pub fn hashed(body: &[u8]) -> Self {
        CapturedBody::Hashed {
            len: body.len() as u64,
            hash: xxh3_128(body),
        }
    }

    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            CapturedBody::Full(bytes) => bytes.len() as u64,
            CapturedBody::Hashed { len, .. } => *len,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length and hash, hashing a full body.
    pub(crate) fn fingerprint(&self) -> (u64, u128) {
        match self {
            CapturedBody::Full(bytes) => (bytes.len() as u64, xxh3_128(bytes)),
            CapturedBody::Hashed { len, hash } => (*len, *hash),
        }
    }
}

/// Hashes a body chunk by chunk, so a large body need not be buffered.
#[derive(Clone, Default)]
pub struct BodyHasher {
    state: Box<Xxh3Default>,
    len: u64,
}

impl BodyHasher {
    /// A hasher that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next chunk of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        self.state.update(chunk);
        self.len += chunk.len() as u64;
    }

    /// The hashed body; equal to [`CapturedBody::hashed`] of all chunks concatenated.
    pub fn finish(&self) -> CapturedBody {
        CapturedBody::Hashed {
            len: self.len,
            hash: self.state.digest128(),
        }
    }
}

impl std::fmt::Debug for BodyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyHasher")
            .field("len", &self.len)
            .finish()
    }
}

/// Captures a body chunk by chunk: kept in full up to `limit` bytes, hashed past it (the
/// buffered part is hashed then dropped, later chunks are hashed as they come).
#[derive(Debug, Clone)]
pub struct BodyCapture {
    limit: usize,
    buffer: BytesMut,
    hasher: Option<BodyHasher>,
}

impl BodyCapture {
    /// A capture that keeps bodies of at most `limit` bytes in full.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            buffer: BytesMut::new(),
            hasher: None,
        }
    }

    /// Adds the next chunk of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        if let Some(hasher) = &mut self.hasher {
            hasher.update(chunk);
        } else if self.buffer.len() + chunk.len() <= self.limit {
            self.buffer.extend_from_slice(chunk);
        } else {
            let mut hasher = BodyHasher::new();
            hasher.update(&self.buffer);
            hasher.update(chunk);
            self.buffer = BytesMut::new();
            self.hasher = Some(hasher);
        }
    }

    /// The captured body.
    pub fn finish(self) -> CapturedBody {
        match self.hasher {
            Some(hasher) => hasher.finish(),
            None => CapturedBody::Full(self.buffer.freeze()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_hash_equals_one_shot_hash() {
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut hasher = BodyHasher::new();
        for chunk in body.chunks(777) {
            hasher.update(chunk);
        }
        assert_eq!(hasher.finish(), CapturedBody::hashed(&body));
        assert_eq!(hasher.finish().len(), 10_000);
    }

    #[test]
    fn capture_keeps_small_bodies_and_hashes_large_ones() {
        let mut small = BodyCapture::new(10);
        small.update(b"hello");
        small.update(b"world");
        assert_eq!(
            small.finish(),
            CapturedBody::Full(Bytes::from_static(b"helloworld"))
        );

        let mut large = BodyCapture::new(10);
        for chunk in [&b"hello"[..], b"world", b"!", b"more"] {
            large.update(chunk);
        }
        assert_eq!(large.finish(), CapturedBody::hashed(b"helloworld!more"));
    }
}
