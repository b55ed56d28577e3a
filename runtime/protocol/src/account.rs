//! The Ethereum account record stored in the state trie.

use alloy_primitives::{B256, U256, b256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// Root of an empty Merkle-Patricia trie: `keccak256(rlp(""))`.
pub const EMPTY_ROOT_HASH: B256 = b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");

/// Hash of empty code: `keccak256("")`.
pub const KECCAK_EMPTY: B256 = b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

/// An account as Ethereum encodes it in the account trie: `rlp([nonce, balance, storageRoot, codeHash])`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Account {
    /// Number of transactions sent from this account (or contracts created by it).
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Root of the account's storage trie.
    pub storage_root: B256,
    /// Keccak-256 of the account's code.
    pub code_hash: B256,
}

impl Default for Account {
    fn default() -> Self {
        Self { nonce: 0, balance: U256::ZERO, storage_root: EMPTY_ROOT_HASH, code_hash: KECCAK_EMPTY }
    }
}

impl Account {
    /// An account with only a balance.
    pub fn with_balance(balance: U256) -> Self {
        Self { balance, ..Self::default() }
    }

    /// True when the account is "empty" in the EIP-161 sense (no nonce, balance or code).
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == KECCAK_EMPTY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn constants_match_their_definitions() {
        assert_eq!(KECCAK_EMPTY, keccak256([]));
        assert_eq!(EMPTY_ROOT_HASH, keccak256([0x80]));
    }

    #[test]
    fn account_rlp_roundtrip() {
        let a = Account { nonce: 7, balance: U256::from(10u64).pow(U256::from(18)), ..Default::default() };
        let enc = alloy_rlp::encode(a);
        assert_eq!(alloy_rlp::decode_exact::<Account>(&enc).unwrap(), a);
    }
}
