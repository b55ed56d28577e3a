//! The storage market's data: system contract addresses, tombstones, quota
//! records, the cold-store key, and the logs an auditor adds up.
//!
//! Why here: a tombstone is part of the state root, a payout log part of the
//! receipts root, so the node, the RPC layer and an offline auditor must encode
//! and decode them identically.
//!
//! **Slots.** A contract storage slot holds either a value or a tombstone. Both are
//! committed in the account's storage trie under `keccak256(key)`: a value as the
//! RLP *string* of its bytes (as before: Ethereum tools read it unchanged), a
//! tombstone as an RLP *list* `[valueHash, size, retentionEnd, payer, purged]`.
//! RLP tells the two apart by the first byte, so no value can pass for a tombstone.

use alloc::vec::Vec;
use alloy_primitives::{Address, B256, Bytes, Log, U256, address, b256};
use alloy_rlp::{Decodable, RlpDecodable, RlpEncodable};

/// The fee contract: the price table, and the quote of every transaction's fee.
pub const FEE_CONTRACT: Address = address!("0000000000000000000000000000000000001001");
/// The archive contract: archiving to the cold store, restore, authorisations, quotas.
pub const ARCHIVE_CONTRACT: Address = address!("0000000000000000000000000000000000001002");
/// A codeless system account whose storage holds what the runtime itself keeps:
/// quota records and the purge queue of the cold store.
pub const STORAGE_REGISTRY: Address = address!("0000000000000000000000000000000000001003");

/// The chain registry: the child chains (and the parent) this chain follows, their
/// validator sets and checkpoints; verifies events relayed from them
/// (`contracts/system/registry`).
pub const CHAIN_REGISTRY: Address = address!("0000000000000000000000000000000000001005");
/// A codeless system account whose storage holds the hashes of recent blocks (EIP-2935's
/// idea): at the start of block `n` the runtime writes the hash of block `n - 1` under
/// [`block_hash_key`]`(n - 1)`. The `block_hash` host import reads it; being state, it is
/// also provable with `eth_getProof`.
pub const BLOCK_HASHES: Address = address!("0000000000000000000000000000000000001006");
/// How many recent block hashes [`BLOCK_HASHES`] keeps (a ring buffer, as EIP-2935's 8191).
pub const BLOCK_HASH_WINDOW: u64 = 8191;

/// The storage key of block `number`'s hash in [`BLOCK_HASHES`]: `number mod 8191`, 8
/// bytes big-endian.
pub fn block_hash_key(number: u64) -> [u8; 8] {
    (number % BLOCK_HASH_WINDOW).to_be_bytes()
}

/// True when a block at height `current` can read the hash of block `number`: one of the
/// [`BLOCK_HASH_WINDOW`] blocks before it.
pub fn block_hash_available(current: u64, number: u64) -> bool {
    number < current && current - number <= BLOCK_HASH_WINDOW
}

/// Address the resource and payout logs are emitted from: `0x…535452415441` ("STRATA").
/// No account can have it as a key, so no contract can forge the logs.
pub const RESOURCE_LOG_ADDRESS: Address = address!("0000000000000000000000000000535452415441");

/// Topic of the resource log: `keccak256("Resources(uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint256,uint256,uint256,uint256,uint256,uint256)")`.
pub const RESOURCE_LOG_TOPIC: B256 = b256!("4fc35b47f53deeede1e8a6a7c1f5e73e53d1bafab7ef52adb8453943c5662f90");

/// True for the accounts the runtime manages (exempt from quotas).
pub fn is_system(address: &Address) -> bool {
    [FEE_CONTRACT, ARCHIVE_CONTRACT, STORAGE_REGISTRY, crate::slots::VALIDATOR_SLOTS, CHAIN_REGISTRY, BLOCK_HASHES].contains(address)
}

