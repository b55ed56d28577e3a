//! The host ABI: functions a contract imports from module `env` (their names, and
//! the codes they return, are `strata_protocol::abi`'s).
//!
//! Conventions (see `docs/abi.md`): pointers and lengths are `i32` offsets into the
//! contract's exported `memory`; addresses are 20 bytes, hashes and 256-bit values
//! 32 bytes big-endian. Every function validates lengths, then **charges its gas
//! before doing any work**, then reads guest memory strictly within bounds.

use strata_primitives::{
    Address, B256, MAX_STORAGE_KEY_LEN, MAX_STORAGE_VALUE_LEN, Signature, U256,
    abi::{CallStatus, SystemOp},
    keccak256,
};
use wasmtime::{Caller, Linker, Memory, Trap};

use crate::{
    frame::{Ctx, Exit},
    gas::{self, FUEL_PER_GAS},
    host::{HostError, SubCall},
};

pub use strata_primitives::abi::{
    EXPORT_CALL, EXPORT_DEPLOY, EXPORT_MEMORY, EXPORT_REENTRANT, IMPORTS, MAX_SYSTEM_SCAN, MODULE, SYSTEM_IMPORT,
};

type C<'a> = Caller<'a, Ctx>;
type R<T> = wasmtime::Result<T>;

fn refused(msg: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::new(Exit::Refused(msg.into()))
}

fn host_err(e: HostError) -> wasmtime::Error {
    match e {
        HostError::Refused(m) => wasmtime::Error::new(Exit::Refused(m)),
        HostError::Node(m) => wasmtime::Error::new(Exit::Node(m)),
        HostError::Interrupted => wasmtime::Error::new(Exit::Interrupted),
    }
}

/// Charges `gas` from the frame's fuel, or fails with out-of-gas having consumed it all.
fn charge(caller: &mut C<'_>, gas: u64) -> R<()> {
    let fuel = gas::fuel(gas);
    let left = caller.get_fuel()?;
    match left.checked_sub(fuel) {
        Some(rest) => caller.set_fuel(rest),
        None => {
            caller.set_fuel(0)?;
            Err(Trap::OutOfFuel.into())
        }
    }
}

fn refund(caller: &mut C<'_>, gas: u64) -> R<()> {
    let left = caller.get_fuel()?;
    caller.set_fuel(left.saturating_add(gas::fuel(gas)))
}

fn memory(caller: &C<'_>) -> R<Memory> {
    caller.data().memory.ok_or_else(|| refused("host function called before the contract's memory was set up"))
}

fn range(ptr: i32, len: usize) -> R<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(len).ok_or_else(|| refused("pointer range overflows"))?;
    Ok(start..end)
}

fn read(caller: &C<'_>, ptr: i32, len: usize) -> R<Vec<u8>> {
    let mem = memory(caller)?;
    let r = range(ptr, len)?;
    mem.data(caller).get(r.clone()).map(<[u8]>::to_vec).ok_or_else(|| refused(format!("out-of-bounds read at {}..{}", r.start, r.end)))
}

fn write(caller: &mut C<'_>, ptr: i32, bytes: &[u8]) -> R<()> {
    let mem = memory(caller)?;
    let r = range(ptr, bytes.len())?;
    let dst = mem.data_mut(caller).get_mut(r.clone()).ok_or_else(|| refused(format!("out-of-bounds write at {}..{}", r.start, r.end)))?;
    dst.copy_from_slice(bytes);
    Ok(())
}

fn len_arg(len: i32, max: usize, what: &str) -> R<usize> {
    let len = usize::try_from(len).map_err(|_| refused(format!("negative {what} length")))?;
    if len > max {
        return Err(refused(format!("{what} of {len} bytes exceeds the limit of {max}")));
    }
    Ok(len)
}

fn not_static(caller: &C<'_>, what: &str) -> R<()> {
    let ctx = caller.data().host()?.context();
    if ctx.is_static { Err(refused(format!("{what} is not allowed in a static call"))) } else { Ok(()) }
}

