//! Sockets: the UDP fast path (one task per `SO_REUSEPORT` socket, receive and send inline, no
//! per-query task or allocation) and TCP through hickory-server's [`Server`], whose
//! [`RequestHandler`] is an adapter over the same [`Responder`].

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use hickory_proto::op::{Header, HeaderCounts, Message};
use hickory_server::{
    net::{runtime::Time, xfer::Protocol},
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    zone_handler::MessageResponseBuilder,
    Server,
};
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tokio::{net::UdpSocket, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::{
    error::DnsError,
    metrics::{DnsMetrics, MetricsSnapshot},
    responder::{Catalog, Responder},
    source::{AnswerSource, Transport},
    wire::MAX_MESSAGE,
    zone::ZoneSet,
};

/// How UDP queries are received and answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UdpEngine {
    /// torii's own loop: each socket is drained inline by one task, responses are written into
    /// a reused buffer and sent directly. The default.
    #[default]
    Inline,
    /// hickory-server's generic UDP path (a task and a few allocations per query). Same answers,
    /// lower throughput; kept for comparison benchmarks.
    Hickory,
}

/// Options of a [`DnsServer`].
#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// Number of UDP sockets bound to the address with `SO_REUSEPORT`, each served by its own
    /// task (the kernel spreads clients over them). Default: the available parallelism, at most 8.
    pub udp_sockets: usize,
    /// The UDP payload size advertised in EDNS responses, and the cap of UDP responses to EDNS
    /// clients (RFC 6891; 1232 avoids IP fragmentation). Between 512 and 4096. Default 1232.
    pub max_udp_payload: u16,
    /// A TCP connection that sends no query for this long is closed. Default 10 s.
    pub tcp_idle_timeout: Duration,
    /// The UDP receive path. Default [`UdpEngine::Inline`].
    pub udp_engine: UdpEngine,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            udp_sockets: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
            max_udp_payload: 1232,
            tcp_idle_timeout: Duration::from_secs(10),
            udp_engine: UdpEngine::Inline,
        }
    }
}

/// A cheap, cloneable handle to a server's answer data and counters: reload zones and the
/// answer source at runtime (sockets stay open), read metrics.
#[derive(Clone)]
pub struct DnsHandle {
    responder: Arc<Responder>,
}

impl DnsHandle {
    /// A handle with no sockets, for answering in-process only through
    /// [`respond`](Self::respond) (the fuzz targets in `fuzz/`). `max_udp_payload` is clamped
    /// to 512..=4096, the range [`DnsServer::bind`] accepts.
    #[doc(hidden)]
    pub fn detached(zones: ZoneSet, source: Arc<dyn AnswerSource>, max_udp_payload: u16) -> Self {
        let payload = max_udp_payload.clamp(512, 4096);
        DnsHandle {
            responder: Arc::new(Responder::new(zones, source, payload)),
        }
    }

    /// Replaces the zones and the answer source in one atomic step. Queries in flight finish
    /// with the old ones.
    pub fn update(&self, zones: ZoneSet, source: Arc<dyn AnswerSource>) {
        self.responder.catalog.store(Arc::new(Catalog {
            zones: Arc::new(zones),
            source,
        }));
    }

    /// Replaces the zones, keeping the answer source.
    pub fn update_zones(&self, zones: ZoneSet) {
        let zones = Arc::new(zones);
        self.responder.catalog.rcu(|current| Catalog {
            zones: zones.clone(),
            source: current.source.clone(),
        });
    }

    /// Replaces the answer source, keeping the zones.
    pub fn update_source(&self, source: Arc<dyn AnswerSource>) {
        self.responder.catalog.rcu(|current| Catalog {
            zones: current.zones.clone(),
            source: source.clone(),
        });
    }

    /// The zones being served.
    pub fn zones(&self) -> Arc<ZoneSet> {
        self.responder.catalog.load().zones.clone()
    }

    /// The live counters.
    pub fn metrics(&self) -> &DnsMetrics {
        &self.responder.metrics
    }

    /// A copy of the counters.
    pub fn metrics_snapshot(&self) -> MetricsSnapshot {
        self.responder.metrics.snapshot()
    }