/// What remains in the hot state of an archived entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Tombstone {
    /// `keccak256` of the archived value.
    pub value_hash: B256,
    /// Length of the archived value in bytes.
    pub size: u64,
    /// Unix time (seconds) until which the cold store keeps the value.
    pub retention_end: u64,
    /// The account that paid for the retention.
    pub payer: Address,
    /// True once the cold copy was purged (retention ended): only someone who
    /// supplies bytes matching `value_hash` can restore the entry now.
    pub purged: bool,
}

/// The content of a storage slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A live value (never empty: writing an empty value deletes the key).
    Value(Bytes),
    /// An archived entry.
    Tombstone(Tombstone),
}

impl Slot {
    /// The trie leaf payload (also the flat store's encoding).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Slot::Value(v) => alloy_rlp::encode(v),
            Slot::Tombstone(t) => alloy_rlp::encode(t),
        }
    }

    /// Decodes a leaf payload; the whole input must be one item.
    pub fn decode(mut bytes: &[u8]) -> Result<Slot, alloy_rlp::Error> {
        let first = *bytes.first().ok_or(alloy_rlp::Error::InputTooShort)?;
        let slot = if first >= alloy_rlp::EMPTY_LIST_CODE {
            Slot::Tombstone(Tombstone::decode(&mut bytes)?)
        } else {
            Slot::Value(Bytes::decode(&mut bytes)?)
        };
        if !bytes.is_empty() {
            return Err(alloy_rlp::Error::UnexpectedLength);
        }
        Ok(slot)
    }

    /// The value, if live.
    pub fn value(&self) -> Option<&Bytes> {
        match self {
            Slot::Value(v) => Some(v),
            Slot::Tombstone(_) => None,
        }
    }

    /// Bytes this slot counts against its contract's quota: key and value of a live
    /// entry; nothing for a tombstone (its retention is paid for separately).
    pub fn hot_bytes(&self, key: &[u8]) -> u64 {
        match self {
            Slot::Value(v) if !v.is_empty() => (key.len() as u64).saturating_add(v.len() as u64),
            _ => 0,
        }
    }
}

/// Who owns a contract's storage allowance, and how much of it is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaRecord {
    /// The deployer; may change the quota.
    pub owner: Address,
    /// Bytes of hot storage (keys + live values) the contract may use; bought at the
    /// storage price per byte.
    pub quota: u64,
    /// Bytes in use.
    pub used: u64,
}

impl QuotaRecord {
    /// Encoded length.
    pub const LEN: usize = 36;

    /// `owner (20) ++ quota (8, BE) ++ used (8, BE)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.extend_from_slice(self.owner.as_slice());
        out.extend_from_slice(&self.quota.to_be_bytes());
        out.extend_from_slice(&self.used.to_be_bytes());
        out
    }

    /// Decodes [`QuotaRecord::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        let quota = u64::from_be_bytes(bytes[20..28].try_into().ok()?);
        let used = u64::from_be_bytes(bytes[28..36].try_into().ok()?);
        Some(Self { owner: Address::from_slice(&bytes[..20]), quota, used })
    }

    /// Bytes still free.
    pub fn remaining(&self) -> u64 {
        self.quota.saturating_sub(self.used)
    }
}

/// Registry key of a contract's quota record: `"q" ++ address`.
pub fn quota_key(contract: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(21);
    k.push(b'q');
    k.extend_from_slice(contract.as_slice());
    k
}

/// Prefix of the purge queue in the registry's storage.
pub const PURGE_PREFIX: u8 = b'p';

/// Registry key of a purge-queue entry: `"p" ++ retention end (8, BE) ++ target ++ key`.
/// Keys sort by retention end, so a block finds what expires by scanning from the start.
pub fn purge_key(retention_end: u64, target: &Address, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(29 + key.len());
    k.push(PURGE_PREFIX);
    k.extend_from_slice(&retention_end.to_be_bytes());
    k.extend_from_slice(target.as_slice());
    k.extend_from_slice(key);
    k
}

