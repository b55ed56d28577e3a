//! Safe wrappers over the host functions of `docs/abi.md`.

use alloc::vec::Vec;
use alloy_primitives::{Address, B256, U256};

#[cfg(target_arch = "wasm32")]
mod sys {
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        pub fn input_size() -> i32;
        pub fn input_read(ptr: *mut u8);
        pub fn return_data(ptr: *const u8, len: i32);
        pub fn revert(ptr: *const u8, len: i32) -> !;
        pub fn storage_read(key: *const u8, key_len: i32, val: *mut u8, cap: i32) -> i32;
        pub fn storage_write(key: *const u8, key_len: i32, val: *const u8, val_len: i32);
        pub fn storage_remove(key: *const u8, key_len: i32);
        pub fn caller(out: *mut u8);
        pub fn origin(out: *mut u8);
        pub fn self_address(out: *mut u8);
        pub fn call_value(out: *mut u8);
        pub fn balance(addr: *const u8, out: *mut u8);
        pub fn block_number() -> i64;
        pub fn block_timestamp() -> i64;
        pub fn chain_id() -> i64;
        pub fn block_hash(number: i64, out: *mut u8) -> i32;
        pub fn emit_log(topics: *const u8, count: i32, data: *const u8, len: i32);
        pub fn call(addr: *const u8, value: *const u8, input: *const u8, len: i32, gas: i64) -> i32;
        pub fn static_call(addr: *const u8, input: *const u8, len: i32, gas: i64) -> i32;
        pub fn return_data_size() -> i32;
        pub fn return_data_copy(ptr: *mut u8, offset: i32, len: i32);
        pub fn keccak256(ptr: *const u8, len: i32, out: *mut u8);
        pub fn ecrecover(hash: *const u8, signature: *const u8, out: *mut u8) -> i32;
        pub fn gas_left() -> i64;
        /// Privileged: only the runtime's system contracts may import it (see `crate::system`).
        pub fn system(op: i32, input: *const u8, len: i32) -> i32;
    }
}

/// Off-chain builds (docs, `cargo check` on the host) link these instead: calling any of
/// them outside the Strata runtime is a bug, so they stop the program.
#[cfg(not(target_arch = "wasm32"))]
#[allow(missing_docs, clippy::missing_safety_doc)]
mod sys {
    fn outside() -> ! {
        panic!("strata-sdk host functions only exist inside the Strata runtime (wasm32)")
    }
    pub unsafe fn input_size() -> i32 {
        outside()
    }
    pub unsafe fn input_read(_: *mut u8) {
        outside()
    }
    pub unsafe fn return_data(_: *const u8, _: i32) {
        outside()
    }
    pub unsafe fn revert(_: *const u8, _: i32) -> ! {
        outside()
    }
    pub unsafe fn storage_read(_: *const u8, _: i32, _: *mut u8, _: i32) -> i32 {
        outside()
    }
    pub unsafe fn storage_write(_: *const u8, _: i32, _: *const u8, _: i32) {
        outside()
    }
    pub unsafe fn storage_remove(_: *const u8, _: i32) {
        outside()
    }
    pub unsafe fn caller(_: *mut u8) {
        outside()
    }
    pub unsafe fn origin(_: *mut u8) {
        outside()
    }
    pub unsafe fn self_address(_: *mut u8) {
        outside()
    }
    pub unsafe fn call_value(_: *mut u8) {
        outside()
    }
    pub unsafe fn balance(_: *const u8, _: *mut u8) {
        outside()
    }
    pub unsafe fn block_number() -> i64 {
        outside()
    }
    pub unsafe fn block_timestamp() -> i64 {
        outside()
    }
    pub unsafe fn chain_id() -> i64 {
        outside()
    }
    pub unsafe fn block_hash(_: i64, _: *mut u8) -> i32 {
        outside()
    }
    pub unsafe fn emit_log(_: *const u8, _: i32, _: *const u8, _: i32) {
        outside()
    }
    pub unsafe fn call(_: *const u8, _: *const u8, _: *const u8, _: i32, _: i64) -> i32 {
        outside()
    }
    pub unsafe fn static_call(_: *const u8, _: *const u8, _: i32, _: i64) -> i32 {
        outside()
    }
    pub unsafe fn return_data_size() -> i32 {
        outside()
    }
    pub unsafe fn return_data_copy(_: *mut u8, _: i32, _: i32) {
        outside()
    }
    pub unsafe fn keccak256(_: *const u8, _: i32, _: *mut u8) {
        outside()
    }
    pub unsafe fn ecrecover(_: *const u8, _: *const u8, _: *mut u8) -> i32 {
        outside()
    }
    pub unsafe fn gas_left() -> i64 {
        outside()
    }
    pub unsafe fn system(_: i32, _: *const u8, _: i32) -> i32 {
        outside()
    }
}

