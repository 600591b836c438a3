//! Real HTTP clients: one hyper connection, HTTP/1.1 or HTTP/2 (h2c prior knowledge in the
//! clear, ALPN over TLS), so tests control exactly which connection a request goes on.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Any error, for bodies and fallible helpers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The request body type of every client here.
pub type Body = BoxBody<Bytes, BoxError>;

/// The HTTP version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.1.
    H1,
    /// HTTP/2 (prior knowledge in the clear, ALPN `h2` over TLS).
    H2,
}

impl Proto {
    /// The ALPN protocol id to offer.
    pub fn alpn(self) -> &'static [u8] {
        match self {
            Proto::H1 => b"http/1.1",
            Proto::H2 => b"h2",
        }
    }
}

enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

/// One client connection.
pub struct Conn {
    sender: Sender,
    /// The version spoken.
    pub proto: Proto,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The client side's address.
    pub local: SocketAddr,
    /// The ALPN protocol the server chose (TLS only).
    pub alpn: Option<Vec<u8>>,
    /// The certificates the server presented (TLS only), leaf first.
    pub peer_certificates: Vec<CertificateDer<'static>>,
}

/// A complete response.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "{} answered a body that is not JSON ({error}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The name of the echo backend that answered.
    pub fn backend(&self) -> String {
        self.json()["name"].as_str().unwrap_or_default().to_string()
    }

    /// The values of header `name` the backend received.
    pub fn seen_header(&self, name: &str) -> Vec<String> {
        self.json()["headers"][name]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// An empty request body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A request body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A request body fed through a channel, one frame per message; ends when the sender is
/// dropped. Its length is unknown, so HTTP/1.1 sends it chunked.
pub fn channel_body() -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    (tx, ChannelBody(rx).boxed())
}

struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|data| data.map(|d| Ok(http_body::Frame::data(d))))
    }
}

impl Conn {
    /// Connects in the clear.
    pub async fn connect(addr: SocketAddr, proto: Proto) -> Result<Conn, BoxError> {
        let stream = TcpStream::connect(addr).await?;
        let local = stream.local_addr()?;
        stream.set_nodelay(true)?;
        Conn::handshake(stream, proto, false, local, None, Vec::new()).await
    }

    /// Connects with TLS to `server_name`, offering `proto` by ALPN.
    pub async fn connect_tls(
        addr: SocketAddr,
        proto: Proto,
        config: Arc<ClientConfig>,
        server_name: &str,
    ) -> Result<Conn, BoxError> {
        let stream = TcpStream::connect(addr).await?;
        let local = stream.local_addr()?;
        stream.set_nodelay(true)?;
        let name = ServerName::try_from(server_name.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await?;
        let session = &tls.get_ref().1;
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        let certificates = session
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        Conn::handshake(tls, proto, true, local, alpn, certificates).await
    }

    async fn handshake<S>(
        stream: S,
        proto: Proto,
        tls: bool,
        local: SocketAddr,
        alpn: Option<Vec<u8>>,
        peer_certificates: Vec<CertificateDer<'static>>,
    ) -> Result<Conn, BoxError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(stream);
        let sender = match proto {
            Proto::H1 => {
                let (sender, connection) = http1::handshake(io).await?;
                tokio::spawn(connection.with_upgrades());
                Sender::H1(sender)
            }
            Proto::H2 => {
                let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                    .handshake(io)
                    .await?;
                tokio::spawn(connection);
                Sender::H2(sender)
            }
        };
        Ok(Conn {
            sender,
            proto,
            tls,
            local,
            alpn,
            peer_certificates,
        })
    }

    /// A request builder for `method host path`: origin-form URI and a Host header for
    /// HTTP/1.1, an absolute URI (`:authority`) for HTTP/2.
    pub fn request(&self, method: Method, host: &str, path: &str) -> http::request::Builder {
        match self.proto {
            Proto::H1 => Request::builder()
                .method(method)
                .uri(path)
                .header(http::header::HOST, host),
            Proto::H2 => {
                let scheme = if self.tls { "https" } else { "http" };
                Request::builder()
                    .method(method)
                    .uri(format!("{scheme}://{host}{path}"))
                    .version(http::Version::HTTP_2)
            }
        }
    }

    /// Sends a request and returns the response head with its streaming body.
    pub async fn send(&mut self, request: Request<Body>) -> Result<Response<Incoming>, BoxError> {
        match &mut self.sender {
            Sender::H1(sender) => {
                sender.ready().await?;
                Ok(sender.send_request(request).await?)
            }
            Sender::H2(sender) => {
                sender.ready().await?;
                Ok(sender.send_request(request).await?)
            }
        }
    }

    /// Sends a request and reads the whole response.
    pub async fn fetch(&mut self, request: Request<Body>) -> Result<Reply, BoxError> {
        let response = self.send(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `GET host path`, read whole; panics on a transport error.
    pub async fn get(&mut self, host: &str, path: &str) -> Reply {
        let request = self
            .request(Method::GET, host, path)
            .body(empty())
            .expect("valid request");
        self.fetch(request)
            .await
            .unwrap_or_else(|error| panic!("GET {host}{path} failed: {error}"))
    }

    /// Whether the connection was closed.
    pub fn is_closed(&self) -> bool {
        match &self.sender {
            Sender::H1(sender) => sender.is_closed(),
            Sender::H2(sender) => sender.is_closed(),
        }
    }
}

/// One `GET http://addr/path` with `Host: host` on a fresh HTTP/1.1 connection.
pub async fn get_once(addr: SocketAddr, host: &str, path: &str) -> Result<Reply, BoxError> {
    let mut conn = Conn::connect(addr, Proto::H1).await?;
    let request = conn
        .request(Method::GET, host, path)
        .body(empty())
        .expect("valid request");
    conn.fetch(request).await
}
