//! Validator slots on a running node: two machines per seat, each with its own key, one
//! of them active at any height (the chain's state says which; see
//! `strata_primitives::slots`).
//!
//! Both machines run the same node. The consensus core knows the node as validator
//! `slot` and acts only at heights where its key is that slot's active key, so a demoted
//! machine stops voting at once and a promoted one starts at its activation height. The
//! transport knows every machine: slot `i`'s primary is peer `i`, its backup peer
//! `n + i`; [`SlotTransport`] lets the core speak to slots (a message for slot `i` goes to
//! both its machines), while catching up speaks to machines (the driver's
//! `SlotMachines`), so each request is answered once. While a machine is not active it
//! sends a [`Heartbeat`] for every new head to the others ([`heartbeat_for`]).

use std::sync::Arc;

use strata_chain::Chain;
use strata_network::Transport;
use strata_primitives::{
    LocalSigner,
    slots::{Heartbeat, heartbeat_digest},
};

/// The transport as the consensus core sees it: peers are slots.
pub struct SlotTransport {
    inner: Arc<dyn Transport>,
    slots: u32,
    /// Whether slot `i` has a backup machine (peer `slots + i`).
    backups: Vec<bool>,
}

impl SlotTransport {
    /// Over `inner`, whose peers are the machines: `0..slots` the primaries, `slots + i`
    /// slot `i`'s backup.
    pub fn new(inner: Arc<dyn Transport>, backups: Vec<bool>) -> Self {
        Self { inner, slots: backups.len() as u32, backups }
    }

    /// The slot of machine `peer`.
    pub fn slot_of(&self, peer: u32) -> u32 {
        peer.checked_rem(self.slots).unwrap_or(peer)
    }
}

impl Transport for SlotTransport {
    fn send(&self, to: u32, payload: Vec<u8>) {
        if self.backups.get(to as usize).copied().unwrap_or(false) {
            self.inner.send(to.saturating_add(self.slots), payload.clone());
        }
        self.inner.send(to, payload);
    }

    fn broadcast(&self, payload: Vec<u8>) {
        self.inner.broadcast(payload);
    }

    fn connected(&self) -> Vec<u32> {
        let mut slots: Vec<u32> = self.inner.connected().into_iter().map(|p| self.slot_of(p)).collect();
        slots.sort_unstable();
        slots.dedup();
        slots
    }
}

/// The heartbeat this machine (`key`, of slot `slot`) sends for the chain's head, if it
/// is the slot's sync node at the head's height (`None`: active, or no slots).
pub fn heartbeat_for(chain: &Chain, key: &LocalSigner, slot: u32) -> Option<Heartbeat> {
    let state = chain.slot_state().ok()??;
    let (hash, head) = chain.head();
    let record = state.slots.get(slot as usize)?;
    if record.alternate_at(head.number) != Some(key.address()) {
        return None;
    }
    let digest = heartbeat_digest(chain.spec().chain_id, slot, key.address(), head.number, hash);
    let signature = key.sign_hash(&digest).ok()?.as_bytes();
    Some(Heartbeat { slot, key: key.address(), height: head.number, block_hash: hash, signature })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Record(Mutex<Vec<(u32, Vec<u8>)>>, Vec<u32>);
    impl Transport for Record {
        fn send(&self, to: u32, payload: Vec<u8>) {
            self.0.lock().push((to, payload));
        }
        fn broadcast(&self, payload: Vec<u8>) {
            self.0.lock().push((u32::MAX, payload));
        }
        fn connected(&self) -> Vec<u32> {
            self.1.clone()
        }
    }

    #[test]
    fn a_message_for_a_slot_reaches_both_its_machines() {
        let inner = Arc::new(Record(Mutex::default(), vec![0, 2, 4, 6, 7]));
        let t = SlotTransport::new(inner.clone(), vec![true, false, true, true]);
        t.send(0, b"a".to_vec());
        t.send(1, b"b".to_vec());
        t.broadcast(b"c".to_vec());
        let sent: Vec<u32> = inner.0.lock().iter().map(|(to, _)| *to).collect();
        assert_eq!(sent, [4, 0, 1, u32::MAX]);
        assert_eq!(t.connected(), [0, 2, 3]);
        assert_eq!((t.slot_of(5), t.slot_of(3)), (1, 3));
    }
}