fn len(n: usize) -> i32 {
    // Wasm32 memory is at most 4 GiB and every host limit is far below i32::MAX.
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The call's input.
pub fn input() -> Vec<u8> {
    let n = usize::try_from(unsafe { sys::input_size() }).unwrap_or(0);
    // SAFETY: the host writes exactly `input_size()` bytes at the pointer.
    unsafe { filled(n, |ptr| sys::input_read(ptr)) }
}

/// A vector of exactly `n` bytes written by `fill` (which must write all `n`). One
/// non-generic allocation site for the whole SDK keeps contracts small.
///
/// # Safety
/// `fill` initialises the `n` bytes at the pointer it is given.
unsafe fn filled(n: usize, fill: impl FnOnce(*mut u8)) -> Vec<u8> {
    let mut buf = crate::abi::buffer(n);
    fill(buf.as_mut_ptr());
    // SAFETY: the caller's contract: `n` bytes initialised, capacity `n`.
    unsafe { buf.set_len(n) };
    buf
}

/// Sets the call's return data (the contract then returns normally).
pub fn return_data(data: &[u8]) {
    // SAFETY: pointer and length describe `data`.
    unsafe { sys::return_data(data.as_ptr(), len(data.len())) }
}

/// Ends the call, rolling back its changes, with `data` as revert data.
pub fn revert(data: &[u8]) -> ! {
    // SAFETY: pointer and length describe `data`; the host does not return.
    unsafe { sys::revert(data.as_ptr(), len(data.len())) }
}

/// Reads a storage key of this contract.
pub fn storage_read(key: &[u8]) -> Option<Vec<u8>> {
    // Most values fit in two words: one host call into a stack buffer; a larger value
    // is read again into a buffer of its size.
    let mut small = [0u8; 64];
    // SAFETY: the host writes at most `cap` bytes at the pointer.
    let n = unsafe { sys::storage_read(key.as_ptr(), len(key.len()), small.as_mut_ptr(), len(small.len())) };
    let n = usize::try_from(n).ok()?;
    Some(match small.get(..n) {
        Some(value) => crate::abi::copy(value),
        // SAFETY: the value is `n` bytes: the host writes all of them.
        None => unsafe {
            filled(n, |ptr| {
                sys::storage_read(key.as_ptr(), len(key.len()), ptr, len(n));
            })
        },
    })
}

/// Writes a storage key of this contract (an empty value removes the key).
pub fn storage_write(key: &[u8], value: &[u8]) {
    // SAFETY: pointers and lengths describe `key` and `value`.
    unsafe {
        if value.is_empty() {
            sys::storage_remove(key.as_ptr(), len(key.len()))
        } else {
            sys::storage_write(key.as_ptr(), len(key.len()), value.as_ptr(), len(value.len()))
        }
    }
}

macro_rules! address_getter {
    ($(#[$doc:meta] $name:ident),*) => {$(
        #[$doc]
        pub fn $name() -> Address {
            let mut out = [0u8; 20];
            // SAFETY: the host writes 20 bytes.
            unsafe { sys::$name(out.as_mut_ptr()) };
            Address::from(out)
        }
    )*};
}

address_getter!(
    /// The account that called this contract.
    caller,
    /// The transaction's sender.
    origin,
    /// This contract's address.
    self_address
);

/// Value sent with the call.
pub fn call_value() -> U256 {
    crate::abi::word_to_u256(&call_value_word())
}

/// Value sent with the call, as the host gives it: a big-endian word.
pub fn call_value_word() -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: the host writes 32 bytes.
    unsafe { sys::call_value(out.as_mut_ptr()) };
    out
}

/// Balance of an account.
pub fn balance(of: Address) -> U256 {
    let mut out = [0u8; 32];
    // SAFETY: 20 bytes read, 32 written.
    unsafe { sys::balance(of.as_ptr(), out.as_mut_ptr()) };
    crate::abi::word_to_u256(&out)
}

/// Current block number.
pub fn block_number() -> u64 {
    // SAFETY: no memory involved.
    unsafe { sys::block_number() as u64 }
}

/// Current block timestamp (seconds).
pub fn block_timestamp() -> u64 {
    // SAFETY: no memory involved.
    unsafe { sys::block_timestamp() as u64 }
}

/// Chain id.
pub fn chain_id() -> u64 {
    // SAFETY: no memory involved.
    unsafe { sys::chain_id() as u64 }
}

