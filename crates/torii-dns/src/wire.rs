//! The hot path's wire format: a bounds-checked, allocation-free query parser and a response
//! writer that appends to a reused buffer.
//!
//! Only what an authoritative responder needs is decoded: the header, the single question
//! (name lowercased into a stack buffer) and the OPT record (payload size, version, EDNS Client
//! Subnet). Answer owner names are compression pointers to the question, so no name is ever
//! encoded while answering; SOA and NS RDATA are pre-encoded per zone ([`CompiledZone`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{source::ClientSubnet, zone::CompiledZone};

/// DNS header length.
pub(crate) const HEADER_LEN: usize = 12;
/// Maximum wire length of a name (RFC 1035 §2.3.4).
const MAX_NAME_WIRE: usize = 255;
/// Maximum length of a TCP message.
pub(crate) const MAX_MESSAGE: usize = 65_535;

/// Record types and classes the responder knows.
pub(crate) mod rtype {
    pub(crate) const A: u16 = 1;
    pub(crate) const NS: u16 = 2;
    pub(crate) const SOA: u16 = 6;
    pub(crate) const AAAA: u16 = 28;
    pub(crate) const OPT: u16 = 41;
    pub(crate) const TKEY: u16 = 249;
    pub(crate) const TSIG: u16 = 250;
    pub(crate) const IXFR: u16 = 251;
    pub(crate) const AXFR: u16 = 252;
    pub(crate) const MAILB: u16 = 253;
    pub(crate) const MAILA: u16 = 254;
    pub(crate) const ANY: u16 = 255;
    pub(crate) const CLASS_IN: u16 = 1;
}

/// Response codes (the 12-bit extended space of RFC 6891).
pub(crate) mod rcode {
    pub(crate) const NOERROR: u16 = 0;
    pub(crate) const FORMERR: u16 = 1;
    pub(crate) const NXDOMAIN: u16 = 3;
    pub(crate) const NOTIMP: u16 = 4;
    pub(crate) const REFUSED: u16 = 5;
    pub(crate) const BADVERS: u16 = 16;
}

const FLAG_QR: u16 = 0x8000;
const FLAG_AA: u16 = 0x0400;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const FLAG_CD: u16 = 0x0010;
const OPCODE_MASK: u16 = 0x7800;

/// EDNS option code of Client Subnet (RFC 7871).
const OPTION_ECS: u16 = 8;

/// The queried name, lowercased and dotted (no trailing dot), in a stack buffer.
///
/// Each label's dotted offset equals the wire offset of its length byte inside the question
/// name, which is what makes compression pointers to a suffix (the zone apex) free.
pub(crate) struct QName {
    bytes: [u8; MAX_NAME_WIRE],
    len: u8,
    /// Offsets of the labels that can start a zone apex: those right of the last label that is
    /// not plain printable ASCII (or holds a dot), left to right.
    starts: [u8; 128],
    n_starts: u8,
    /// Whether every label is plain printable ASCII without dots.
    clean: bool,
}

impl QName {
    /// The dotted lowercase bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The name as `&str`, when every label is plain printable ASCII.
    pub(crate) fn as_str(&self) -> Option<&str> {
        if self.clean {
            std::str::from_utf8(self.bytes()).ok()
        } else {
            None
        }
    }

    /// Offsets at which a zone apex may start (see the field).
    pub(crate) fn apex_candidates(&self) -> &[u8] {
        &self.starts[..usize::from(self.n_starts)]
    }
}

/// The ECS option of a query, validated.
#[derive(Clone, Copy)]
pub(crate) struct Ecs {
    family: u16,
    source: u8,
    addr: [u8; 16],
}

impl Ecs {
    fn addr_len(&self) -> usize {
        usize::from(self.source).div_ceil(8)
    }