    /// Answers one DNS message in-process, exactly as the sockets do: writes the response into
    /// `out` (cleared first) and returns true, or returns false when the message is dropped
    /// (shorter than a header, or a response). With [`Transport::Udp`] the response is sized
    /// for UDP (truncated if needed). Counts in the metrics like a received query.
    pub fn respond(
        &self,
        message: &[u8],
        client: SocketAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        self.responder.respond(message, client, transport, out)
    }
}

/// An authoritative DNS server bound to one address over UDP and TCP. Create with
/// [`DnsServer::bind`], keep a [`DnsHandle`] for reloads, then [`run`](DnsServer::run) it.
pub struct DnsServer {
    udp: Vec<std::net::UdpSocket>,
    tcp: std::net::TcpListener,
    local_addr: SocketAddr,
    options: DnsOptions,
    responder: Arc<Responder>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("local_addr", &self.local_addr)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Binds UDP and TCP sockets on `addr` (port 0 picks one free port for both). Needs no
    /// async runtime; [`run`](DnsServer::run) does.
    pub fn bind(
        addr: SocketAddr,
        zones: ZoneSet,
        source: Arc<dyn AnswerSource>,
        options: DnsOptions,
    ) -> Result<Self, DnsError> {
        if !(512..=4096).contains(&options.max_udp_payload) {
            return Err(DnsError::InvalidOption(format!(
                "max_udp_payload {} is not within 512..=4096",
                options.max_udp_payload
            )));
        }
        if options.udp_sockets == 0 || options.udp_sockets > 256 {
            return Err(DnsError::InvalidOption(format!(
                "udp_sockets {} is not within 1..=256",
                options.udp_sockets
            )));
        }
        // With port 0 the UDP socket picks the port and TCP must get the same one, which
        // another socket may hold already: then try another port (a few times).
        let attempts = if addr.port() == 0 { 8 } else { 1 };
        let mut attempt = 0;
        let (udp, tcp, local_addr) = loop {
            attempt += 1;
            let udp_err = |source| DnsError::Bind {
                transport: "udp",
                addr,
                source,
            };
            let first = bind_udp(addr, options.udp_sockets > 1).map_err(udp_err)?;
            let local_addr = first.local_addr().map_err(udp_err)?;
            let mut udp = vec![first];
            for _ in 1..options.udp_sockets {
                udp.push(bind_udp(local_addr, true).map_err(udp_err)?);
            }
            match bind_tcp(local_addr) {
                Ok(tcp) => break (udp, tcp, local_addr),
                Err(source)
                    if source.kind() == std::io::ErrorKind::AddrInUse && attempt < attempts =>
                {
                    continue
                }
                Err(source) => {
                    return Err(DnsError::Bind {
                        transport: "tcp",
                        addr: local_addr,
                        source,
                    })
                }
            }
        };
        let responder = Arc::new(Responder::new(zones, source, options.max_udp_payload));
        Ok(DnsServer {
            udp,
            tcp,
            local_addr,
            options,
            responder,
        })
    }

    /// The bound address (UDP and TCP share it).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle for reloads and metrics; stays valid after the server stops.
    pub fn handle(&self) -> DnsHandle {
        DnsHandle {
            responder: self.responder.clone(),
        }
    }

    /// Serves until `shutdown` is cancelled (then closes the sockets and returns `Ok`), or until
    /// a socket fails. Must run inside a Tokio runtime; UDP sockets are served by spawned tasks,
    /// so a multi-threaded runtime spreads them over cores.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), DnsError> {
        let io_err = |transport| move |source| DnsError::Io { transport, source };
        let mut hickory = Server::new(HickoryHandler {
            responder: self.responder.clone(),
        });
        let tcp = tokio::net::TcpListener::from_std(self.tcp).map_err(io_err("tcp"))?;
        hickory.register_listener(tcp, self.options.tcp_idle_timeout, 32);

