//! Merkle-Patricia proof verification (EIP-1186 `accountProof` / `storageProof`).
//!
//! A proof is the list of trie nodes on a key's path, root first. Verification
//! walks it from the state root: each node must hash to the reference its parent
//! holds. It proves presence (the leaf holds the value) or absence (the path
//! leaves the trie). Here, in `no_std`, so contracts, light clients and auditors
//! run the exact code the node's tests run.

use crate::{B256, EMPTY_ROOT_HASH, keccak256, nibbles, rlp_item::RlpItem};
use alloc::vec::Vec;
use alloy_primitives::Bytes;

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof ends before the key's path does.
    #[error("proof is missing the node at depth {0}")]
    MissingNode(usize),
    /// A node does not hash to the reference its parent (or the root) gives.
    #[error("node at depth {0} does not match its hash")]
    HashMismatch(usize),
    /// A node is not a valid trie node.
    #[error("node at depth {0} is malformed")]
    Malformed(usize),
    /// Nodes follow the one that settles the key.
    #[error("proof has {0} unused trailing nodes")]
    Trailing(usize),
}

enum Step {
    Done(Option<Vec<u8>>),
    Next(RlpItem),
}

fn step(item: RlpItem, rest: &mut &[u8], depth: usize) -> Result<Step, ProofError> {
    let RlpItem::List(mut items) = item else {
        return Err(ProofError::Malformed(depth));
    };
    match items.len() {
        2 => {
            let next = items.pop().expect("two items");
            let RlpItem::Bytes(hp) = items.pop().expect("two items") else {
                return Err(ProofError::Malformed(depth));
            };
            let (path, leaf) = nibbles::decode_hex_prefix(&hp).ok_or(ProofError::Malformed(depth))?;
            if leaf {
                let RlpItem::Bytes(value) = next else {
                    return Err(ProofError::Malformed(depth));
                };
                return Ok(Step::Done((path.as_slice() == *rest).then_some(value)));
            }
            match rest.strip_prefix(path.as_slice()) {
                Some(r) if !path.is_empty() => {
                    *rest = r;
                    Ok(Step::Next(next))
                }
                Some(_) => Err(ProofError::Malformed(depth)),
                None => Ok(Step::Done(None)),
            }
        }
        17 => {
            let value = items.pop().expect("17 items");
            match rest.split_first() {
                None => match value {
                    RlpItem::Bytes(v) => Ok(Step::Done((!v.is_empty()).then_some(v))),
                    RlpItem::List(_) => Err(ProofError::Malformed(depth)),
                },
                Some((i, r)) => {
                    *rest = r;
                    Ok(Step::Next(items.swap_remove(usize::from(*i))))
                }
            }
        }
        _ => Err(ProofError::Malformed(depth)),
    }
}

/// Verifies `proof` for raw trie path `key` (already hashed for a secure trie)
/// against `root`. Returns the value stored at `key`, or `None` if the proof shows
/// the key is absent.
pub fn verify(root: B256, key: &[u8], proof: &[Bytes]) -> Result<Option<Vec<u8>>, ProofError> {
    if proof.is_empty() {
        return if root == EMPTY_ROOT_HASH { Ok(None) } else { Err(ProofError::MissingNode(0)) };
    }
    let path = nibbles::unpack(key);
    let mut rest: &[u8] = &path;
    let mut expected = root;
    for (depth, node) in proof.iter().enumerate() {
        if keccak256(node) != expected {
            return Err(ProofError::HashMismatch(depth));
        }
        let mut item = RlpItem::decode_exact(node).map_err(|_| ProofError::Malformed(depth))?;
        loop {
            match step(item, &mut rest, depth)? {
                Step::Done(value) => {
                    let unused = proof.len().saturating_sub(depth.saturating_add(1));
                    return if unused == 0 { Ok(value) } else { Err(ProofError::Trailing(unused)) };
                }
                Step::Next(RlpItem::Bytes(b)) if b.is_empty() => {
                    let unused = proof.len().saturating_sub(depth.saturating_add(1));
                    return if unused == 0 { Ok(None) } else { Err(ProofError::Trailing(unused)) };
                }
                Step::Next(RlpItem::Bytes(b)) if b.len() == 32 => {
                    expected = B256::from_slice(&b);
                    break;
                }
                Step::Next(RlpItem::Bytes(_)) => return Err(ProofError::Malformed(depth)),
                Step::Next(inline) => {
                    // Inline nodes are under 32 bytes by definition.
                    if inline.encoded().len() >= 32 {
                        return Err(ProofError::Malformed(depth));
                    }
                    item = inline;
                }
            }
        }
    }
    Err(ProofError::MissingNode(proof.len()))
}

/// Verifies an account proof: `key` is the address, hashed here (secure trie).
pub fn verify_account(root: B256, address: &crate::Address, proof: &[Bytes]) -> Result<Option<crate::Account>, ProofError> {
    let Some(rlp) = verify(root, keccak256(address).as_slice(), proof)? else {
        return Ok(None);
    };
    crate::rlp_item::decode_exact::<crate::Account>(&rlp).map(Some).map_err(|_| ProofError::Malformed(proof.len().saturating_sub(1)))
}