/// Registers every ABI function in `linker`.
pub fn link(linker: &mut Linker<Ctx>) -> R<()> {
    linker.func_wrap(MODULE, "input_size", |mut c: C<'_>| -> R<i32> {
        charge(&mut c, gas::ENV)?;
        Ok(c.data().input.len() as i32)
    })?;
    linker.func_wrap(MODULE, "input_read", |mut c: C<'_>, ptr: i32| -> R<()> {
        let cost = gas::copy(c.data().input.len());
        charge(&mut c, cost)?;
        let input = std::mem::take(&mut c.data_mut().input);
        let result = write(&mut c, ptr, &input);
        c.data_mut().input = input;
        result
    })?;
    linker.func_wrap(MODULE, "return_data", |mut c: C<'_>, ptr: i32, len: i32| -> R<()> {
        let len = len_arg(len, c.data().limits.max_return_size, "return data")?;
        charge(&mut c, gas::copy(len))?;
        c.data_mut().return_data = read(&c, ptr, len)?;
        Ok(())
    })?;
    linker.func_wrap(MODULE, "revert", |mut c: C<'_>, ptr: i32, len: i32| -> R<()> {
        let len = len_arg(len, c.data().limits.max_return_size, "revert data")?;
        charge(&mut c, gas::copy(len))?;
        Err(wasmtime::Error::new(Exit::Revert(read(&c, ptr, len)?)))
    })?;
    linker.func_wrap(MODULE, "storage_read", |mut c: C<'_>, key_ptr: i32, key_len: i32, val_ptr: i32, val_cap: i32| -> R<i32> {
        let key_len = len_arg(key_len, MAX_STORAGE_KEY_LEN, "storage key")?;
        let cap = usize::try_from(val_cap).map_err(|_| refused("negative value capacity"))?;
        charge(&mut c, gas::STORAGE_READ.saturating_add((key_len as u64).saturating_mul(gas::STORAGE_READ_PER_BYTE)))?;
        let key = read(&c, key_ptr, key_len)?;
        let value = c.data_mut().host_mut()?.storage_read(&key).map_err(host_err)?;
        let Some(value) = value else { return Ok(-1) };
        charge(&mut c, (value.len() as u64).saturating_mul(gas::STORAGE_READ_PER_BYTE))?;
        let n = value.len().min(cap);
        write(&mut c, val_ptr, &value[..n])?;
        Ok(value.len() as i32)
    })?;
    linker.func_wrap(MODULE, "storage_write", |mut c: C<'_>, key_ptr: i32, key_len: i32, val_ptr: i32, val_len: i32| -> R<()> {
        not_static(&c, "storage_write")?;
        let key_len = len_arg(key_len, MAX_STORAGE_KEY_LEN, "storage key")?;
        let val_len = len_arg(val_len, MAX_STORAGE_VALUE_LEN, "storage value")?;
        let bytes = (key_len as u64).saturating_add(val_len as u64);
        // Growth is charged up front and refunded if the key already existed.
        charge(
            &mut c,
            gas::STORAGE_WRITE.saturating_add(bytes.saturating_mul(gas::STORAGE_WRITE_PER_BYTE)).saturating_add(gas::STORAGE_NEW_KEY),
        )?;
        let key = read(&c, key_ptr, key_len)?;
        let value = read(&c, val_ptr, val_len)?;
        let existed = c.data_mut().host_mut()?.storage_write(&key, Some(&value)).map_err(host_err)?;
        if existed {
            refund(&mut c, gas::STORAGE_NEW_KEY)?;
        }
        Ok(())
    })?;
    linker.func_wrap(MODULE, "storage_remove", |mut c: C<'_>, key_ptr: i32, key_len: i32| -> R<()> {
        not_static(&c, "storage_remove")?;
        let key_len = len_arg(key_len, MAX_STORAGE_KEY_LEN, "storage key")?;
        charge(&mut c, gas::STORAGE_WRITE.saturating_add((key_len as u64).saturating_mul(gas::STORAGE_WRITE_PER_BYTE)))?;
        let key = read(&c, key_ptr, key_len)?;
        c.data_mut().host_mut()?.storage_write(&key, None).map_err(host_err)?;
        Ok(())
    })?;
    for (name, pick) in [("caller", 0u8), ("origin", 1), ("self_address", 2)] {
        linker.func_wrap(MODULE, name, move |mut c: C<'_>, out: i32| -> R<()> {
            charge(&mut c, gas::ENV)?;
            let ctx = *c.data().host()?.context();
            let a: Address = match pick {
                0 => ctx.caller,
                1 => ctx.origin,
                _ => ctx.address,
            };
            write(&mut c, out, a.as_slice())
        })?;
    }
    linker.func_wrap(MODULE, "call_value", |mut c: C<'_>, out: i32| -> R<()> {
        charge(&mut c, gas::ENV)?;
        let v = c.data().host()?.context().value;
        write(&mut c, out, &v.to_be_bytes::<32>())
    })?;
    linker.func_wrap(MODULE, "balance", |mut c: C<'_>, addr: i32, out: i32| -> R<()> {
        charge(&mut c, gas::BALANCE)?;
        let a = Address::from_slice(&read(&c, addr, 20)?);
        let b = c.data_mut().host_mut()?.balance(&a).map_err(host_err)?;
        write(&mut c, out, &b.to_be_bytes::<32>())
    })?;
    for (name, pick) in [("block_number", 0u8), ("block_timestamp", 1), ("chain_id", 2)] {
        linker.func_wrap(MODULE, name, move |mut c: C<'_>| -> R<i64> {
            charge(&mut c, gas::ENV)?;
            let ctx = c.data().host()?.context();
            let v = match pick {
                0 => ctx.block_number,
                1 => ctx.timestamp,
                _ => ctx.chain_id,
            };
            Ok(v as i64)
        })?;
    }
    linker.func_wrap(MODULE, "block_hash", |mut c: C<'_>, number: i64, out: i32| -> R<i32> {
        charge(&mut c, gas::BLOCK_HASH)?;
        // Block numbers are u64 on the wire; an i64 that is negative names none.
        let Ok(number) = u64::try_from(number) else { return Ok(0) };
        match c.data_mut().host_mut()?.block_hash(number).map_err(host_err)? {
            Some(h) => {
                write(&mut c, out, h.as_slice())?;
                Ok(1)
            }
            None => Ok(0),
        }
    })?;
    linker.func_wrap(MODULE, "emit_log", |mut c: C<'_>, topics_ptr: i32, topic_count: i32, data_ptr: i32, data_len: i32| -> R<()> {
        not_static(&c, "emit_log")?;
        let count = len_arg(topic_count, 4, "topic count")?;
        let data_len = len_arg(data_len, c.data().limits.max_log_data, "log data")?;
        let cost = gas::LOG
            .saturating_add((count as u64).saturating_mul(gas::LOG_TOPIC))
            .saturating_add((data_len as u64).saturating_mul(gas::LOG_PER_BYTE));
        charge(&mut c, cost)?;
        let raw = read(&c, topics_ptr, count.saturating_mul(32))?;
        let topics = raw.chunks_exact(32).map(B256::from_slice).collect();
        let data = read(&c, data_ptr, data_len)?;
        c.data_mut().host_mut()?.emit_log(topics, data).map_err(host_err)
    })?;
    linker.func_wrap(MODULE, "call", |mut c: C<'_>, addr: i32, value: i32, input: i32, input_len: i32, gas_limit: i64| -> R<i32> {
        let v = U256::from_be_slice(&read(&c, value, 32)?);
        sub_call(&mut c, addr, v, input, input_len, gas_limit, false)
    })?;
    linker.func_wrap(MODULE, "static_call", |mut c: C<'_>, addr: i32, input: i32, input_len: i32, gas_limit: i64| -> R<i32> {
        sub_call(&mut c, addr, U256::ZERO, input, input_len, gas_limit, true)
    })?;
    linker.func_wrap(MODULE, "return_data_size", |mut c: C<'_>| -> R<i32> {
        charge(&mut c, gas::ENV)?;
        Ok(c.data().last_return.len() as i32)
    })?;
    linker.func_wrap(MODULE, "return_data_copy", |mut c: C<'_>, ptr: i32, offset: i32, len: i32| -> R<()> {
        let len = len_arg(len, c.data().limits.max_return_size, "return data copy")?;
        charge(&mut c, gas::copy(len))?;
        let r = range(offset, len)?;
        let bytes = c.data().last_return.get(r).map(<[u8]>::to_vec).ok_or_else(|| refused("return data copy out of bounds"))?;
        write(&mut c, ptr, &bytes)
    })?;
    linker.func_wrap(MODULE, "keccak256", |mut c: C<'_>, ptr: i32, len: i32, out: i32| -> R<()> {
        let len = len_arg(len, c.data().limits.max_input_size, "hash input")?;
        charge(&mut c, gas::KECCAK.saturating_add(gas::words(len).saturating_mul(gas::KECCAK_PER_WORD)))?;
        let h = keccak256(read(&c, ptr, len)?);
        write(&mut c, out, h.as_slice())
    })?;
    linker.func_wrap(MODULE, "ecrecover", |mut c: C<'_>, hash: i32, sig: i32, out: i32| -> R<i32> {
        charge(&mut c, gas::ECRECOVER)?;
        let h = B256::from_slice(&read(&c, hash, 32)?);
        let s = read(&c, sig, 65)?;
        let recovered = Signature::try_from(s.as_slice()).ok().and_then(|sig| sig.recover_address_from_prehash(&h).ok());
        match recovered {
            Some(a) => {
                write(&mut c, out, a.as_slice())?;
                Ok(1)
            }
            None => Ok(0),
        }
    })?;
    linker.func_wrap(MODULE, SYSTEM_IMPORT, |mut c: C<'_>, op: i32, ptr: i32, len: i32| -> R<i32> {
        let len = len_arg(len, c.data().limits.max_input_size, "system call input")?;
        let op = u32::try_from(op).ok().and_then(SystemOp::from_code).ok_or_else(|| refused(format!("unknown system op {op}")))?;
        charge(&mut c, gas::system(op, len))?;
        let input = read(&c, ptr, len)?;
        let reply = c.data_mut().host_mut()?.system(op, &input).map_err(host_err)?;
        c.data_mut().last_return = reply.output;
        Ok(if reply.ok { 0 } else { 1 })
    })?;
    linker.func_wrap(MODULE, "gas_left", |mut c: C<'_>| -> R<i64> {
        charge(&mut c, gas::ENV)?;
        Ok((c.get_fuel()? / FUEL_PER_GAS) as i64)
    })?;
    Ok(())
}