        let mut workers = JoinSet::new();
        for socket in self.udp {
            let socket = UdpSocket::from_std(socket).map_err(io_err("udp"))?;
            match self.options.udp_engine {
                UdpEngine::Inline => {
                    workers.spawn(udp_loop(socket, self.responder.clone(), shutdown.clone()));
                }
                UdpEngine::Hickory => hickory.register_socket(socket),
            }
        }
        debug!(addr = %self.local_addr, "DNS server started");

        let result = tokio::select! {
            _ = shutdown.cancelled() => Ok(()),
            Some(joined) = workers.join_next() => match joined {
                Ok(result) => result,
                Err(join) => Err(DnsError::Io { transport: "udp", source: io::Error::other(join) }),
            },
        };
        workers.abort_all();
        while workers.join_next().await.is_some() {}
        if let Err(error) = hickory.shutdown_gracefully().await {
            warn!(%error, "DNS server: hickory-server tasks ended with an error");
        }
        debug!(addr = %self.local_addr, "DNS server stopped");
        result
    }

    /// Spawns [`run`](DnsServer::run) on the current Tokio runtime.
    pub fn spawn(
        self,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<Result<(), DnsError>> {
        tokio::spawn(self.run(shutdown))
    }
}

fn bind_udp(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(SockProtocol::UDP),
    )?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    // Absorb bursts; the kernel caps this at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(4 << 20);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn bind_tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Queries answered per wake-up before yielding to other tasks.
const UDP_BATCH: usize = 256;

/// The UDP fast path: drain the socket with non-blocking receives, answer each datagram into a
/// reused buffer and send it back inline.
async fn udp_loop(
    socket: UdpSocket,
    responder: Arc<Responder>,
    shutdown: CancellationToken,
) -> Result<(), DnsError> {
    let mut request = vec![0u8; MAX_MESSAGE];
    let mut response = Vec::with_capacity(MAX_MESSAGE);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Ok(()),
            ready = socket.readable() => ready.map_err(|source| DnsError::Io { transport: "udp", source })?,
        }
        let mut drained = false;
        for _ in 0..UDP_BATCH {
            let (len, peer) = match socket.try_recv_from(&mut request) {
                Ok(received) => received,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(error) => {
                    // E.g. an ICMP error from an earlier send; the socket is still usable.
                    debug!(%error, "DNS udp receive error");
                    break;
                }
            };
            if peer.port() == 0 {
                responder.metrics.dropped();
                continue;
            }
            if !responder.respond(&request[..len], peer, Transport::Udp, &mut response) {
                continue;
            }
            match socket.try_send_to(&response, peer) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(error) = socket.send_to(&response, peer).await {
                        debug!(%error, %peer, "DNS udp send error");
                    }
                }
                Err(error) => debug!(%error, %peer, "DNS udp send error"),
            }
        }
        if !drained {
            // A busy socket: let other tasks on this worker run.
            tokio::task::yield_now().await;
        }
    }
}

/// hickory-server's request handler: runs the [`Responder`] on the raw query and hands the
/// response to hickory-server's response path (TCP framing, or UDP with [`UdpEngine::Hickory`]).
struct HickoryHandler {
    responder: Arc<Responder>,
}

#[async_trait::async_trait]
impl RequestHandler for HickoryHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let transport = match request.protocol() {
            Protocol::Udp => Transport::Udp,
            _ => Transport::Tcp,
        };
        let no_response = || {
            ResponseInfo::from(Header {
                metadata: request.metadata,
                counts: HeaderCounts::default(),
            })
        };
        let mut out = Vec::with_capacity(512);
        if !self
            .responder
            .respond(request.as_slice(), request.src(), transport, &mut out)
        {
            return no_response();
        }
        // hickory-server sends typed messages: decode ours (always well formed) into one.
        let message = match Message::from_vec(&out) {
            Ok(message) => message,
            Err(error) => {
                warn!(%error, "DNS: cannot decode own response");
                return no_response();
            }
        };
        let response = MessageResponseBuilder::new(&request.queries, message.edns.as_ref()).build(
            message.metadata,
            message.answers.iter(),
            message.authorities.iter(),
            std::iter::empty(),
            message.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                debug!(%error, "DNS: cannot send response");
                no_response()
            }
        }
    }
}
