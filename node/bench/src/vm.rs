//! Contract engine benchmark: (a) per-call overhead of the runtime against a raw
//! wasmtime call of the same module; (b) token-transfer calls per second on one
//! core against the same logic in native Rust over the same host.

use std::{sync::Arc, time::Instant};

use strata_primitives::{Address, B256, U256};
use strata_vm::{Entry, Host, Status, Vm, VmConfig, testing::FakeHost};

use crate::median;

/// Sizes of the VM benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Calls per measured round.
    #[arg(long, default_value_t = 20_000)]
    pub calls: u32,
    /// Measured rounds (the median is reported).
    #[arg(long, default_value_t = 7)]
    pub rounds: u32,
}

impl Default for Args {
    fn default() -> Self {
        Self { calls: 20_000, rounds: 7 }
    }
}

fn host(caller: Address) -> Box<FakeHost> {
    let mut h = FakeHost::new();
    h.ctx.caller = caller;
    h.ctx.origin = caller;
    h.ctx.value = U256::ZERO;
    Box::new(h)
}

fn per_call_ns(calls: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..calls {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(calls)
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &Args) -> anyhow::Result<()> {
    println!("== vm: {} calls x {} rounds, medians", args.calls, args.rounds);
    let vm = Arc::new(Vm::new(VmConfig::default())?);
    let empty = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "call")))"#)?;
    let contract = vm.prepare(&empty).map_err(|e| anyhow::anyhow!("{e}"))?;

    // Raw wasmtime: default engine, no fuel, no host; a fresh store and instance per call.
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, &empty).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pre = wasmtime::Linker::<()>::new(&engine).instantiate_pre(&module).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        let mut h: Option<Box<dyn Host>> = Some(host(Address::ZERO));
        ours.push(per_call_ns(args.calls, || {
            let (back, out) = vm.execute(&contract, Entry::Call, h.take().expect("host"), Vec::new(), 100_000);
            assert_eq!(out.expect("no host failure").status, Status::Success);
            h = Some(back);
        }));
        raw.push(per_call_ns(args.calls, || {
            let mut store = wasmtime::Store::new(&engine, ());
            let instance = pre.instantiate(&mut store).expect("instantiate");
            instance.get_typed_func::<(), ()>(&mut store, "call").expect("export").call(&mut store, ()).expect("call");
        }));
    }
    let (o, r) = (median(ours), median(raw));
    println!("empty call (instantiate + dispatch + return), Strata runtime: {:.2} us", o / 1e3);
    println!("  baseline: raw wasmtime, same module, fresh store + instance: {:.2} us", r / 1e3);
    println!("  ratio runtime / raw: {:.2}", o / r);

    // Token transfer: 2 storage reads, 2 writes, 1 log.
    let token = wat::parse_str(include_str!("../../../tests/wat/token.wat"))?;
    let contract = vm.prepare(&token).map_err(|e| anyhow::anyhow!("{e}"))?;
    let sender = Address::repeat_byte(0x11);
    let mut seeded = host(sender);
    let mut from_key = b"b".to_vec();
    from_key.extend_from_slice(sender.as_slice());
    seeded.storage.insert(from_key.clone(), u64::MAX.to_le_bytes().to_vec());
    let recipients: Vec<Address> = (0..256u64).map(|i| Address::from_slice(&strata_primitives::keccak256(i.to_be_bytes())[12..])).collect();
    let inputs: Vec<Vec<u8>> = recipients.iter().map(|r| [r.as_slice(), &1u64.to_le_bytes()].concat()).collect();
    let (mut wasm, mut native) = (Vec::new(), Vec::new());
    let mut gas = 0;
    for _ in 0..args.rounds {
        let mut h: Option<Box<dyn Host>> = Some(seeded.clone());
        let mut i = 0usize;
        wasm.push(per_call_ns(args.calls, || {
            let (back, out) = vm.execute(&contract, Entry::Call, h.take().expect("host"), inputs[i % inputs.len()].clone(), 1_000_000);
            let out = out.expect("no host failure");
            assert_eq!(out.status, Status::Success);
            gas = out.gas_used;
            h = Some(back);
            i += 1;
        }));
        // The same transfer written in Rust against the same host.
        let mut nh = seeded.clone();
        let mut i = 0usize;
        native.push(per_call_ns(args.calls, || {
            let input = &inputs[i % inputs.len()];
            let (to, amount) = (&input[..20], u64::from_le_bytes(input[20..28].try_into().expect("8 bytes")));
            let mut to_key = b"b".to_vec();
            to_key.extend_from_slice(to);
            let read = |h: &mut FakeHost, k: &[u8]| {
                h.storage_read(k).expect("read").map_or(0, |v| u64::from_le_bytes(v[..8].try_into().expect("8 bytes")))
            };
            let from_balance = read(&mut nh, &from_key);
            let to_balance = read(&mut nh, &to_key);
            assert!(from_balance >= amount);
            nh.storage_write(&from_key, Some(&(from_balance - amount).to_le_bytes())).expect("write");
            nh.storage_write(&to_key, Some(&(to_balance + amount).to_le_bytes())).expect("write");
            let topics = vec![B256::repeat_byte(0xdd), B256::left_padding_from(sender.as_slice()), B256::left_padding_from(to)];
            nh.emit_log(topics, amount.to_le_bytes().to_vec()).expect("log");
            i += 1;
        }));
    }
    let (w, n) = (median(wasm), median(native));
    println!(
        "token transfer (2 storage reads, 2 writes, 1 log) in Wasm: {:.2} us/call = {:.0} calls/s on one core ({gas} gas)",
        w / 1e3,
        1e9 / w
    );
    println!("  baseline: the same transfer in native Rust on the same host: {:.2} us/call = {:.0} calls/s", n / 1e3, 1e9 / n);
    println!("  ratio wasm / native: {:.2}", w / n);
    Ok(())
}
