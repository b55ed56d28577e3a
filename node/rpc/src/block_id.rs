//! The one block-id resolver: every method that takes a block tag, number or hash
//! turns it into a height here (reth's `BlockIdReader::block_number_for_id`).
//!
//! What a height then means — the flat latest state, a retained block's trie, a stored
//! block, "not found" or "pruned" — is the caller's business; this only names the block.

use strata_chain::Chain;
use strata_primitives::B256;

use crate::types::{BlockId, BlockTag};

/// Names the block a request asks for, from a chain's head and hash index.
pub(crate) trait BlockIdReader {
    /// Height of the head block.
    fn head_number(&self) -> u64;

    /// Height of the stored block with this hash (`None`: no such block).
    fn number_of_hash(&self, hash: &B256) -> strata_chain::Result<Option<u64>>;

    /// The height `tag` names (`None`: `latest`): `latest` and `pending` (and `safe`,
    /// `finalized`, parsed as `latest`) are the head, `earliest` is genesis, a number is
    /// itself, whether or not that block exists yet.
    fn block_number_for_tag(&self, tag: Option<BlockTag>) -> u64 {
        match tag.unwrap_or(BlockTag::Latest) {
            BlockTag::Latest | BlockTag::Pending => self.head_number(),
            BlockTag::Earliest => 0,
            BlockTag::Number(n) => n,
        }
    }

    /// The height `id` names (`None`: `latest`): tags as [`Self::block_number_for_tag`],
    /// hashes through the store's index. `Ok(None)`: no stored block has that hash.
    fn block_number_for_id(&self, id: Option<BlockId>) -> strata_chain::Result<Option<u64>> {
        match id.unwrap_or_default() {
            BlockId::Tag(tag) => Ok(Some(self.block_number_for_tag(Some(tag)))),
            BlockId::Hash(hash) => self.number_of_hash(&hash),
        }
    }
}

impl BlockIdReader for Chain {
    fn head_number(&self) -> u64 {
        self.head().1.number
    }

    fn number_of_hash(&self, hash: &B256) -> strata_chain::Result<Option<u64>> {
        self.store().number_of(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain at height 7 whose block 3 has hash `0x…03`.
    struct Fake;

    impl BlockIdReader for Fake {
        fn head_number(&self) -> u64 {
            7
        }

        fn number_of_hash(&self, hash: &B256) -> strata_chain::Result<Option<u64>> {
            Ok((*hash == B256::with_last_byte(3)).then_some(3))
        }
    }

    #[test]
    fn tags_numbers_and_hashes_name_heights() {
        let tag = |t| Fake.block_number_for_tag(t);
        assert_eq!(tag(None), 7, "the default is latest");
        assert_eq!(tag(Some(BlockTag::Latest)), 7);
        assert_eq!(tag(Some(BlockTag::Pending)), 7);
        assert_eq!(tag(Some(BlockTag::Earliest)), 0);
        assert_eq!(tag(Some(BlockTag::Number(9))), 9, "numbers past the head are the caller's to refuse");
        let id = |i| Fake.block_number_for_id(i).unwrap();
        assert_eq!(id(None), Some(7));
        assert_eq!(id(Some(BlockId::Tag(BlockTag::Earliest))), Some(0));
        assert_eq!(id(Some(BlockId::Hash(B256::with_last_byte(3)))), Some(3));
        assert_eq!(id(Some(BlockId::Hash(B256::with_last_byte(4)))), None, "an unknown hash names no block");
    }
}
