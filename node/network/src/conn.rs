//! Connections of the TCP transport: the accept loop (with its cap on pending
//! handshakes), the dial loop (with backoff), and one authenticated connection's
//! reading and writing until it breaks, is replaced or the transport stops.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::OwnedSemaphorePermit,
};

use crate::{
    Delivery, Error, HANDSHAKE_TIMEOUT, MAX_FRAME, MESSAGE_OVERHEAD, Peer, Result,
    frame::{read_body, read_len, write_frame},
    handshake::handshake,
    tcp::Shared,
};

pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                // Closed at once, before reading anything, when too many are pending.
                let Ok(permit) = shared.handshakes.clone().try_acquire_owned() else {
                    shared.stats.turned_away.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%from, "too many pending handshakes: connection closed");
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(shared, stream, None, Some(permit)).await {
                        tracing::debug!(%from, error = %e, "inbound connection ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

pub(crate) async fn dial_loop(shared: Arc<Shared>, peer: Peer) {
    let mut backoff = shared.config.min_backoff;
    loop {
        match TcpStream::connect(peer.addr).await {
            Ok(stream) => {
                let started = tokio::time::Instant::now();
                if let Err(e) = connection(shared.clone(), stream, Some(peer.index), None).await {
                    tracing::debug!(peer = peer.index, error = %e, "connection ended");
                }
                // A connection that lived a while resets the backoff.
                if started.elapsed() > shared.config.max_backoff {
                    backoff = shared.config.min_backoff;
                }
            }
            Err(e) => tracing::trace!(peer = peer.index, error = %e, "dial failed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = backoff.saturating_mul(2).min(shared.config.max_backoff);
    }
}

/// Authenticates `stream` and, if the peer proves its key, runs it until it breaks, is
/// replaced by a newer connection of the same peer, or the transport stops.
/// `expected`: the peer dialled (None for an inbound connection); `pending`: the
/// inbound connection's handshake slot, freed once authenticated.
async fn connection(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    expected: Option<u32>,
    pending: Option<OwnedSemaphorePermit>,
) -> Result<()> {
    let _ = stream.set_nodelay(true);
    let mut stop = shared.stop.subscribe();
    let shut_down = || Error::Connection("shut down".into());
    if *stop.borrow_and_update() {
        return Err(shut_down());
    }
    let authenticated = tokio::select! {
        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&shared.config, &mut stream, expected)) => r,
        _ = stop.wait_for(|s| *s) => return Err(shut_down()),
    };
    drop(pending);
    let peer = match authenticated {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        Err(_) => {
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Connection("handshake timed out".into()));
        }
    };
    let link = shared.links.get(&peer).ok_or_else(|| Error::Connection("no queue".into()))?;
    // The newest connection of a validator wins: the previous one sees `current` change and ends.
    let generation = {
        let mut live = shared.live.lock();
        let generation = shared.generation.fetch_add(1, Ordering::Relaxed) + 1;
        live.insert(peer, generation);
        link.current.send_replace(generation);
        generation
    };
    let mut current = link.current.subscribe();
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    tracing::info!(peer, "validator connected");
    let (mut reader, mut writer) = stream.into_split();
    let read = async {
        loop {
            let len = read_len(&mut reader, MAX_FRAME).await?;
            // Backpressure: while this peer's undelivered bytes leave no room, the
            // socket is not read, so TCP stalls the sender instead of us buffering.
            let charge = link.inbound.charge(len + MESSAGE_OVERHEAD).await;
            let payload = read_body(&mut reader, len).await?;
            if shared.inbound.send(Delivery::charged(peer, payload, charge)).is_err() {
                return Err(Error::Connection("node stopped".into()));
            }
        }
    };
    let write = async {
        // Waits for the previous connection to the peer to release the outbox.
        let mut rx = link.outbox.lock().await;
        while let Some(msg) = rx.recv().await {
            // The message keeps its bytes charged until it is written.
            write_frame(&mut writer, &msg.payload).await?;
        }
        Err::<(), _>(Error::Connection("queue closed".into()))
    };
    let result = tokio::select! {
        r = read => r,
        r = write => r,
        _ = current.wait_for(|g| *g != generation) => {
            shared.stats.replaced.fetch_add(1, Ordering::Relaxed);
            Err(Error::Connection("replaced by a newer connection".into()))
        }
        _ = stop.wait_for(|s| *s) => Err(shut_down()),
    };
    {
        let mut live = shared.live.lock();
        if live.get(&peer) == Some(&generation) {
            live.remove(&peer);
        }
    }
    tracing::info!(peer, "validator disconnected");
    result
}
