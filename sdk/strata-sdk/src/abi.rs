//! Solidity-ABI coding of the types contract functions, events and errors use most
//! (`address`, `bool`, `bytes32`, `uintN`, `intN`, `string`, `bytes`), written for size.
//!
//! Why not only `alloy-sol-types`: its generic token machinery, and the panic paths
//! its slicing brings with them (which link `core::fmt`), cost a small contract most of
//! its size — a counter was 21 KiB. This coder is a handful of small, non-generic
//! functions that never panic: malformed input gives `None`, which the macros turn
//! into a revert. `#[contract]`, `#[event]` and `#[error]` use it whenever every type
//! involved is one of these; anything else (arrays, tuples, structs) goes through
//! `alloy-sol-types`. The two agree byte for byte (property tests below compare them).
//!
//! Decoding is strict like Solidity's: a word whose unused bits are not clean
//! (an `address` with high bytes set, a `bool` of 2, a `uint8` above 255, an `int8`
//! not sign-extended) is refused.

use alloc::{string::String, vec::Vec};

use alloy_primitives::{Address, B256, Bytes, I256, U256};

/// One 32-byte ABI word.
pub type Word = [u8; 32];

/// A type this module codes.
pub trait AbiType: Sized {
    /// Dynamic (`string`, `bytes`): an offset in the head, the body in the tail.
    const DYNAMIC: bool;
    /// Appends the encoding: the head word of a static type, the body (length word and
    /// padded bytes) of a dynamic one.
    fn encode(&self, out: &mut Vec<u8>);
    /// Decodes the value whose head word is at `head` in `data` (a whole parameter
    /// sequence: offsets are relative to its start).
    fn decode(data: &[u8], head: usize) -> Option<Self>;
    /// The event topic of an indexed field: the word of a static value, the keccak-256
    /// of a dynamic value's bytes.
    fn topic(&self) -> Word;
}

/// The word at `at`, if `data` holds it.
pub fn word_at(data: &[u8], at: usize) -> Option<&Word> {
    data.get(at..at.checked_add(32)?)?.try_into().ok()
}

/// A `usize` as a word (offsets and lengths).
pub fn usize_word(n: usize) -> Word {
    let mut w = [0u8; 32];
    let b = (n as u64).to_be_bytes();
    w[24..].copy_from_slice(&b);
    w
}

/// The `usize` in a word, if it fits in 32 bits (offsets and lengths: larger ones
/// cannot point inside any input a contract can get).
fn word_usize(w: &Word) -> Option<usize> {
    if w[..28].iter().any(|b| *b != 0) {
        return None;
    }
    Some(u32::from_be_bytes([w[28], w[29], w[30], w[31]]) as usize)
}

/// A big-endian word as a `U256`, a limb (8 bytes) at a time: every transfer's fee
/// passes through here, so this is written for speed before size.
pub fn word_to_u256(w: &Word) -> U256 {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().rev().zip(w.chunks_exact(8)) {
        *limb = u64::from_be_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default());
    }
    U256::from_limbs(limbs)
}

/// A `U256` as a big-endian word, a limb at a time.
pub fn u256_to_word(v: &U256) -> Word {
    let mut w = [0u8; 32];
    for (chunk, limb) in w.chunks_exact_mut(8).zip(v.as_limbs().iter().rev()) {
        chunk.copy_from_slice(&limb.to_be_bytes());
    }
    w
}

/// Appends `bytes` as a dynamic body: the length word, then the bytes zero-padded to a
/// whole number of words.
pub fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&usize_word(bytes.len()));
    out.extend_from_slice(bytes);
    let pad = (32 - bytes.len() % 32) % 32;
    out.resize(out.len() + pad, 0);
}

/// The bytes of the dynamic value whose head word (its offset) is at `head`.
fn decode_bytes(data: &[u8], head: usize) -> Option<&[u8]> {
    let offset = word_usize(word_at(data, head)?)?;
    let len = word_usize(word_at(data, offset)?)?;
    let start = offset.checked_add(32)?;
    data.get(start..start.checked_add(len)?)
}

fn keccak(data: &[u8]) -> Word {
    crate::host::keccak(data).0
}

macro_rules! static_type {
    ($t:ty, |$v:ident| $to:expr, |$w:ident| $from:expr) => {
        impl AbiType for $t {
            const DYNAMIC: bool = false;
            fn encode(&self, out: &mut Vec<u8>) {
                let $v = self;
                out.extend_from_slice(&$to);
            }
            fn decode(data: &[u8], head: usize) -> Option<Self> {
                let $w = word_at(data, head)?;
                $from
            }
            fn topic(&self) -> Word {
                let $v = self;
                $to
            }
        }
    };
}

