//! Typed contract storage.
//!
//! Storage is a map from byte-string keys to byte-string values (`docs/abi.md`).
//! [`StorageValue`] and [`StorageMap`] put typed values under fixed key prefixes;
//! [`IterableMap`] adds an index so its entries can be listed page by page.
//! Integers are stored as minimal big-endian bytes — as Ethereum stores words — so
//! `eth_getStorageAt` and `eth_getProof` show them as Ethereum clients expect.

use alloc::{string::String, vec::Vec};
use core::marker::PhantomData;

use alloy_primitives::{Address, B256, U256};

use crate::host;

/// How a type is stored.
pub trait Codec: Sized {
    /// Bytes to store (empty = "absent": removes the key).
    fn encode(&self) -> Vec<u8>;
    /// The value from stored bytes (`None` if they are not a valid encoding).
    fn decode(bytes: &[u8]) -> Option<Self>;
}

impl Codec for U256 {
    fn encode(&self) -> Vec<u8> {
        let word = crate::abi::u256_to_word(self);
        let first = word.iter().position(|b| *b != 0).unwrap_or(32);
        crate::abi::copy(word.get(first..).unwrap_or_default())
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > 32 {
            return None;
        }
        let mut word = [0u8; 32];
        for (w, b) in word.iter_mut().skip(32 - bytes.len()).zip(bytes) {
            *w = *b;
        }
        Some(crate::abi::word_to_u256(&word))
    }
}

impl Codec for u64 {
    fn encode(&self) -> Vec<u8> {
        let b = self.to_be_bytes();
        let first = b.iter().position(|x| *x != 0).unwrap_or(8);
        crate::abi::copy(&b[first..])
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > 8 {
            return None;
        }
        let mut b = [0u8; 8];
        b[8 - bytes.len()..].copy_from_slice(bytes);
        Some(u64::from_be_bytes(b))
    }
}

impl Codec for bool {
    fn encode(&self) -> Vec<u8> {
        if *self { alloc::vec![1] } else { Vec::new() }
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }
}

impl Codec for Address {
    fn encode(&self) -> Vec<u8> {
        if self.is_zero() { Vec::new() } else { crate::abi::copy(self.as_slice()) }
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        match bytes.len() {
            0 => Some(Address::ZERO),
            20 => Some(Address::from_slice(bytes)),
            _ => None,
        }
    }
}

impl Codec for B256 {
    fn encode(&self) -> Vec<u8> {
        if self.is_zero() { Vec::new() } else { crate::abi::copy(self.as_slice()) }
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        match bytes.len() {
            0 => Some(B256::ZERO),
            32 => Some(B256::from_slice(bytes)),
            _ => None,
        }
    }
}

impl Codec for Vec<u8> {
    fn encode(&self) -> Vec<u8> {
        self.clone()
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(crate::abi::copy(bytes))
    }
}

impl Codec for String {
    fn encode(&self) -> Vec<u8> {
        crate::abi::copy(self.as_bytes())
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        crate::abi::utf8_string(bytes)
    }
}

fn read<T: Codec + Default>(key: &[u8]) -> T {
    match host::storage_read(key) {
        None => T::default(),
        Some(bytes) => T::decode(&bytes).unwrap_or_else(|| crate::revert_message("corrupt storage value")),
    }
}

/// One typed value under a fixed key. Absent reads as `T::default()`.
pub struct StorageValue<T> {
    key: &'static [u8],
    _t: PhantomData<T>,
}

impl<T: Codec + Default> StorageValue<T> {
    /// The value stored under `key`.
    pub const fn new(key: &'static [u8]) -> Self {
        Self { key, _t: PhantomData }
    }
    /// Reads it.
    pub fn get(&self) -> T {
        read(self.key)
    }
    /// Writes it (the default value removes the key).
    pub fn set(&self, value: &T) {
        host::storage_write(self.key, &value.encode())
    }
    /// The raw storage key (what `eth_getProof` and the archive contract take).
    pub const fn raw_key(&self) -> &'static [u8] {
        self.key
    }
}

/// A typed map: entry `k` lives at `prefix ++ encode(k)`. Absent reads as default.
pub struct StorageMap<K, V> {
    prefix: &'static [u8],
    _kv: PhantomData<(K, V)>,
}