/// Splits a purge-queue key into `(retention end, target, storage key)`.
pub fn parse_purge_key(k: &[u8]) -> Option<(u64, Address, &[u8])> {
    if k.len() < 29 || k[0] != PURGE_PREFIX {
        return None;
    }
    let end = u64::from_be_bytes(k[1..9].try_into().ok()?);
    Some((end, Address::from_slice(&k[9..29]), &k[29..]))
}

/// Key of an archived value in the cold store:
/// `target ++ keccak256(key) ++ value hash ++ retention end (8, BE)`. Archiving the
/// same value again (after a restore) with another retention makes another entry, so
/// purging one never removes the other.
pub fn cold_key(target: &Address, key: &[u8], value_hash: &B256, retention_end: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(92);
    k.extend_from_slice(target.as_slice());
    k.extend_from_slice(alloy_primitives::keccak256(key).as_slice());
    k.extend_from_slice(value_hash.as_slice());
    k.extend_from_slice(&retention_end.to_be_bytes());
    k
}

/// Topic of a payout log: `keccak256("Payout(address,uint256)")`.
pub const PAYOUT_TOPIC: B256 = b256!("5afeca38b2064c23a692c4cf353015d80ab3ecc417b4f893f372690c11fbd9a6");

/// The log recording that `validator` received `amount` wei of a transaction's fee,
/// emitted from [`RESOURCE_LOG_ADDRESS`]: `Payout(address indexed validator, uint256 amount)`.
pub fn payout_log(validator: &Address, amount: U256) -> Log {
    let topic = B256::left_padding_from(validator.as_slice());
    Log::new_unchecked(RESOURCE_LOG_ADDRESS, alloc::vec![PAYOUT_TOPIC, topic], amount.to_be_bytes::<32>().to_vec().into())
}

/// Reads a payout log back: `(validator, amount)`.
pub fn parse_payout(log: &Log) -> Option<(Address, U256)> {
    let topics = log.topics();
    if log.address != RESOURCE_LOG_ADDRESS || topics.len() != 2 || topics[0] != PAYOUT_TOPIC || log.data.data.len() != 32 {
        return None;
    }
    Some((Address::from_slice(&topics[1][12..]), U256::from_be_slice(&log.data.data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_and_cannot_be_confused() {
        let t = Tombstone { value_hash: B256::repeat_byte(7), size: 5, retention_end: 99, payer: Address::repeat_byte(1), purged: false };
        for slot in [Slot::Value(Bytes::from_static(b"hello")), Slot::Value(Bytes::from(alloy_rlp::encode(t))), Slot::Tombstone(t)] {
            assert_eq!(Slot::decode(&slot.encode()).unwrap(), slot);
        }
        // A value that happens to be a tombstone's encoding stays a value.
        assert!(matches!(Slot::decode(&Slot::Value(Bytes::from(alloy_rlp::encode(t))).encode()).unwrap(), Slot::Value(_)));
        assert!(Slot::decode(&[]).is_err());
        let mut trailing = Slot::Tombstone(t).encode();
        trailing.push(0);
        assert!(Slot::decode(&trailing).is_err());
    }

    #[test]
    fn registry_keys_and_records() {
        let r = QuotaRecord { owner: Address::repeat_byte(2), quota: 1000, used: 10 };
        assert_eq!(QuotaRecord::decode(&r.encode()), Some(r));
        assert_eq!(r.remaining(), 990);
        let a = Address::repeat_byte(3);
        let k = purge_key(42, &a, b"key");
        assert_eq!(parse_purge_key(&k), Some((42, a, &b"key"[..])));
        assert!(purge_key(1, &a, b"z") < purge_key(2, &a, b"a"), "queue is ordered by retention end");
    }

    #[test]
    fn payout_log_round_trips() {
        assert_eq!(PAYOUT_TOPIC, alloy_primitives::keccak256("Payout(address,uint256)"));
        let v = Address::repeat_byte(9);
        assert_eq!(parse_payout(&payout_log(&v, U256::from(123u64))), Some((v, U256::from(123u64))));
    }
}