    /// The subnet as handed to the answer source.
    pub(crate) fn client_subnet(&self) -> ClientSubnet {
        let addr = if self.family == 1 {
            let mut v4 = [0u8; 4];
            v4.copy_from_slice(&self.addr[..4]);
            IpAddr::V4(Ipv4Addr::from(v4))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.addr))
        };
        ClientSubnet {
            addr,
            source_prefix: self.source,
        }
    }

    fn max_prefix(&self) -> u8 {
        if self.family == 1 {
            32
        } else {
            128
        }
    }
}

/// The OPT record of a query.
#[derive(Clone, Copy)]
pub(crate) struct Edns {
    /// The requestor's UDP payload size (RFC 6891 §6.2.3; values below 512 count as 512).
    pub(crate) payload: u16,
    pub(crate) version: u8,
    pub(crate) ecs: Option<Ecs>,
}

/// A parsed query.
pub(crate) struct Query<'a> {
    pub(crate) id: u16,
    pub(crate) flags: u16,
    /// The question as received (original case), name + type + class.
    pub(crate) question: &'a [u8],
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    pub(crate) name: QName,
    pub(crate) edns: Option<Edns>,
}

/// Why a message could not be parsed into a [`Query`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Too short for a header, or a response: never answered.
    Drop,
    /// Not a standard query (opcode other than QUERY).
    NotImp { question_len: Option<usize> },
    /// Malformed. `question_len` is set when the question itself parsed (it is echoed).
    FormErr { question_len: Option<usize> },
}

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*buf.get(at)?, *buf.get(at + 1)?]))
}

/// Parses the question at offset 12. Returns the name and the offset after qtype/qclass.
fn parse_question(msg: &[u8]) -> Option<(QName, usize)> {
    let mut name = QName {
        bytes: [0; MAX_NAME_WIRE],
        len: 0,
        starts: [0; 128],
        n_starts: 0,
        clean: true,
    };
    let mut pos = HEADER_LEN;
    let mut out = 0usize;
    loop {
        let len = usize::from(*msg.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        // No compression (nothing precedes the question to point at) nor extended labels.
        if len > 63 || pos - HEADER_LEN + len > MAX_NAME_WIRE - 1 {
            return None;
        }
        let label = msg.get(pos..pos + len)?;
        if out > 0 {
            name.bytes[out] = b'.';
            out += 1;
        }
        let start = out;
        let mut label_clean = true;
        for &b in label {
            label_clean &= b.is_ascii_graphic() && b != b'.';
            name.bytes[out] = b.to_ascii_lowercase();
            out += 1;
        }
        if label_clean {
            name.starts[usize::from(name.n_starts)] = start as u8;
            name.n_starts += 1;
        } else {
            name.clean = false;
            name.n_starts = 0;
        }
        pos += len;
    }
    name.len = out as u8;
    if msg.len() < pos + 4 {
        return None;
    }
    Some((name, pos + 4))
}

/// Skips a (possibly compressed) name; returns the offset after it.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len & 0xC0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += 1 + usize::from(len),
            0xC0 => return msg.get(pos + 1).map(|_| pos + 2),
            _ => return None,
        }
    }
}

/// Parses the RDATA of an OPT record (the options).
fn parse_opt(rdata: &[u8]) -> Option<Option<Ecs>> {
    let mut ecs = None;
    let mut pos = 0;
    while pos < rdata.len() {
        let code = be16(rdata, pos)?;
        let len = usize::from(be16(rdata, pos + 2)?);
        let data = rdata.get(pos + 4..pos + 4 + len)?;
        pos += 4 + len;
        if code == OPTION_ECS {
            if ecs.is_some() {
                return None;
            }
            ecs = Some(parse_ecs(data)?);
        }
    }
    Some(ecs)
}

