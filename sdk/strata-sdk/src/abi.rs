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
    /// What [`encode`] takes: the word of a static value, the bytes of a dynamic one.
    fn value(&self) -> Value<'_>;
    /// Decodes the value whose head word is at `head` in `data` (a whole parameter
    /// sequence: offsets are relative to its start).
    fn decode(data: &[u8], head: usize) -> Option<Self>;
    /// The event topic of an indexed field: the word of a static value, the keccak-256
    /// of a dynamic value's bytes.
    fn topic(&self) -> Word {
        match self.value() {
            Value::Word(w) => w,
            Value::Bytes(b) => keccak(b),
        }
    }
}

/// One value of a sequence to [`encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A static value's head word.
    Word(Word),
    /// A dynamic value's bytes (`string`, `bytes`): an offset in the head, then the
    /// length and the zero-padded bytes in the tail.
    Bytes(&'a [u8]),
}

/// `prefix` (a selector, or nothing) followed by the ABI encoding of the parameter
/// sequence `values`, built in one allocation of the exact size (no growth code in
/// the module: this is what every return value, event and error goes through).
#[inline(never)]
pub fn encode(prefix: &[u8], values: &[Value<'_>]) -> Vec<u8> {
    // Saturating sizes: a sum that would wrap fails the allocation instead.
    let head = values.len().saturating_mul(32);
    let mut total = prefix.len().saturating_add(head);
    for v in values {
        if let Value::Bytes(b) = v {
            total = total.saturating_add(padded(b.len()).saturating_add(32));
        }
    }
    let mut out = buffer(total);
    let base = out.as_mut_ptr();
    // SAFETY: every write is inside the `total` bytes allocated: the prefix, one head
    // word per value, and per dynamic value its length word and padded bytes, exactly as
    // summed above (so no sum below wraps); the padding is zeroed, so all `total` bytes
    // are initialised.
    unsafe {
        core::ptr::copy_nonoverlapping(prefix.as_ptr(), base, prefix.len());
        let (mut at, mut tail) = (base.add(prefix.len()), base.add(prefix.len()).add(head));
        for v in values {
            match v {
                Value::Word(w) => core::ptr::copy_nonoverlapping(w.as_ptr(), at, 32),
                Value::Bytes(b) => {
                    put_len(at, tail.offset_from(base.add(prefix.len())) as usize);
                    put_len(tail, b.len());
                    core::ptr::copy_nonoverlapping(b.as_ptr(), tail.add(32), b.len());
                    let padding = padded(b.len()).wrapping_sub(b.len());
                    core::ptr::write_bytes(tail.add(32).add(b.len()), 0, padding);
                    tail = tail.add(32).add(b.len()).add(padding);
                }
            }
            at = at.add(32);
        }
        out.set_len(total);
    }
    out
}

/// Writes the word of `n` (an offset or a length, below 2^32) at `dst`.
///
/// # Safety
/// `dst` is valid for 32 bytes.
#[inline(never)]
unsafe fn put_len(dst: *mut u8, n: usize) {
    // SAFETY: the caller's contract.
    unsafe {
        core::ptr::write_bytes(dst, 0, 28);
        core::ptr::copy_nonoverlapping((n as u32).to_be_bytes().as_ptr(), dst.add(28), 4);
    }
}

/// Copies `src` into `dst` (as many bytes as the shorter has): `copy_from_slice` without
/// its length-mismatch panic, whose location would cost every module a file path.
pub fn fill(dst: &mut [u8], src: &[u8]) {
    let n = dst.len().min(src.len());
    // SAFETY: `n` bytes are valid in both; a `&mut` and a `&` never overlap.
    unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr(), n) }
}

/// A copy of `bytes` (`to_vec`, through the SDK's one allocation site).
pub fn copy(bytes: &[u8]) -> Vec<u8> {
    concat(bytes, &[])
}

/// `a` followed by `b`, in one allocation.
#[inline(never)]
pub fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let total = a.len().saturating_add(b.len());
    let mut out = buffer(total);
    // SAFETY: `total` bytes allocated, `a.len() + b.len()` written (no wrap: both are slices in memory).
    unsafe {
        core::ptr::copy_nonoverlapping(a.as_ptr(), out.as_mut_ptr(), a.len());
        core::ptr::copy_nonoverlapping(b.as_ptr(), out.as_mut_ptr().add(a.len()), b.len());
        out.set_len(total);
    }
    out
}

/// `bytes` as a `String` if they are valid UTF-8.
pub fn utf8_string(bytes: &[u8]) -> Option<String> {
    // SAFETY: checked to be UTF-8 just before.
    is_utf8(bytes).then(|| unsafe { String::from_utf8_unchecked(copy(bytes)) })
}

/// Whether `b` is valid UTF-8, deciding exactly as `core::str::from_utf8` does (a test
/// compares them) in a tenth of its code: its fast ASCII paths cost a contract 700 bytes.
pub fn is_utf8(b: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&lead) = b.get(i) {
        // Continuation bytes after the lead, and the smallest code point that needs them.
        let (n, min) = match lead {
            0x00..=0x7f => {
                i += 1;
                continue;
            }
            0xc2..=0xdf => (1, 0x80),
            0xe0..=0xef => (2, 0x800),
            0xf0..=0xf4 => (3, 0x1_0000),
            _ => return false,
        };
        let mut cp = u32::from(lead & (0x3f >> n));
        for k in 1..=n {
            match b.get(i.wrapping_add(k)) {
                Some(&c) if c & 0xc0 == 0x80 => cp = cp << 6 | u32::from(c & 0x3f),
                _ => return false,
            }
        }
        if cp < min || cp > 0x10_ffff || (0xd800..=0xdfff).contains(&cp) {
            return false;
        }
        i = i.wrapping_add(n + 1);
    }
    true
}

