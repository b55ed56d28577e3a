//! In-memory [`Transport`] for tests and the single-validator dev node: a hub that
//! delivers every message instantly and in order, with links that can be cut and
//! restored. Its endpoints hand messages out through the same [`Inbound`] receiver as
//! the TCP transport (without byte budgets: nothing here comes from a stranger).

use std::{collections::BTreeSet, sync::Arc};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::{Delivery, Inbound, Transport};

struct Inner {
    inboxes: Vec<mpsc::UnboundedSender<Delivery>>,
    cut: BTreeSet<u32>,
}

/// A set of connected in-memory endpoints.
#[derive(Clone)]
pub struct MemHub {
    inner: Arc<Mutex<Inner>>,
}

impl MemHub {
    /// A hub of `n` endpoints; returns it and each endpoint's inbox.
    pub fn new(n: u32) -> (Self, Vec<Inbound>) {
        let (senders, receivers) = (0..n)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                (tx, Inbound::new(rx))
            })
            .unzip();
        (Self { inner: Arc::new(Mutex::new(Inner { inboxes: senders, cut: BTreeSet::new() })) }, receivers)
    }

    /// The transport of endpoint `me`.
    pub fn endpoint(&self, me: u32) -> MemEndpoint {
        MemEndpoint { hub: self.clone(), me }
    }

    /// Cuts endpoint `i` off (its messages in and out are lost) or restores it.
    pub fn set_cut(&self, i: u32, cut: bool) {
        let mut inner = self.inner.lock();
        if cut {
            inner.cut.insert(i);
        } else {
            inner.cut.remove(&i);
        }
    }
}

/// One endpoint of a [`MemHub`].
#[derive(Clone)]
pub struct MemEndpoint {
    hub: MemHub,
    me: u32,
}

impl Transport for MemEndpoint {
    fn send(&self, to: u32, payload: Vec<u8>) {
        let inner = self.hub.inner.lock();
        if to == self.me || inner.cut.contains(&to) || inner.cut.contains(&self.me) {
            return;
        }
        if let Some(inbox) = inner.inboxes.get(to as usize) {
            let _ = inbox.send(Delivery::unmetered(self.me, payload));
        }
    }

    fn broadcast(&self, payload: Vec<u8>) {
        let n = self.hub.inner.lock().inboxes.len() as u32;
        for to in (0..n).filter(|t| *t != self.me) {
            self.send(to, payload.clone());
        }
    }

    fn connected(&self) -> Vec<u32> {
        let inner = self.hub.inner.lock();
        if inner.cut.contains(&self.me) {
            return Vec::new();
        }
        (0..inner.inboxes.len() as u32).filter(|t| *t != self.me && !inner.cut.contains(t)).collect()
    }
}