/// A nested call: charged, given at most 63/64 of the gas left (EIP-150), run by the host,
/// and its unused gas returned.
fn sub_call(c: &mut C<'_>, addr: i32, value: U256, input: i32, input_len: i32, gas_limit: i64, is_static: bool) -> R<i32> {
    let input_len = len_arg(input_len, c.data().limits.max_input_size, "call input")?;
    let ctx = *c.data().host()?.context();
    if ctx.is_static && !value.is_zero() {
        return Err(refused("value transfer in a static call"));
    }
    let mut cost = gas::CALL.saturating_add(gas::copy(input_len));
    if !value.is_zero() {
        cost = cost.saturating_add(gas::CALL_VALUE);
    }
    charge(c, cost)?;
    let to = Address::from_slice(&read(c, addr, 20)?);
    let input = read(c, input, input_len)?;
    if ctx.depth.saturating_add(1) > c.data().limits.max_call_depth {
        c.data_mut().last_return = b"call depth limit reached".to_vec();
        return Ok(CallStatus::Failure.code() as i32);
    }
    let available = c.get_fuel()? / FUEL_PER_GAS;
    let cap = available.saturating_sub(available / 64);
    let requested = u64::try_from(gas_limit).unwrap_or(0);
    let gas = if requested == 0 { cap } else { requested.min(cap) };
    charge(c, gas)?;
    let result =
        c.data_mut().host_mut()?.call(SubCall { to, value, input, gas, is_static: is_static || ctx.is_static }).map_err(host_err)?;
    refund(c, gas.saturating_sub(result.gas_used))?;
    c.data_mut().last_return = result.output;
    Ok(result.status.code() as i32)
}
