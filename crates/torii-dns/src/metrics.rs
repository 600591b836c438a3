//! Query counters: plain atomics the integrator reads and exports (e.g. to prometheus-client);
//! no registry here.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::{source::Transport, wire::rcode};

/// Counters of the DNS server. All are monotonic; read them with [`DnsMetrics::snapshot`].
#[derive(Debug, Default)]
pub struct DnsMetrics {
    udp_queries: AtomicU64,
    tcp_queries: AtomicU64,
    noerror: AtomicU64,
    nodata: AtomicU64,
    nxdomain: AtomicU64,
    refused: AtomicU64,
    formerr: AtomicU64,
    servfail: AtomicU64,
    notimp: AtomicU64,
    badvers: AtomicU64,
    truncated: AtomicU64,
    ecs: AtomicU64,
    dropped: AtomicU64,
}

/// A point-in-time copy of [`DnsMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Queries received over UDP (answered or not).
    pub udp_queries: u64,
    /// Queries received over TCP (answered or not).
    pub tcp_queries: u64,
    /// Responses with RCODE NOERROR (including NODATA).
    pub noerror: u64,
    /// NOERROR responses with an empty answer (NODATA), a subset of `noerror`.
    pub nodata: u64,
    /// Responses with RCODE NXDOMAIN.
    pub nxdomain: u64,
    /// Responses with RCODE REFUSED (name under no served zone, zone transfers, other classes).
    pub refused: u64,
    /// Responses with RCODE FORMERR (malformed queries).
    pub formerr: u64,
    /// Responses with RCODE SERVFAIL.
    pub servfail: u64,
    /// Responses with RCODE NOTIMP (other opcodes, meta query types).
    pub notimp: u64,
    /// Responses with extended RCODE BADVERS (EDNS version other than 0).
    pub badvers: u64,
    /// UDP responses truncated (TC set) to fit the client's payload size.
    pub truncated: u64,
    /// Queries that carried a valid EDNS Client Subnet option.
    pub ecs: u64,
    /// Messages dropped without an answer (shorter than a header, or not a query).
    pub dropped: u64,
}

impl MetricsSnapshot {
    /// Responses by RCODE name, for a labelled counter (`rcode="NOERROR"`, ...).
    pub fn by_rcode(&self) -> [(&'static str, u64); 7] {
        [
            ("NOERROR", self.noerror),
            ("NXDOMAIN", self.nxdomain),
            ("REFUSED", self.refused),
            ("FORMERR", self.formerr),
            ("SERVFAIL", self.servfail),
            ("NOTIMP", self.notimp),
            ("BADVERS", self.badvers),
        ]
    }
}

impl DnsMetrics {
    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            udp_queries: self.udp_queries.load(Relaxed),
            tcp_queries: self.tcp_queries.load(Relaxed),
            noerror: self.noerror.load(Relaxed),
            nodata: self.nodata.load(Relaxed),
            nxdomain: self.nxdomain.load(Relaxed),
            refused: self.refused.load(Relaxed),
            formerr: self.formerr.load(Relaxed),
            servfail: self.servfail.load(Relaxed),
            notimp: self.notimp.load(Relaxed),
            badvers: self.badvers.load(Relaxed),
            truncated: self.truncated.load(Relaxed),
            ecs: self.ecs.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
        }
    }

    pub(crate) fn query(&self, transport: Transport) {
        match transport {
            Transport::Udp => &self.udp_queries,
            Transport::Tcp => &self.tcp_queries,
        }
        .fetch_add(1, Relaxed);
    }

    pub(crate) fn response(&self, code: u16, nodata: bool, truncated: bool) {
        let counter = match code {
            rcode::NOERROR => &self.noerror,
            rcode::NXDOMAIN => &self.nxdomain,
            rcode::REFUSED => &self.refused,
            rcode::FORMERR => &self.formerr,
            rcode::NOTIMP => &self.notimp,
            rcode::BADVERS => &self.badvers,
            // SERVFAIL (2) and anything unexpected.
            _ => &self.servfail,
        };
        counter.fetch_add(1, Relaxed);
        if nodata {
            self.nodata.fetch_add(1, Relaxed);
        }
        if truncated {
            self.truncated.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn ecs(&self) {
        self.ecs.fetch_add(1, Relaxed);
    }

    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Relaxed);
    }
}