/// RFC 7871 §6 and §7.1.1: known family, prefix within it, exactly ceil(source/8) address bytes,
/// no bit set past the prefix, SCOPE 0 in queries. Anything else is FORMERR.
fn parse_ecs(data: &[u8]) -> Option<Ecs> {
    let family = be16(data, 0)?;
    let source = *data.get(2)?;
    let scope = *data.get(3)?;
    let addr_bytes = data.get(4..)?;
    let mut ecs = Ecs {
        family,
        source,
        addr: [0; 16],
    };
    if !(family == 1 || family == 2) || source > ecs.max_prefix() || scope != 0 {
        return None;
    }
    if addr_bytes.len() != ecs.addr_len() {
        return None;
    }
    if let Some(&last) = addr_bytes.last() {
        let used_bits = source % 8;
        if used_bits != 0 && last & (0xFF >> used_bits) != 0 {
            return None;
        }
    }
    ecs.addr[..addr_bytes.len()].copy_from_slice(addr_bytes);
    Some(ecs)
}

/// Parses a query message.
pub(crate) fn parse(msg: &[u8]) -> Result<Query<'_>, ParseError> {
    if msg.len() < HEADER_LEN {
        return Err(ParseError::Drop);
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    if flags & FLAG_QR != 0 {
        return Err(ParseError::Drop);
    }
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    let ancount = u16::from_be_bytes([msg[6], msg[7]]);
    let nscount = u16::from_be_bytes([msg[8], msg[9]]);
    let arcount = u16::from_be_bytes([msg[10], msg[11]]);

    let parsed_question = if qdcount == 1 {
        parse_question(msg)
    } else {
        None
    };
    let question_len = parsed_question.as_ref().map(|(_, end)| end - HEADER_LEN);
    if flags & OPCODE_MASK != 0 {
        return Err(ParseError::NotImp { question_len });
    }
    let formerr = ParseError::FormErr { question_len };
    let Some((name, question_end)) = parsed_question else {
        return Err(formerr);
    };
    let question = &msg[HEADER_LEN..question_end];
    let mut pos = question_end;

    // Queries carry no answer or authority records; skip them if present.
    for _ in 0..u32::from(ancount) + u32::from(nscount) {
        let Some(rdlen) = skip_name(msg, pos).and_then(|p| {
            pos = p;
            be16(msg, p + 8)
        }) else {
            return Err(formerr);
        };
        pos += 10 + usize::from(rdlen);
        if pos > msg.len() {
            return Err(formerr);
        }
    }

    let mut edns = None;
    for _ in 0..arcount {
        let name_start = pos;
        let Some(after_name) = skip_name(msg, pos) else {
            return Err(formerr);
        };
        pos = after_name;
        let (Some(rtype), Some(class), Some(rdlen)) =
            (be16(msg, pos), be16(msg, pos + 2), be16(msg, pos + 8))
        else {
            return Err(formerr);
        };
        let rdata_start = pos + 10;
        let rdata_end = rdata_start + usize::from(rdlen);
        let Some(rdata) = msg.get(rdata_start..rdata_end) else {
            return Err(formerr);
        };
        if rtype == rtype::OPT {
            // One OPT, owned by the root (RFC 6891 §6.1.1).
            if edns.is_some() || pos != name_start + 1 {
                return Err(formerr);
            }
            let Some(ecs) = parse_opt(rdata) else {
                return Err(formerr);
            };
            edns = Some(Edns {
                payload: class.max(512),
                version: msg[pos + 5],
                ecs,
            });
        }
        pos = rdata_end;
    }

    let tail = question.len() - 4;
    Ok(Query {
        id,
        flags,
        question,
        qtype: u16::from_be_bytes([question[tail], question[tail + 1]]),
        qclass: u16::from_be_bytes([question[tail + 2], question[tail + 3]]),
        name,
        edns,
    })
}

