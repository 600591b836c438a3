//! Bound sockets and their accept loops.

use crate::proxy::Shared;
use crate::signal::Closing;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Binds a listening socket (SO_REUSEADDR, non-blocking, backlog 4096).
pub fn bind_socket(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let domain = socket2::Domain::for_address(address);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// A running accept loop; closing it stops accepting (open connections go on).
pub(crate) struct ListenerHandle {
    stop: oneshot::Sender<()>,
    /// Fired when the listener is removed or the proxy drains: its HTTP connections finish
    /// the request in flight and close.
    closing: Closing,
}

impl ListenerHandle {
    /// Starts accepting on `socket`.
    pub(crate) fn spawn(
        shared: Arc<Shared>,
        address: SocketAddr,
        socket: std::net::TcpListener,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        let closing = Closing::new();
        tokio::spawn(accept_loop(
            shared,
            address,
            socket,
            stopped,
            closing.clone(),
        ));
        ListenerHandle { stop, closing }
    }

    /// Stops accepting and closes the socket.
    pub(crate) fn close(self) {
        let _ = self.stop.send(());
        self.closing.fire();
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    address: SocketAddr,
    socket: std::net::TcpListener,
    mut stopped: oneshot::Receiver<()>,
    closing: Closing,
) {
    let listener = match TcpListener::from_std(socket) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, %address, "cannot register listener");
            return;
        }
    };
    tracing::info!(%address, "listening");
    let slots = Arc::new(Semaphore::new(shared.options.max_connections_per_listener));
    loop {
        // Back-pressure: at a connection limit, stop accepting (new clients wait in the
        // kernel's backlog) until a connection closes.
        let permits = tokio::select! {
            biased;
            _ = &mut stopped => break,
            permits = slots_for(&shared, &slots) => permits,
        };
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    let closing = closing.clone();
                    tokio::spawn(async move {
                        let _permits = permits;
                        crate::downstream::serve(shared, stream, peer, address, closing).await
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, %address, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    tracing::info!(%address, "stopped listening");
}

/// A slot on this listener and one in the process, waiting (and counting the pause) while
/// either limit is reached.
async fn slots_for(
    shared: &Shared,
    listener: &Arc<Semaphore>,
) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
    let take = |semaphore: &Arc<Semaphore>, limit: &'static str| {
        let semaphore = semaphore.clone();
        async move {
            match semaphore.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    shared
                        .metrics
                        .accept_paused
                        .get_or_create(&crate::metrics::LimitLabels { limit })
                        .inc();
                    tracing::warn!(limit, "connection limit reached; accepting paused");
                    match semaphore.acquire_owned().await {
                        Ok(permit) => permit,
                        // Never closed; if it were, wait forever rather than spin.
                        Err(_) => std::future::pending().await,
                    }
                }
            }
        }
    };
    let listener = take(listener, "listener").await;
    let process = take(&shared.connection_slots, "process").await;
    (listener, process)
}