static_type!(U256, |v| u256_to_word(v), |w| Some(word_to_u256(w)));
static_type!(I256, |v| u256_to_word(&v.into_raw()), |w| Some(I256::from_raw(word_to_u256(w))));
static_type!(B256, |v| v.0, |w| Some(B256::from(*w)));
static_type!(
    Address,
    |v| {
        let mut w = [0u8; 32];
        w[12..].copy_from_slice(v.as_slice());
        w
    },
    |w| {
        if w[..12].iter().any(|b| *b != 0) {
            return None;
        }
        let mut a = [0u8; 20];
        a.copy_from_slice(&w[12..]);
        Some(Address::from(a))
    }
);
static_type!(bool, |v| usize_word(usize::from(*v)), |w| match word_usize(w)? {
    0 => Some(false),
    1 => Some(true),
    _ => None,
});

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        static_type!($t, |v| {
            let mut w = [0u8; 32];
            let b = v.to_be_bytes();
            w[32 - b.len()..].copy_from_slice(&b);
            w
        }, |w| {
            const N: usize = core::mem::size_of::<$t>();
            if w[..32 - N].iter().any(|b| *b != 0) {
                return None;
            }
            let mut b = [0u8; N];
            b.copy_from_slice(&w[32 - N..]);
            Some(<$t>::from_be_bytes(b))
        });
    )*};
}

macro_rules! signed {
    ($($t:ty),*) => {$(
        static_type!($t, |v| {
            let mut w = if *v < 0 { [0xff; 32] } else { [0u8; 32] };
            let b = v.to_be_bytes();
            w[32 - b.len()..].copy_from_slice(&b);
            w
        }, |w| {
            const N: usize = core::mem::size_of::<$t>();
            let mut b = [0u8; N];
            b.copy_from_slice(&w[32 - N..]);
            let v = <$t>::from_be_bytes(b);
            let fill = if v < 0 { 0xff } else { 0 };
            if w[..32 - N].iter().any(|b| *b != fill) {
                return None;
            }
            Some(v)
        });
    )*};
}

unsigned!(u8, u16, u32, u64, u128);
signed!(i8, i16, i32, i64, i128);

impl AbiType for String {
    const DYNAMIC: bool = true;
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(self.as_bytes(), out);
    }
    fn decode(data: &[u8], head: usize) -> Option<Self> {
        core::str::from_utf8(decode_bytes(data, head)?).ok().map(String::from)
    }
    fn topic(&self) -> Word {
        keccak(self.as_bytes())
    }
}

impl AbiType for Bytes {
    const DYNAMIC: bool = true;
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(self, out);
    }
    fn decode(data: &[u8], head: usize) -> Option<Self> {
        Some(Bytes::copy_from_slice(decode_bytes(data, head)?))
    }
    fn topic(&self) -> Word {
        keccak(self)
    }
}

/// Encodes a parameter sequence: `Encoder::new(n)`, then [`Encoder::push`] each of the
/// `n` values in order, then [`Encoder::finish`].
pub struct Encoder {
    head: Vec<u8>,
    tail: Vec<u8>,
    /// Where the sequence starts in `head` (after a selector, say).
    base: usize,
    /// Size of the sequence's head (offsets of dynamic values count from its start).
    head_size: usize,
}

impl Encoder {
    /// A sequence of `n` values.
    pub fn new(n: usize) -> Self {
        Self::with_prefix(&[], n)
    }

    /// A sequence of `n` values after `prefix` (an error's selector).
    pub fn with_prefix(prefix: &[u8], n: usize) -> Self {
        let head_size = n.saturating_mul(32);
        let mut head = Vec::with_capacity(prefix.len().saturating_add(head_size));
        head.extend_from_slice(prefix);
        Self { head, tail: Vec::new(), base: prefix.len(), head_size }
    }

    /// The next value.
    pub fn push<T: AbiType>(&mut self, value: &T) {
        if T::DYNAMIC {
            self.head.extend_from_slice(&usize_word(self.head_size + self.tail.len()));
            value.encode(&mut self.tail);
        } else {
            value.encode(&mut self.head);
        }
    }

    /// The encoding.
    pub fn finish(mut self) -> Vec<u8> {
        debug_assert_eq!(self.head.len() - self.base, self.head_size, "as many values pushed as declared");
        self.head.extend_from_slice(&self.tail);
        self.head
    }
}

/// Decodes parameter `index` (its head word at `32 × index`) of a sequence.
pub fn arg<T: AbiType>(data: &[u8], index: usize) -> Option<T> {
    T::decode(data, index.checked_mul(32)?)
}

/// `Error(string)` revert data, as Solidity's `revert("…")` makes.
pub fn error_string(message: &str) -> Vec<u8> {
    error_bytes(message.as_bytes())
}

/// [`error_string`] of a message given as (UTF-8) bytes.
pub fn error_bytes(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 64 + message.len() + 32);
    out.extend_from_slice(&[0x08, 0xc3, 0x79, 0xa0]);
    out.extend_from_slice(&usize_word(32));
    encode_bytes(message, &mut out);
    out
}