/// The answer section of a response.
pub(crate) enum AnswerRecords<'a> {
    /// No answer.
    None,
    /// A or AAAA records owned by the question name; addresses of the other family are skipped.
    Addresses {
        rtype: u16,
        ttl: u32,
        addrs: &'a [IpAddr],
    },
    /// The zone's SOA (owned by the apex).
    Soa(&'a CompiledZone),
    /// The zone's NS set (owned by the apex).
    Ns(&'a CompiledZone),
}

impl AnswerRecords<'_> {
    /// Count and wire size.
    fn measure(&self) -> (usize, usize) {
        // Owner (2-byte pointer) + type, class, TTL, RDLENGTH.
        const FIXED: usize = 2 + 10;
        match *self {
            AnswerRecords::None => (0, 0),
            AnswerRecords::Addresses { rtype, addrs, .. } => {
                let (n, rdlen) = if rtype == rtype::A {
                    (addrs.iter().filter(|a| a.is_ipv4()).count(), 4)
                } else {
                    (addrs.iter().filter(|a| a.is_ipv6()).count(), 16)
                };
                (n, n * (FIXED + rdlen))
            }
            AnswerRecords::Soa(zone) => (1, FIXED + zone.soa_rdata.len()),
            AnswerRecords::Ns(zone) => (
                zone.ns_rdata.len(),
                zone.ns_rdata.iter().map(|r| FIXED + r.len()).sum(),
            ),
        }
    }
}

/// What to send back for a parsed query.
pub(crate) struct Reply<'a> {
    /// Extended (12-bit) response code.
    pub(crate) rcode: u16,
    pub(crate) authoritative: bool,
    pub(crate) answers: AnswerRecords<'a>,
    /// SOA in the authority section (negative answers), with the zone's negative TTL.
    pub(crate) negative_soa: Option<&'a CompiledZone>,
    /// Offset of the zone apex inside the question name (for owner-name pointers).
    pub(crate) apex_offset: usize,
    /// ECS SCOPE PREFIX-LENGTH to echo (when the query had ECS).
    pub(crate) ecs_scope: u8,
}

fn push16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn record_header(out: &mut Vec<u8>, owner_ptr: u16, rtype: u16, ttl: u32, rdlen: usize) {
    let mut fixed = [0u8; 12];
    fixed[..2].copy_from_slice(&owner_ptr.to_be_bytes());
    fixed[2..4].copy_from_slice(&rtype.to_be_bytes());
    fixed[4..6].copy_from_slice(&rtype::CLASS_IN.to_be_bytes());
    fixed[6..10].copy_from_slice(&ttl.to_be_bytes());
    // RDATA here is at most a few hundred bytes (pre-encoded names, addresses).
    fixed[10..12].copy_from_slice(&(rdlen as u16).to_be_bytes());
    out.extend_from_slice(&fixed);
}

fn header_flags(query_flags: u16, rcode: u16, aa: bool, tc: bool) -> u16 {
    let mut flags = FLAG_QR | (query_flags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) | (rcode & 0xF);
    if aa {
        flags |= FLAG_AA;
    }
    if tc {
        flags |= FLAG_TC;
    }
    flags
}