impl<K: MapKey, V: Codec + Default> StorageMap<K, V> {
    /// A map under `prefix` (prefixes of different maps must not be prefixes of each other).
    pub const fn new(prefix: &'static [u8]) -> Self {
        Self { prefix, _kv: PhantomData }
    }
    fn key(&self, k: &K) -> Vec<u8> {
        // One allocation of the exact size: growing a vector would link ~1 KiB of
        // growth code into every contract with a map.
        let mut key = alloc::vec![0u8; self.prefix.len().saturating_add(k.key_len())];
        crate::abi::fill(&mut key, self.prefix);
        k.write_key(key.get_mut(self.prefix.len()..).unwrap_or_default());
        key
    }
    /// Reads `k`.
    pub fn get(&self, k: &K) -> V {
        read(&self.key(k))
    }
    /// Writes `k` (the default value removes it).
    pub fn set(&self, k: &K, v: &V) {
        host::storage_write(&self.key(k), &v.encode())
    }
    /// Removes `k`.
    pub fn remove(&self, k: &K) {
        host::storage_write(&self.key(k), &[])
    }
    /// The raw storage key of entry `k` (`prefix ++ encode(k)`): what `eth_getProof`
    /// and the archive contract (`crate::system::archive_own`) take.
    pub fn raw_key(&self, k: &K) -> Vec<u8> {
        self.key(k)
    }
}

/// Keys of maps: a fixed-width or self-delimiting encoding, so distinct keys never collide.
pub trait MapKey {
    /// The key's length in bytes.
    fn key_len(&self) -> usize;
    /// Writes the key's bytes into `out`, which is [`MapKey::key_len`] bytes long.
    fn write_key(&self, out: &mut [u8]);
}

macro_rules! fixed_key {
    ($t:ty, $len:expr, |$v:ident| $bytes:expr) => {
        impl MapKey for $t {
            fn key_len(&self) -> usize {
                $len
            }
            fn write_key(&self, out: &mut [u8]) {
                let $v = self;
                crate::abi::fill(out, &$bytes)
            }
        }
    };
}

fixed_key!(Address, 20, |k| k.0.0);
fixed_key!(B256, 32, |k| k.0);
fixed_key!(U256, 32, |k| crate::abi::u256_to_word(k));
fixed_key!(u64, 8, |k| k.to_be_bytes());

impl<A: MapKey, B: MapKey> MapKey for (A, B) {
    fn key_len(&self) -> usize {
        self.0.key_len() + self.1.key_len()
    }
    fn write_key(&self, out: &mut [u8]) {
        let (a, b) = out.split_at_mut(self.0.key_len().min(out.len()));
        self.0.write_key(a);
        self.1.write_key(b);
    }
}

/// A map whose entries can be listed by page, in insertion order (removal moves the
/// last entry into the hole). Costs one extra key per entry and a counter.
pub struct IterableMap<K, V> {
    values: StorageMap<K, V>,
    /// key -> position + 1 (0 = absent)
    positions: StorageMap<K, u64>,
    /// position -> key bytes
    keys: StorageMap<u64, Vec<u8>>,
    len: StorageValue<u64>,
}

impl<K: MapKey + Codec, V: Codec + Default> IterableMap<K, V> {
    /// A map under four distinct prefixes.
    pub const fn new(values: &'static [u8], positions: &'static [u8], keys: &'static [u8], len: &'static [u8]) -> Self {
        Self {
            values: StorageMap::new(values),
            positions: StorageMap::new(positions),
            keys: StorageMap::new(keys),
            len: StorageValue::new(len),
        }
    }
    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.len.get()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// True when `k` has an entry.
    pub fn contains(&self, k: &K) -> bool {
        self.positions.get(k) != 0
    }
    /// Reads `k` (default if absent).
    pub fn get(&self, k: &K) -> V {
        self.values.get(k)
    }
    /// Inserts or updates `k`.
    pub fn insert(&self, k: &K, v: &V) {
        if !self.contains(k) {
            let n = self.len();
            self.keys.set(&n, &k.encode());
            self.positions.set(k, &(n + 1));
            self.len.set(&(n + 1));
        }
        self.values.set(k, v);
    }
    /// Removes `k`; returns whether it was there.
    pub fn remove(&self, k: &K) -> bool {
        let pos = self.positions.get(k);
        if pos == 0 {
            return false;
        }
        let last = self.len() - 1;
        let hole = pos - 1;
        if hole != last {
            let moved = self.keys.get(&last);
            if let Some(moved_key) = K::decode(&moved) {
                self.keys.set(&hole, &moved);
                self.positions.set(&moved_key, &pos);
            }
        }
        self.keys.remove(&last);
        self.positions.remove(k);
        self.values.remove(k);
        self.len.set(&last);
        true
    }
    /// Up to `limit` entries starting at position `start`.
    pub fn page(&self, start: u64, limit: u64) -> Vec<(K, V)> {
        let end = self.len().min(start.saturating_add(limit));
        (start..end)
            .filter_map(|i| K::decode(&self.keys.get(&i)))
            .map(|k| {
                let v = self.values.get(&k);
                (k, v)
            })
            .collect()
    }
}
