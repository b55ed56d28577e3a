//! Files as 1 KiB segments under a Merkle root, and the challenges a storage provider
//! answers: what a storage deal commits to and how a storage proof is checked.
//!
//! Why here: the client computes the root when it opens a deal, the provider (`strata
//! provider`) builds the paths, and the proof contract checks them inside Wasm. One
//! definition, or a provider's honest proof could fail against a contract that hashes
//! differently.
//!
//! **Segments.** A file of `size` bytes (at least 1) is cut into `⌈size / 1024⌉`
//! segments of [`SEGMENT_SIZE`] bytes, the last one shorter when `size` is not a
//! multiple; nothing is padded. 1 KiB rather than 64 bytes: a proof carries whole
//! segments, and with 1 KiB the path (⌈log₂ n⌉ × 32 bytes) stays a small part of it
//! while a file of 1 GiB is still only 2²⁰ leaves (20 hashes per path).
//!
//! **Tree.** Leaf `i` is `keccak256(0x00 ‖ segment_i)`, an inner node
//! `keccak256(0x01 ‖ left ‖ right)` (distinct prefixes: no leaf can pass for a node,
//! RFC 6962's rule). Levels are built pairwise from the left; a node without a right
//! sibling moves up unchanged. The root of one segment is its leaf.
//!
//! **Challenges.** For deal `d`, window `w` and a seed the provider cannot choose (the
//! proof chain's block hash before the window starts), challenge `j` is segment
//! `keccak256("strata/storage/challenge/v1" ‖ seed ‖ d ‖ w ‖ j) mod n`, big-endian
//! integers of 8, 4 and 4 bytes.

use alloc::vec::Vec;

use alloy_primitives::{B256, U256, keccak256};

/// Bytes per segment.
pub const SEGMENT_SIZE: u64 = 1024;

/// Domain tag of [`challenge`].
pub const CHALLENGE_DOMAIN: &[u8] = b"strata/storage/challenge/v1";

/// Most challenges one proof may be asked to answer.
pub const MAX_CHALLENGES: u32 = 32;

/// How many segments a file of `size` bytes has (0 for an empty file).
pub fn segment_count(size: u64) -> u64 {
    size.div_ceil(SEGMENT_SIZE)
}

/// The length segment `index` of a `size`-byte file must have (0: no such segment).
pub fn segment_len(size: u64, index: u64) -> u64 {
    let start = index.saturating_mul(SEGMENT_SIZE);
    size.saturating_sub(start).min(SEGMENT_SIZE)
}

/// The leaf of one segment.
pub fn leaf(segment: &[u8]) -> B256 {
    let mut buf = Vec::with_capacity(segment.len() + 1);
    buf.push(0);
    buf.extend_from_slice(segment);
    keccak256(buf)
}

