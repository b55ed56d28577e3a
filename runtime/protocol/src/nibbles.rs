//! Nibble paths and Ethereum's hex-prefix encoding (trie paths).

use alloc::vec::Vec;

/// Splits bytes into nibbles (high first).
pub fn unpack(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(b >> 4);
        out.push(b & 0x0f);
    }
    out
}

/// Hex-prefix encoding of a nibble path (Yellow Paper appendix C).
pub fn hex_prefix(path: &[u8], leaf: bool) -> Vec<u8> {
    let odd = path.len() % 2 == 1;
    let flag = (if leaf { 2 } else { 0 }) + u8::from(odd);
    let mut out = Vec::with_capacity(path.len() / 2 + 1);
    let rest = if odd {
        out.push((flag << 4) | path[0]);
        &path[1..]
    } else {
        out.push(flag << 4);
        path
    };
    for pair in rest.chunks(2) {
        out.push((pair[0] << 4) | pair[1]);
    }
    out
}

/// Decodes a hex-prefix path: `(nibbles, is_leaf)`, or `None` if malformed.
pub fn decode_hex_prefix(bytes: &[u8]) -> Option<(Vec<u8>, bool)> {
    let first = *bytes.first()?;
    let flag = first >> 4;
    if flag > 3 {
        return None;
    }
    let leaf = flag & 2 != 0;
    let odd = flag & 1 != 0;
    if !odd && first & 0x0f != 0 {
        return None;
    }
    let mut path = Vec::with_capacity(bytes.len() * 2);
    if odd {
        path.push(first & 0x0f);
    }
    path.extend(unpack(&bytes[1..]));
    Some((path, leaf))
}

/// Length of the common prefix of two paths.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_prefix_matches_the_yellow_paper_examples() {
        assert_eq!(hex_prefix(&[1, 2, 3, 4, 5], false), vec![0x11, 0x23, 0x45]);
        assert_eq!(hex_prefix(&[0, 1, 2, 3, 4, 5], false), vec![0x00, 0x01, 0x23, 0x45]);
        assert_eq!(hex_prefix(&[0x0f, 1, 0x0c, 0x0b, 8], true), vec![0x3f, 0x1c, 0xb8]);
        assert_eq!(hex_prefix(&[0, 0x0f, 1, 0x0c, 0x0b, 8], true), vec![0x20, 0x0f, 0x1c, 0xb8]);
        for (p, leaf) in [(vec![], true), (vec![1], false), (vec![1, 2], true)] {
            assert_eq!(decode_hex_prefix(&hex_prefix(&p, leaf)), Some((p, leaf)));
        }
        assert_eq!(decode_hex_prefix(&[0x01]), None);
        assert_eq!(decode_hex_prefix(&[0x40]), None);
    }
}