fn write_header(out: &mut Vec<u8>, id: u16, flags: u16, counts: [u16; 4]) {
    let mut header = [0u8; HEADER_LEN];
    header[..2].copy_from_slice(&id.to_be_bytes());
    header[2..4].copy_from_slice(&flags.to_be_bytes());
    for (i, c) in counts.iter().enumerate() {
        header[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
    }
    out.extend_from_slice(&header);
}

/// Wire size of our OPT record for this query.
fn opt_len(edns: &Edns) -> usize {
    11 + edns.ecs.map_or(0, |ecs| 8 + ecs.addr_len())
}

fn write_opt(out: &mut Vec<u8>, edns: &Edns, rcode: u16, server_payload: u16, scope: u8) {
    out.push(0); // root owner
    push16(out, rtype::OPT);
    push16(out, server_payload);
    // Extended RCODE (upper 8 bits), version 0, DO clear (we do not sign), Z zero.
    out.extend_from_slice(&[(rcode >> 4) as u8, 0, 0, 0]);
    match edns.ecs {
        None => push16(out, 0),
        Some(ecs) => {
            let addr_len = ecs.addr_len();
            push16(out, (8 + addr_len) as u16);
            push16(out, OPTION_ECS);
            push16(out, (4 + addr_len) as u16);
            push16(out, ecs.family);
            // RFC 7871 §7.2.1: a zero SOURCE means the answer must not be tailored (SCOPE 0).
            let scope = if ecs.source == 0 {
                0
            } else {
                scope.min(ecs.max_prefix())
            };
            out.extend_from_slice(&[ecs.source, scope]);
            out.extend_from_slice(&ecs.addr[..addr_len]);
        }
    }
}

/// Writes the response to `query` into `out` (cleared first). `limit` is the maximum message
/// size (the UDP payload size, or 65535 on TCP). When the answer and authority sections do not
/// fit, they are left out and TC is set (one RRset: there is no partial answer to keep).
/// Returns whether the response was truncated.
pub(crate) fn write_response(
    query: &Query<'_>,
    reply: &Reply<'_>,
    limit: usize,
    server_payload: u16,
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let (mut an_count, an_size) = reply.answers.measure();
    let (mut ns_count, ns_size) = match reply.negative_soa {
        Some(zone) => (1, 12 + zone.soa_rdata.len()),
        None => (0, 0),
    };
    let opt_size = query.edns.as_ref().map_or(0, opt_len);
    let base = HEADER_LEN + query.question.len() + opt_size;
    let truncated = base + an_size + ns_size > limit;
    if truncated {
        an_count = 0;
        ns_count = 0;
    }
    // Counts are bounded by the size check: `limit` is at most 65535 bytes.
    let counts = [
        1,
        an_count as u16,
        ns_count,
        u16::from(query.edns.is_some()),
    ];
    let rcode = if query.edns.is_some() {
        reply.rcode
    } else {
        // Without EDNS an extended code cannot be expressed.
        reply.rcode & 0xF
    };
    write_header(
        out,
        query.id,
        header_flags(query.flags, rcode, reply.authoritative, truncated),
        counts,
    );
    out.extend_from_slice(query.question);

    if !truncated {
        let qname_ptr = 0xC000 | HEADER_LEN as u16;
        let apex_ptr = 0xC000 | (HEADER_LEN + reply.apex_offset) as u16;
        match reply.answers {
            AnswerRecords::None => {}
            AnswerRecords::Addresses { rtype, ttl, addrs } => {
                for addr in addrs {
                    match (rtype, addr) {
                        (rtype::A, IpAddr::V4(v4)) => {
                            record_header(out, qname_ptr, rtype, ttl, 4);
                            out.extend_from_slice(&v4.octets());
                        }
                        (rtype::AAAA, IpAddr::V6(v6)) => {
                            record_header(out, qname_ptr, rtype, ttl, 16);
                            out.extend_from_slice(&v6.octets());
                        }
                        _ => {}
                    }
                }
            }
            AnswerRecords::Soa(zone) => {
                record_header(
                    out,
                    apex_ptr,
                    rtype::SOA,
                    zone.soa_ttl,
                    zone.soa_rdata.len(),
                );
                out.extend_from_slice(&zone.soa_rdata);
            }
            AnswerRecords::Ns(zone) => {
                for rdata in zone.ns_rdata.iter() {
                    record_header(out, apex_ptr, rtype::NS, zone.ns_ttl, rdata.len());
                    out.extend_from_slice(rdata);
                }
            }
        }
        if let Some(zone) = reply.negative_soa {
            record_header(
                out,
                apex_ptr,
                rtype::SOA,
                zone.negative_ttl,
                zone.soa_rdata.len(),
            );
            out.extend_from_slice(&zone.soa_rdata);
        }
    }
    if let Some(edns) = &query.edns {
        write_opt(out, edns, reply.rcode, server_payload, reply.ecs_scope);
    }
    truncated
}

/// Writes an error response to a message that did not parse: the header (id, opcode, RD and CD
/// copied), the question when it parsed, no OPT.
pub(crate) fn write_error(msg: &[u8], rcode: u16, question_len: Option<usize>, out: &mut Vec<u8>) {
    out.clear();
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let question = question_len.map_or(&[][..], |len| &msg[HEADER_LEN..HEADER_LEN + len]);
    write_header(
        out,
        id,
        header_flags(flags, rcode, false, false),
        [u16::from(question_len.is_some()), 0, 0, 0],
    );
    out.extend_from_slice(question);
}