#[cfg(test)]
mod tests {
    //! Differential tests: every value encodes as `alloy-sol-types` encodes it, and
    //! decodes back; clean-bit violations are refused where Solidity refuses them.
    use super::*;
    use alloy_sol_types::{SolError, SolValue, sol_data};

    /// A tiny deterministic generator (seeded; the seed is in the test name's output).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn bytes(&mut self, max: usize) -> Vec<u8> {
            let n = (self.next() as usize) % (max + 1);
            (0..n).map(|_| self.next() as u8).collect()
        }
        fn word(&mut self) -> Word {
            let mut w = [0u8; 32];
            for b in w.iter_mut() {
                *b = self.next() as u8;
            }
            w
        }
    }

    #[test]
    fn sequences_encode_and_decode_like_alloy() {
        let mut rng = Rng(0x5eed_ab1c);
        for _ in 0..500 {
            let a = Address::from_slice(&rng.word()[12..]);
            let u = word_to_u256(&rng.word());
            let i = I256::from_raw(word_to_u256(&rng.word()));
            let s = String::from_utf8_lossy(&rng.bytes(70)).into_owned();
            let flag = rng.next() & 1 == 0;
            let small = rng.next() as u8;
            let neg = rng.next() as i64;
            let b = Bytes::from(rng.bytes(100));
            let h = B256::from(rng.word());
            let wide = (u128::from(rng.next()) << 64) | u128::from(rng.next());

            let mut e = Encoder::new(10);
            e.push(&a);
            e.push(&s);
            e.push(&u);
            e.push(&flag);
            e.push(&b);
            e.push(&small);
            e.push(&neg);
            e.push(&i);
            e.push(&h);
            e.push(&wide);
            let ours = e.finish();
            type Seq = (
                sol_data::Address,
                sol_data::String,
                sol_data::Uint<256>,
                sol_data::Bool,
                sol_data::Bytes,
                sol_data::Uint<8>,
                sol_data::Int<64>,
                sol_data::Int<256>,
                sol_data::FixedBytes<32>,
                sol_data::Uint<128>,
            );
            let theirs = <Seq as alloy_sol_types::SolType>::abi_encode_params(&(a, s.clone(), u, flag, b.clone(), small, neg, i, h, wide));
            assert_eq!(ours, theirs);

            assert_eq!(arg::<Address>(&ours, 0), Some(a));
            assert_eq!(arg::<String>(&ours, 1), Some(s.clone()));
            assert_eq!(arg::<U256>(&ours, 2), Some(u));
            assert_eq!(arg::<bool>(&ours, 3), Some(flag));
            assert_eq!(arg::<Bytes>(&ours, 4), Some(b.clone()));
            assert_eq!(arg::<u8>(&ours, 5), Some(small));
            assert_eq!(arg::<i64>(&ours, 6), Some(neg));
            assert_eq!(arg::<I256>(&ours, 7), Some(i));
            assert_eq!(arg::<B256>(&ours, 8), Some(h));
            assert_eq!(arg::<u128>(&ours, 9), Some(wide));
            assert_eq!(error_string(&s), alloy_sol_types::Revert { reason: s.clone() }.abi_encode());
            assert_eq!(a.topic(), a.abi_encode().as_slice());
            assert_eq!(u.topic(), u.abi_encode().as_slice());
        }
    }

    #[test]
    fn unclean_words_and_out_of_range_offsets_are_refused() {
        let mut dirty_address = [0u8; 32];
        dirty_address[0] = 1;
        assert_eq!(arg::<Address>(&dirty_address, 0), None);
        assert_eq!(arg::<bool>(&usize_word(2), 0), None);
        assert_eq!(arg::<u8>(&usize_word(256), 0), None);
        assert_eq!(arg::<u8>(&usize_word(255), 0), Some(255));
        // -1 as int8 is sign-extended; 0xff without the extension is not an int8.
        assert_eq!(arg::<i8>(&[0xff; 32], 0), Some(-1));
        assert_eq!(arg::<i8>(&usize_word(0xff), 0), None);
        // A string whose offset or length points past the data.
        assert_eq!(arg::<String>(&usize_word(64), 0), None);
        let mut data = usize_word(32).to_vec();
        data.extend_from_slice(&usize_word(1_000));
        assert_eq!(arg::<String>(&data, 0), None);
        let mut huge = usize_word(32).to_vec();
        huge.extend_from_slice(&[0xff; 32]);
        assert_eq!(arg::<Bytes>(&huge, 0), None);
        // Too short for the head.
        assert_eq!(arg::<U256>(&[0u8; 31], 0), None);
        assert_eq!(arg::<U256>(&[0u8; 64], usize::MAX), None);
    }
}