/// An empty vector with room for exactly `n` bytes (not inlined: one allocation site).
#[inline(never)]
pub(crate) fn buffer(n: usize) -> Vec<u8> {
    Vec::with_capacity(n)
}

/// `n` rounded up to whole words.
fn padded(n: usize) -> usize {
    n.div_ceil(32).saturating_mul(32)
}

/// The word at `at`, if `data` holds it.
pub fn word_at(data: &[u8], at: usize) -> Option<&Word> {
    data.get(at..at.checked_add(32)?)?.try_into().ok()
}

/// A `usize` as a word (offsets and lengths).
#[inline(never)]
pub fn usize_word(n: usize) -> Word {
    uint_word(&(n as u64).to_be_bytes())
}

/// A big-endian unsigned integer of up to 32 bytes as a word.
#[inline(never)]
fn uint_word(be: &[u8]) -> Word {
    let mut w = [0u8; 32];
    let start = 32usize.saturating_sub(be.len());
    for (d, b) in w.iter_mut().skip(start).zip(be) {
        *d = *b;
    }
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
#[inline(never)]
pub fn word_to_u256(w: &Word) -> U256 {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().rev().zip(w.chunks_exact(8)) {
        *limb = u64::from_be_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default());
    }
    U256::from_limbs(limbs)
}

/// A `U256` as a big-endian word, a limb at a time.
#[inline(never)]
pub fn u256_to_word(v: &U256) -> Word {
    let mut w = [0u8; 32];
    for (chunk, limb) in w.chunks_exact_mut(8).zip(v.as_limbs().iter().rev()) {
        fill(chunk, &limb.to_be_bytes());
    }
    w
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
            fn value(&self) -> Value<'_> {
                let $v = self;
                Value::Word($to)
            }
            fn decode(data: &[u8], head: usize) -> Option<Self> {
                let $w = word_at(data, head)?;
                $from
            }
        }
    };
}

static_type!(U256, |v| u256_to_word(v), |w| Some(word_to_u256(w)));
static_type!(I256, |v| u256_to_word(&v.into_raw()), |w| Some(I256::from_raw(word_to_u256(w))));
static_type!(B256, |v| v.0, |w| Some(B256::from(*w)));
static_type!(Address, |v| uint_word(v.as_slice()), |w| {
    if w[..12].iter().any(|b| *b != 0) {
        return None;
    }
    let mut a = [0u8; 20];
    fill(&mut a, &w[12..]);
    Some(Address::from(a))
});
static_type!(bool, |v| uint_word(&[u8::from(*v)]), |w| match word_usize(w)? {
    0 => Some(false),
    1 => Some(true),
    _ => None,
});

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        static_type!($t, |v| uint_word(&v.to_be_bytes()), |w| {
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
    fn value(&self) -> Value<'_> {
        Value::Bytes(self.as_bytes())
    }
    fn decode(data: &[u8], head: usize) -> Option<Self> {
        utf8_string(decode_bytes(data, head)?)
    }
}

impl AbiType for Bytes {
    const DYNAMIC: bool = true;
    fn value(&self) -> Value<'_> {
        Value::Bytes(self)
    }
    fn decode(data: &[u8], head: usize) -> Option<Self> {
        Some(Bytes::copy_from_slice(decode_bytes(data, head)?))
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
    encode(&[0x08, 0xc3, 0x79, 0xa0], &[Value::Bytes(message)])
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

            let values =
                [a.value(), s.value(), u.value(), flag.value(), b.value(), small.value(), neg.value(), i.value(), h.value(), wide.value()];
            let ours = encode(&[], &values);
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

    #[test]
    fn utf8_validation_decides_as_core_does() {
        let agree = |b: &[u8]| assert_eq!(is_utf8(b), core::str::from_utf8(b).is_ok(), "{b:02x?}");
        // Every sequence of one and two bytes, every three-byte one with a lead above 0x7f.
        for a in 0..=255u8 {
            agree(&[a]);
            for b in 0..=255u8 {
                agree(&[a, b]);
                if a >= 0xc0 {
                    for c in 0..=255u8 {
                        agree(&[a, b, c]);
                    }
                }
            }
        }
        // Four-byte sequences around every boundary, and random mixes (seeded).
        for lead in 0xf0..=0xf5u8 {
            for b in 0x80..=0xc0u8 {
                for c in [0x7f, 0x80, 0xbf, 0xc0] {
                    for d in [0x7f, 0x80, 0xbf, 0xc0] {
                        agree(&[lead, b, c, d]);
                    }
                }
            }
        }
        let mut rng = Rng(0x0075_7466);
        for _ in 0..20_000 {
            let mut v = rng.bytes(12);
            if rng.next().is_multiple_of(2) {
                v.extend_from_slice("é€😀a".as_bytes());
                let by = rng.next() as usize % v.len();
                v.rotate_left(by);
            }
            agree(&v);
        }
    }
}
