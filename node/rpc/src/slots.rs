//! `strata_validatorSlots`: the validator slots of a block (keys, which is active, the
//! evidence streak, the last switch, a planned one) and each slot's liveness over the
//! last `window` blocks as the chain recorded it (the active key's signature in the
//! parent certificate, the sync node's heartbeat in the block); and
//! `strata_sendHeartbeat`, for a sync node that reaches validators over JSON-RPC.

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use serde::Serialize;
use strata_primitives::{Address, B256, Bytes, CommitCertificate, rlp_item, slots::Heartbeat};

use crate::{
    EthRpc,
    error::{exec_error, internal, invalid_params},
    types::BlockId,
};

/// `strata_validatorSlots`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcSlots {
    /// The block whose state this is.
    pub height: U64,
    /// `N`: blocks of evidence a switch needs.
    pub window: U64,
    /// Blocks after a switch before the slot may switch again.
    pub cooldown: U64,
    /// The slots, in order (slot `i` is validator `i`).
    pub slots: Vec<RpcSlot>,
}

/// One slot in [`RpcSlots`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcSlot {
    /// Its index.
    pub slot: U64,
    /// The primary machine's key.
    pub primary: Address,
    /// The backup machine's key, if any.
    pub backup: Option<Address>,
    /// The key active at the next height.
    pub active: Address,
    /// Whether the backup is the active one (as of this block's state).
    pub backup_active: bool,
    /// Where its fees go.
    pub payee: Address,
    /// Declared storage class: 0 NVMe, 1 SSD, 2 HDD.
    pub storage_class: U64,
    /// Who may schedule planned switches.
    pub operator: Address,
    /// The block whose end decided its last switch (0: never).
    pub last_switch: U64,
    /// Consecutive blocks with the active key dead and the sync node alive.
    pub streak: U64,
    /// Height a planned switch takes effect (0: none).
    pub planned: U64,
    /// The last `window` observed heights, oldest first.
    pub liveness: Vec<RpcLiveness>,
}

/// What the chain recorded of one slot at one height.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLiveness {
    /// The observed height.
    pub height: U64,
    /// Whether the active key's signature is in that block's commit certificate.
    pub active_signed: bool,
    /// Whether the next block carries the sync node's heartbeat for it.
    pub heartbeat: bool,
}

/// Validator slots.
#[rpc(server)]
pub trait SlotsApi {
    /// Strata: the validator slots as of `block` (default latest); `null` on a chain
    /// without slots.
    #[method(name = "strata_validatorSlots", blocking)]
    fn validator_slots(&self, block: Option<BlockId>) -> RpcResult<Option<RpcSlots>>;
    /// Strata: a sync node's heartbeat for this node's head (RLP, hex), kept for the next
    /// block this validator proposes. Refused with the reason if it is not valid evidence.
    #[method(name = "strata_sendHeartbeat")]
    fn send_heartbeat(&self, heartbeat: Bytes) -> RpcResult<bool>;
    /// Strata: the proof of the validator set of a height — every switch before it, with
    /// its block's header, certificate and proven slot records — checkable from the
    /// genesis set alone (`strata audit`, `set_proof::verify_set_with`).
    #[method(name = "strata_getValidatorSetProof", blocking)]
    fn validator_set_proof(&self, block: Option<BlockId>) -> RpcResult<RpcSetProof>;
}

/// `strata_getValidatorSetProof`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcSetProof {
    /// The height whose set is proven.
    pub height: U64,
    /// The set of that height, as this node knows it (what the proof must give).
    pub validators: Vec<Address>,
    /// The blocks whose end decided a switch before it, in order.
    pub switches: Vec<RpcSwitch>,
    /// The proof: an RLP `SetProof`.
    pub proof: Bytes,
}

/// One switch of a [`RpcSetProof`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcSwitch {
    /// The block whose end decided it (the new keys are active two blocks later).
    pub number: U64,
    /// Its hash.
    pub hash: B256,
}

impl SlotsApiServer for EthRpc {
    fn validator_slots(&self, block: Option<BlockId>) -> RpcResult<Option<RpcSlots>> {
        let number = self.required_number_for_id(block)?;
        let state = self.chain.state_at(number).map_err(|e| exec_error(e.to_string()))?;
        let Some(slots) = strata_executor::slots::read(&state).map_err(internal)? else { return Ok(None) };
        let store = self.chain.store();
        // Heights number - window + 1 ..= number, each observed by the block after it
        // (the last one by nothing yet: only its certificate is known).
        let first = number.saturating_sub(slots.params.window).saturating_add(1).max(1);
        let mut observed = Vec::new();
        for height in first..=number {
            let cert = match store.certificate(height).map_err(internal)? {
                Some(raw) => Some(rlp_item::decode_exact::<CommitCertificate>(&raw).map_err(internal)?),
                None => None,
            };
            let beats = store.liveness(height.saturating_add(1)).map_err(internal)?;
            observed.push((height, cert, beats));
        }
        let out = slots
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| RpcSlot {
                slot: U64::from(i),
                primary: s.primary,
                backup: s.has_backup().then_some(s.backup),
                active: s.active_at(number.saturating_add(1)),
                backup_active: s.backup_active,
                payee: s.payee,
                storage_class: U64::from(s.storage_class),
                operator: s.operator,
                last_switch: U64::from(s.last_switch),
                streak: U64::from(s.streak),
                planned: U64::from(s.planned),
                liveness: observed
                    .iter()
                    .map(|(height, cert, beats)| RpcLiveness {
                        height: U64::from(*height),
                        active_signed: cert.as_ref().is_some_and(|c| c.signatures.iter().any(|sig| sig.validator as usize == i)),
                        heartbeat: beats.heartbeats.iter().any(|b| b.slot as usize == i),
                    })
                    .collect(),
            })
            .collect();
        Ok(Some(RpcSlots {
            height: U64::from(number),
            window: U64::from(slots.params.window),
            cooldown: U64::from(slots.params.cooldown),
            slots: out,
        }))
    }

    fn send_heartbeat(&self, heartbeat: Bytes) -> RpcResult<bool> {
        let beat = rlp_item::decode_exact::<Heartbeat>(&heartbeat).map_err(|e| invalid_params(format!("not a heartbeat: {e}")))?;
        match self.chain.add_heartbeat(beat).map_err(internal)? {
            Ok(()) => Ok(true),
            Err(e) => Err(exec_error(format!("heartbeat refused: {e}"))),
        }
    }

    fn validator_set_proof(&self, block: Option<BlockId>) -> RpcResult<RpcSetProof> {
        let height = self.required_number_for_id(block)?;
        let proof = self.chain.set_proof(height).map_err(|e| exec_error(e.to_string()))?;
        let validators = self.chain.validator_sets().validators_at(height).map(|s| s.validators.clone()).unwrap_or_default();
        Ok(RpcSetProof {
            height: U64::from(height),
            validators,
            switches: proof.links.iter().map(|l| RpcSwitch { number: U64::from(l.header.number), hash: l.header.hash_slow() }).collect(),
            proof: strata_primitives::rlp::encode(&proof).into(),
        })
    }
}
