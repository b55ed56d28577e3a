//! The validator-set history of a chain with slots, proven for auditors: at every block
//! whose end decided a switch the chain keeps the slot records of the state after it with
//! their proofs ([`SlotsProof`]); [`Chain::set_proof`] serves them with those blocks'
//! headers and certificates as a [`SetProof`], which
//! [`strata_primitives::set_proof::verify_set_with`] checks from the genesis set alone.

use strata_primitives::{
    Bytes,
    set_proof::{SetProof, SlotsProof, SwitchLink},
    slots::{VALIDATOR_SLOTS, slot_key},
};

use crate::{Chain, Error, Result};

impl Chain {
    /// Proves the slot records in the state after block `number` (which must still be
    /// retained) and keeps the proof.
    pub(crate) fn prove_switch(&self, number: u64) -> Result<SlotsProof> {
        let unproven = |reason: String| Error::SwitchUnproven { number, reason };
        let state = self.state_at(number).map_err(|e| unproven(e.to_string()))?;
        let slots = strata_executor::slots::read(&state)?.ok_or_else(|| unproven("no validator slots in its state".into()))?.slots;
        let keys = (0..slots.len())
            .map(|i| u32::try_from(i).map(|i| Bytes::copy_from_slice(&slot_key(i))))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| unproven("too many slots".into()))?;
        let proof = SlotsProof {
            account_proof: state.account_proof(&VALIDATOR_SLOTS)?.proof,
            storage_proofs: state.storage_proofs(&VALIDATOR_SLOTS, &keys)?.into_iter().map(|p| p.proof).collect(),
        };
        self.store.put_switch_proof(number, &proof)?;
        Ok(proof)
    }

    /// Proves the switches marked but not proven (a crash between a switch block's write
    /// and its proof), while their state is retained; at start.
    pub(crate) fn prove_marked_switches(&self) {
        let marked = match self.store.switches_below(u64::MAX) {
            Ok(marked) => marked,
            Err(e) => {
                tracing::warn!(error = %e, "switch marks unreadable");
                return;
            }
        };
        for (number, proof) in marked {
            if proof.is_none()
                && let Err(e) = self.prove_switch(number)
            {
                tracing::warn!(number, error = %e, "a validator-set switch cannot be proven");
            }
        }
    }

    /// The switches of the validator set before `height`, each with its block's header,
    /// certificate and proven slot records: what an auditor holding the genesis set needs
    /// to know the set of `height`. Empty on a chain without slots or switches.
    pub fn set_proof(&self, height: u64) -> Result<SetProof> {
        let mut links = Vec::new();
        for (number, proof) in self.store.switches_below(height)? {
            let unproven = |reason: &str| Error::SwitchUnproven { number, reason: reason.into() };
            let slots = match proof {
                Some(p) => p,
                None => self.prove_switch(number)?,
            };
            let header = self.store.header(number)?.ok_or_else(|| unproven("its header is missing"))?;
            let certificate =
                self.store.certificate(number)?.filter(|c| !c.is_empty()).ok_or_else(|| unproven("it has no certificate yet"))?;
            links.push(SwitchLink { header, certificate: certificate.into(), slots });
        }
        Ok(SetProof { links })
    }
}