/// Emits a log from this contract: `topics` holds `count` 32-byte topics.
pub fn emit_log(topics: &[u8], count: usize, data: &[u8]) {
    // SAFETY: pointers and lengths describe the slices.
    unsafe { sys::emit_log(topics.as_ptr(), len(count), data.as_ptr(), len(data.len())) }
}

/// How a call to another contract ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// It returned this data.
    Success(Vec<u8>),
    /// It reverted with this data.
    Revert(Vec<u8>),
    /// It failed (trap, out of gas, refused); the data says why.
    Failure(Vec<u8>),
}

fn last_return() -> Vec<u8> {
    // SAFETY: the host copies exactly `return_data_size()` bytes.
    unsafe {
        let n = usize::try_from(sys::return_data_size()).unwrap_or(0);
        let mut buf = Vec::with_capacity(n);
        sys::return_data_copy(buf.as_mut_ptr(), 0, len(n));
        buf.set_len(n);
        buf
    }
}

fn result(status: i32) -> CallResult {
    let data = last_return();
    match status {
        0 => CallResult::Success(data),
        1 => CallResult::Revert(data),
        _ => CallResult::Failure(data),
    }
}

/// Calls another contract with `value` and `input`; `gas` 0 hands over all it may.
pub fn call(to: Address, value: U256, input: &[u8], gas: u64) -> CallResult {
    let v = crate::abi::u256_to_word(&value);
    // SAFETY: pointers and lengths describe the buffers.
    let status = unsafe { sys::call(to.as_ptr(), v.as_ptr(), input.as_ptr(), len(input.len()), gas as i64) };
    result(status)
}

/// Calls another contract read-only.
pub fn static_call(to: Address, input: &[u8], gas: u64) -> CallResult {
    // SAFETY: pointers and lengths describe the buffers.
    let status = unsafe { sys::static_call(to.as_ptr(), input.as_ptr(), len(input.len()), gas as i64) };
    result(status)
}

/// Keccak-256, computed by the host.
pub fn keccak(data: &[u8]) -> B256 {
    let mut out = [0u8; 32];
    // SAFETY: pointer and length describe `data`; 32 bytes written.
    unsafe { sys::keccak256(data.as_ptr(), len(data.len()), out.as_mut_ptr()) };
    B256::from(out)
}

/// The hash of block `number` if it is one of the 8,191 blocks before the current one
/// (800 gas), else `None`. A proposer can choose among hashes of the block it proposes
/// (by what it puts in it), so randomness drawn from one hash is only as good as that
/// proposer is honest: see `contracts/storage/README.md` for how a contract bounds it.
pub fn block_hash(number: u64) -> Option<B256> {
    let number = i64::try_from(number).ok()?;
    let mut out = [0u8; 32];
    // SAFETY: 32 writable bytes.
    let found = unsafe { sys::block_hash(number, out.as_mut_ptr()) };
    (found == 1).then(|| B256::from(out))
}

/// The address whose key made `signature` (`r ‖ s ‖ v`) over `digest`, if it recovers
/// (the host's `ecrecover`, 10,000 gas). It does not reject a high `s`: use
/// [`HostRecover`] with `strata_protocol`'s checks for that.
pub fn ecrecover(digest: &B256, signature: &[u8; 65]) -> Option<Address> {
    let mut out = [0u8; 20];
    // SAFETY: 32 and 65 readable bytes, 20 writable bytes.
    let ok = unsafe { sys::ecrecover(digest.as_ptr(), signature.as_ptr(), out.as_mut_ptr()) };
    (ok == 1).then(|| Address::from(out))
}

/// Signature recovery through the host, for the shared verification code of
/// `strata_protocol` (commit certificates, receipt audits): a contract checks another
/// chain's certificate with exactly the code the node runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostRecover;

impl strata_protocol::Recover for HostRecover {
    fn recover(&self, digest: &B256, signature: &[u8; 65]) -> Option<Address> {
        ecrecover(digest, signature)
    }
}

/// Gas left in this frame.
pub fn gas_left() -> u64 {
    // SAFETY: no memory involved.
    unsafe { sys::gas_left() as u64 }
}

/// Runs privileged system operation `op` (see [`crate::system`]): its status, and the
/// return-data buffer it left (the output, or revert data).
pub(crate) fn system(op: i32, input: &[u8]) -> (i32, Vec<u8>) {
    // SAFETY: pointer and length describe `input`.
    let status = unsafe { sys::system(op, input.as_ptr(), len(input.len())) };
    (status, last_return())
}
