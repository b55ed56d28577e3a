//! Byte budgets: the bytes held for one peer in one direction ([`Budget`]), reserved
//! by a [`Charge`] until the message is sent, delivered or discarded; what a peer holds
//! ([`PeerMemory`]); and the [`Inbound`] receiver, whose messages carry their charge
//! until the node takes them.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::{Notify, mpsc};

use crate::{MAX_FRAME, MESSAGE_OVERHEAD};

/// A budget admits one largest frame when empty, so it is never less than that.
pub(crate) fn effective_budget(limit: usize) -> usize {
    limit.max(MAX_FRAME + MESSAGE_OVERHEAD)
}

/// Memory the transport holds for one peer, in bytes charged (payload +
/// [`MESSAGE_OVERHEAD`] per message).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerMemory {
    /// Waiting to be sent to the peer, the frame being written included.
    pub outbound: usize,
    /// Highest `outbound` since start.
    pub outbound_peak: usize,
    /// Received from the peer and not yet taken through [`Inbound::recv`], the frame
    /// being read included.
    pub inbound: usize,
    /// Highest `inbound` since start.
    pub inbound_peak: usize,
}

impl PeerMemory {
    /// The current and peak figures of a peer's two budgets.
    pub(crate) fn of(outbound: &Budget, inbound: &Budget) -> Self {
        Self {
            outbound: outbound.used.load(Ordering::Relaxed),
            outbound_peak: outbound.peak.load(Ordering::Relaxed),
            inbound: inbound.used.load(Ordering::Relaxed),
            inbound_peak: inbound.peak.load(Ordering::Relaxed),
        }
    }
}

/// Bytes held for one peer in one direction, and the wake-up of whoever waits for room.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
    released: Notify,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self { limit, used: AtomicUsize::new(0), peak: AtomicUsize::new(0), released: Notify::new() })
    }

    /// Reserves `bytes` if they fit (always when nothing is held).
    pub(crate) fn try_charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            let after = used.saturating_add(bytes);
            if used != 0 && after > self.limit {
                return None;
            }
            match self.used.compare_exchange_weak(used, after, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.peak.fetch_max(after, Ordering::Relaxed);
                    return Some(Charge { budget: self.clone(), bytes });
                }
                Err(now) => used = now,
            }
        }
    }

    /// Reserves `bytes`, waiting until enough is released.
    pub(crate) async fn charge(self: &Arc<Self>, bytes: usize) -> Charge {
        loop {
            // Registered before the check, so a release in between is not missed.
            let released = self.released.notified();
            if let Some(charge) = self.try_charge(bytes) {
                return charge;
            }
            released.await;
        }
    }
}

/// Bytes reserved in a [`Budget`], released when dropped (sent, delivered or discarded).
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
        self.budget.released.notify_waiters();
    }
}

/// A received message on its way to the node, holding its sender's inbound bytes.
#[derive(Debug)]
pub(crate) struct Delivery {
    from: u32,
    payload: Vec<u8>,
    charge: Option<Charge>,
}

impl Delivery {
    /// A message not charged to any budget (the in-memory hub).
    pub(crate) fn unmetered(from: u32, payload: Vec<u8>) -> Self {
        Self { from, payload, charge: None }
    }

    /// A message holding `charge` of its sender's inbound budget until it is taken.
    pub(crate) fn charged(from: u32, payload: Vec<u8>, charge: Charge) -> Self {
        Self { from, payload, charge: Some(charge) }
    }

    fn open(self) -> (u32, Vec<u8>) {
        let Delivery { from, payload, charge } = self;
        drop(charge);
        (from, payload)
    }
}

/// The messages received from peers, `(sender index, payload)`, as handed to the node
/// by [`Network::start`](crate::Network::start) and [`MemHub::new`](crate::mem::MemHub::new). Taking a message releases its bytes
/// from the sender's inbound budget, which lets that peer's connection be read again.
#[derive(Debug)]
pub struct Inbound {
    rx: mpsc::UnboundedReceiver<Delivery>,
}

impl Inbound {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Delivery>) -> Self {
        Self { rx }
    }

    /// The next message; `None` once the transport is gone. Cancel-safe: usable in
    /// `tokio::select!` without losing messages.
    pub async fn recv(&mut self) -> Option<(u32, Vec<u8>)> {
        self.rx.recv().await.map(Delivery::open)
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<(u32, Vec<u8>)> {
        self.rx.try_recv().ok().map(Delivery::open)
    }

    /// Splits the messages `pick` selects off into a receiver of their own (the second),
    /// so that a consumer busy with one kind does not hold up the other. Each message
    /// still holds its sender's inbound bytes until it is taken from either receiver; a
    /// message for a receiver that was dropped is dropped. Call inside a tokio runtime.
    pub fn split(self, pick: impl Fn(&[u8]) -> bool + Send + 'static) -> (Inbound, Inbound) {
        let (rest_tx, rest_rx) = mpsc::unbounded_channel();
        let (picked_tx, picked_rx) = mpsc::unbounded_channel();
        let mut rx = self.rx;
        tokio::spawn(async move {
            loop {
                let delivery = tokio::select! {
                    delivery = rx.recv() => match delivery {
                        Some(delivery) => delivery,
                        None => return,
                    },
                    () = async { tokio::join!(rest_tx.closed(), picked_tx.closed()); } => return,
                };
                let to = if pick(&delivery.payload) { &picked_tx } else { &rest_tx };
                let _ = to.send(delivery);
            }
        });
        (Inbound::new(rest_rx), Inbound::new(picked_rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_split_routes_by_kind_in_order_and_keeps_each_message_charged_until_taken() {
        let budget = Budget::new(1 << 20);
        let (tx, rx) = mpsc::unbounded_channel();
        let (mut rest, mut picked) = Inbound::new(rx).split(|p| p.first() == Some(&1));
        for (i, kind) in [1u8, 0, 1, 0, 0].into_iter().enumerate() {
            let charge = budget.try_charge(100).unwrap();
            tx.send(Delivery::charged(i as u32, vec![kind, i as u8], charge)).unwrap();
        }
        assert_eq!(picked.recv().await, Some((0, vec![1, 0])));
        assert_eq!(picked.recv().await, Some((2, vec![1, 2])));
        // The other three are still held against the budget until taken.
        tokio::task::yield_now().await;
        assert_eq!(budget.used.load(Ordering::Acquire), 300);
        for expected in [(1, vec![0, 1]), (3, vec![0, 3]), (4, vec![0, 4])] {
            assert_eq!(rest.recv().await, Some(expected));
        }
        assert_eq!(budget.used.load(Ordering::Acquire), 0);
        // One receiver gone: its messages are dropped (their bytes released), the other's
        // still arrive; both gone or the source gone, the split ends.
        drop(picked);
        tx.send(Delivery::charged(5, vec![1], budget.try_charge(100).unwrap())).unwrap();
        tx.send(Delivery::charged(6, vec![0], budget.try_charge(100).unwrap())).unwrap();
        assert_eq!(rest.recv().await, Some((6, vec![0])));
        assert_eq!(budget.used.load(Ordering::Acquire), 0);
        drop(tx);
        assert_eq!(rest.recv().await, None);
        // Both receivers gone: the split ends at once, without waiting for a message.
        let (tx, rx) = mpsc::unbounded_channel::<Delivery>();
        let (a, b) = Inbound::new(rx).split(|_| true);
        drop((a, b));
        tokio::time::timeout(std::time::Duration::from_secs(5), tx.closed()).await.expect("the split ends with its receivers");
    }
}
