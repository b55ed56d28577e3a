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
        word.get(first..).unwrap_or_default().to_vec()
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
        b[first..].to_vec()
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
        if self.is_zero() { Vec::new() } else { self.to_vec() }
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
        if self.is_zero() { Vec::new() } else { self.to_vec() }
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
        Some(bytes.to_vec())
    }
}

impl Codec for String {
    fn encode(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
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
        let mut key = self.prefix.to_vec();
        k.append_key(&mut key);
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
    /// Appends the key's bytes.
    fn append_key(&self, out: &mut Vec<u8>);
}

impl MapKey for Address {
    fn append_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_slice())
    }
}

impl MapKey for B256 {
    fn append_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_slice())
    }
}

impl MapKey for U256 {
    fn append_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&crate::abi::u256_to_word(self))
    }
}

impl MapKey for u64 {
    fn append_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes())
    }
}

impl<A: MapKey, B: MapKey> MapKey for (A, B) {
    fn append_key(&self, out: &mut Vec<u8>) {
        self.0.append_key(out);
        self.1.append_key(out);
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