fn node(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = 1;
    buf[1..33].copy_from_slice(left.as_slice());
    buf[33..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

fn leaves(data: &[u8]) -> Vec<B256> {
    data.chunks(SEGMENT_SIZE as usize).map(leaf).collect()
}

fn up(level: &[B256]) -> Vec<B256> {
    level.chunks(2).map(|pair| if let [l, r] = pair { node(l, r) } else { pair[0] }).collect()
}

/// The Merkle root of `data` (non-empty).
pub fn merkle_root(data: &[u8]) -> B256 {
    let mut level = leaves(data);
    while level.len() > 1 {
        level = up(&level);
    }
    level.first().copied().unwrap_or(B256::ZERO)
}

/// The sibling hashes from segment `index`'s leaf to the root, bottom up (levels where
/// the node has no sibling contribute none).
pub fn merkle_path(data: &[u8], index: u64) -> Vec<B256> {
    let mut level = leaves(data);
    let mut i = usize::try_from(index).unwrap_or(usize::MAX);
    let mut path = Vec::new();
    while level.len() > 1 {
        let sibling = i ^ 1;
        if let Some(s) = level.get(sibling) {
            path.push(*s);
        }
        level = up(&level);
        i /= 2;
    }
    path
}

/// Whether `segment` is segment `index` of the `size`-byte file whose root is `root`,
/// by `path` ([`merkle_path`]): its length must be the one the size gives. The root
/// does not commit to the size: a deal records both, and a provider checks the pair
/// against the file before it accepts the deal.
pub fn verify_segment(root: &B256, size: u64, index: u64, segment: &[u8], path: &[B256]) -> bool {
    let count = segment_count(size);
    if index >= count || segment.len() as u64 != segment_len(size, index) {
        return false;
    }
    let (mut hash, mut i, mut width, mut next) = (leaf(segment), index, count, 0usize);
    while width > 1 {
        let sibling = i ^ 1;
        if sibling < width {
            let Some(s) = path.get(next) else { return false };
            next += 1;
            hash = if i % 2 == 0 { node(&hash, s) } else { node(s, &hash) };
        }
        i /= 2;
        width = width.div_ceil(2);
    }
    next == path.len() && &hash == root
}

/// The answer to a challenge from the file itself: segment `i` of `data` for each of
/// `indices` (in order, repeats kept) and its Merkle path. Indices past the file give
/// empty segments (which [`verify_segment`] refuses).
pub fn window_proof(data: &[u8], indices: &[u64]) -> (Vec<Vec<u8>>, Vec<Vec<B256>>) {
    let size = data.len() as u64;
    let segments = indices
        .iter()
        .map(|&i| {
            let start = usize::try_from(i.saturating_mul(SEGMENT_SIZE)).unwrap_or(usize::MAX).min(data.len());
            let len = usize::try_from(segment_len(size, i)).unwrap_or(0);
            data[start..start.saturating_add(len).min(data.len())].to_vec()
        })
        .collect();
    (segments, indices.iter().map(|&i| merkle_path(data, i)).collect())
}

/// Challenge `j` of deal `deal`, window `window`, for a file of `count` segments.
pub fn challenge(seed: &B256, deal: u64, window: u32, j: u32, count: u64) -> u64 {
    let mut buf = Vec::with_capacity(CHALLENGE_DOMAIN.len() + 48);
    buf.extend_from_slice(CHALLENGE_DOMAIN);
    buf.extend_from_slice(seed.as_slice());
    buf.extend_from_slice(&deal.to_be_bytes());
    buf.extend_from_slice(&window.to_be_bytes());
    buf.extend_from_slice(&j.to_be_bytes());
    let word = U256::from_be_bytes(keccak256(buf).0);
    if count == 0 {
        return 0;
    }
    (word % U256::from(count)).to::<u64>()
}

/// The `k` challenged segments of a window.
pub fn challenges(seed: &B256, deal: u64, window: u32, k: u32, count: u64) -> Vec<u64> {
    (0..k).map(|j| challenge(seed, deal, window, j, count)).collect()
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    fn file(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 1024) as u8).collect()
    }

    #[test]
    fn every_segment_of_every_shape_verifies_and_nothing_else_does() {
        for len in [1usize, 1023, 1024, 1025, 2048, 3 * 1024 + 5, 5 * 1024, 7 * 1024 + 1, 16 * 1024] {
            let data = file(len);
            let (root, size) = (merkle_root(&data), len as u64);
            let count = segment_count(size);
            for i in 0..count {
                let seg = &data[(i * 1024) as usize..((i * 1024) as usize + segment_len(size, i) as usize)];
                let path = merkle_path(&data, i);
                assert!(verify_segment(&root, size, i, seg, &path), "len {len} segment {i}");
                // Altered byte, wrong index, wrong size, truncated or extended path: refused.
                let mut bad = seg.to_vec();
                bad[0] ^= 1;
                assert!(!verify_segment(&root, size, i, &bad, &path));
                if count > 1 {
                    assert!(!verify_segment(&root, size, (i + 1) % count, seg, &path), "len {len} segment {i}");
                    assert!(!verify_segment(&root, size, i, seg, &path[..path.len() - 1]));
                }
                let mut longer = path.clone();
                longer.push(B256::ZERO);
                assert!(!verify_segment(&root, size, i, seg, &longer));
            }
            assert!(!verify_segment(&root, size, count, &[], &[]));
        }
    }

    #[test]
    fn a_window_proof_from_the_file_verifies_and_past_the_end_is_empty() {
        let data = file(3 * 1024 + 9);
        let root = merkle_root(&data);
        let (segs, paths) = window_proof(&data, &[3, 0, 3, 9]);
        for (j, i) in [3u64, 0, 3].into_iter().enumerate() {
            assert!(verify_segment(&root, data.len() as u64, i, &segs[j], &paths[j]));
        }
        assert_eq!(segs[0].len(), 9);
        assert!(segs[3].is_empty());
        assert!(!verify_segment(&root, data.len() as u64, 9, &segs[3], &paths[3]));
    }

    #[test]
    fn the_tree_is_the_documented_one() {
        // Three segments: root = node(node(l0, l1), l2).
        let data = file(2 * 1024 + 10);
        let l: Vec<B256> = data.chunks(1024).map(leaf).collect();
        assert_eq!(merkle_root(&data), node(&node(&l[0], &l[1]), &l[2]));
        assert_eq!(merkle_path(&data, 2), vec![node(&l[0], &l[1])]);
        assert_eq!(leaf(b"x"), keccak256([0u8, b'x']));
        assert_eq!(merkle_root(b"x"), leaf(b"x"));
    }

    #[test]
    fn challenges_depend_on_every_input_and_stay_in_range() {
        let seed = B256::repeat_byte(9);
        let base = challenges(&seed, 1, 2, 8, 1000);
        assert!(base.iter().all(|c| *c < 1000));
        assert_ne!(base, challenges(&B256::repeat_byte(8), 1, 2, 8, 1000));
        assert_ne!(base, challenges(&seed, 2, 2, 8, 1000));
        assert_ne!(base, challenges(&seed, 1, 3, 8, 1000));
        assert_eq!(challenges(&seed, 1, 2, 3, 1), vec![0, 0, 0]);
    }
}
