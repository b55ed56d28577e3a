//! The engine's tests: host functions and their gas, deploy checks, limits (memory,
//! stack, recursion), caches, native stacks and deadlines, each run through [`Vm`]
//! with the in-memory [`FakeHost`].

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use parking_lot::Mutex;
use strata_primitives::B256;

use super::*;
use crate::host::testing::FakeHost;

fn vm() -> Vm {
    Vm::new(VmConfig::default()).unwrap()
}

fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).unwrap()
}

/// Runs `call` with `input` and returns the fake host and the outcome.
fn run(vm: &Vm, wat: &str, input: &[u8], gas: u64) -> (FakeHost, Outcome) {
    let contract = vm.prepare(&wasm(wat)).unwrap();
    let (host, outcome) = vm.execute(&contract, Entry::Call, Box::new(FakeHost::new()), input.to_vec(), gas);
    (*host.into_any().downcast::<FakeHost>().unwrap(), outcome.unwrap())
}

const ECHO_STORE: &str = r#"(module
  (import "env" "input_size" (func $input_size (result i32)))
  (import "env" "input_read" (func $input_read (param i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "env" "return_data" (func $return_data (param i32 i32)))
  (import "env" "emit_log" (func $emit_log (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "k")
  (func (export "call") (local $n i32)
    (local.set $n (call $input_size))
    (call $input_read (i32.const 100))
    (call $storage_write (i32.const 0) (i32.const 1) (i32.const 100) (local.get $n))
    (drop (call $storage_read (i32.const 0) (i32.const 1) (i32.const 1000) (i32.const 64)))
    (call $emit_log (i32.const 100) (i32.const 0) (i32.const 100) (local.get $n))
    (call $return_data (i32.const 1000) (local.get $n))))"#;

#[test]
fn stores_reads_logs_and_returns() {
    let (host, out) = run(&vm(), ECHO_STORE, b"hello", 1_000_000);
    assert_eq!(out.status, Status::Success);
    assert_eq!(out.output, b"hello");
    assert_eq!(host.storage.get(&b"k"[..]), Some(&b"hello".to_vec()));
    assert_eq!(host.logs, vec![(vec![], b"hello".to_vec())]);
    assert!(out.gas_used > gas::FRAME + gas::STORAGE_NEW_KEY, "{}", out.gas_used);
    // Deterministic: the same call uses the same fuel.
    let (_, again) = run(&vm(), ECHO_STORE, b"hello", 1_000_000);
    assert_eq!((again.gas_used, again.fuel_used), (out.gas_used, out.fuel_used));
}

#[test]
fn host_functions_charge_before_they_work() {
    // Enough gas to start, not enough for the storage write: nothing is written.
    let (host, out) = run(&vm(), ECHO_STORE, b"hello", gas::FRAME + 1_000);
    assert_eq!(out.status, Status::Failure("out of gas".into()));
    assert_eq!(out.gas_used, gas::FRAME + 1_000);
    assert!(host.storage.is_empty());
}

#[test]
fn infinite_loop_runs_out_of_gas() {
    let (_, out) = run(&vm(), include_str!("../../../tests/wat/loop.wat"), b"", 100_000);
    assert_eq!(out.status, Status::Failure("out of gas".into()));
    assert_eq!(out.gas_used, 100_000);
}

#[test]
fn memory_bomb_hits_the_limit() {
    let wat = include_str!("../../../tests/wat/memory_bomb.wat");
    let (_, out) = run(&vm(), wat, b"", 10_000_000);
    let Status::Failure(reason) = out.status else { panic!("{:?}", out.status) };
    assert!(reason.contains("memory"), "{reason}");
}

#[test]
fn deep_recursion_overflows_the_stack() {
    let wat = include_str!("../../../tests/wat/recursion.wat");
    let (_, out) = run(&vm(), wat, b"", 1_000_000_000);
    let Status::Failure(reason) = out.status else { panic!("{:?}", out.status) };
    assert!(reason.contains("stack overflow"), "{reason}");
}

#[test]
fn huge_return_data_and_bad_pointers_fail_cleanly() {
    let huge = include_str!("../../../tests/wat/huge_return.wat");
    let (_, out) = run(&vm(), huge, b"", 1_000_000);
    assert!(matches!(out.status, Status::Failure(ref r) if r.contains("exceeds the limit")), "{:?}", out.status);
    let oob = r#"(module (import "env" "return_data" (func $r (param i32 i32))) (memory (export "memory") 1)
      (func (export "call") (call $r (i32.const 65530) (i32.const 100))))"#;
    let (_, out) = run(&vm(), oob, b"", 1_000_000);
    assert!(matches!(out.status, Status::Failure(ref r) if r.contains("out-of-bounds")), "{:?}", out.status);
    let negative = r#"(module (import "env" "input_read" (func $i (param i32))) (memory (export "memory") 1)
      (func (export "call") (call $i (i32.const -1))))"#;
    let (host, out) = run(&vm(), negative, b"xy", 1_000_000);
    assert!(matches!(out.status, Status::Failure(ref r) if r.contains("out-of-bounds")), "{:?}", out.status);
    assert!(host.storage.is_empty());
}

#[test]
fn revert_carries_its_data() {
    let wat = r#"(module (import "env" "revert" (func $rv (param i32 i32))) (memory (export "memory") 1)
      (data (i32.const 0) "nope") (func (export "call") (call $rv (i32.const 0) (i32.const 4))))"#;
    let (_, out) = run(&vm(), wat, b"", 1_000_000);
    assert_eq!(out.status, Status::Revert);
    assert_eq!(out.output, b"nope");
    assert!(out.gas_used < 1_000_000);
}

#[test]
fn floats_are_deterministic_nans_are_canonical() {
    // 0/0 as f32 must be the canonical NaN on every machine.
    let wat = include_str!("../../../tests/wat/floats.wat");
    let (_, out) = run(&vm(), wat, b"", 1_000_000);
    assert_eq!(out.output, 0x7fc0_0000u32.to_le_bytes());
}

#[test]
fn nested_calls_get_bounded_gas_and_static_frames_cannot_write() {
    let wat = r#"(module
      (import "env" "call" (func $call (param i32 i32 i32 i32 i64) (result i32)))
      (import "env" "return_data_size" (func $rds (result i32)))
      (import "env" "return_data_copy" (func $rdc (param i32 i32 i32)))
      (import "env" "return_data" (func $r (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "call") (local $st i32)
        (local.set $st (call $call (i32.const 0) (i32.const 100) (i32.const 0) (i32.const 0) (i64.const 0)))
        (call $rdc (i32.const 200) (i32.const 0) (call $rds))
        (call $r (i32.const 200) (call $rds))))"#;
    let (host, out) = run(&vm(), wat, b"", 1_000_000);
    assert_eq!(out.status, Status::Success);
    assert_eq!(out.output, b"pong");
    assert_eq!(host.calls.len(), 1);
    assert!(host.calls[0].gas < 1_000_000 - gas::FRAME - gas::CALL, "63/64 rule");
    let writer = r#"(module (import "env" "storage_write" (func $w (param i32 i32 i32 i32))) (memory (export "memory") 1)
      (func (export "call") (call $w (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))))"#;
    let v = vm();
    let contract = v.prepare(&wasm(writer)).unwrap();
    let mut h = FakeHost::new();
    h.ctx.is_static = true;
    let (host, out) = v.execute(&contract, Entry::Call, Box::new(h), vec![], 1_000_000);
    assert!(matches!(out.unwrap().status, Status::Failure(ref r) if r.contains("static")));
    assert!(host.into_any().downcast::<FakeHost>().unwrap().storage.is_empty());
}

#[test]
fn deploy_checks_name_the_cause() {
    let v = vm();
    let e = |w: &str| v.prepare(&wasm(w)).unwrap_err();
    assert_eq!(e(r#"(module (memory (export "memory") 1))"#), DeployError::MissingExport("call"));
    assert_eq!(
        e(r#"(module (func (export "call")))"#),
        DeployError::Invalid("a contract defines exactly one memory, this module defines 0".into())
    );
    assert_eq!(e(r#"(module (memory (export "memory") 1) (func $s) (start $s) (func (export "call")))"#), DeployError::StartFunction);
    assert!(matches!(
        e(r#"(module (import "wasi" "fd_write" (func)) (memory (export "memory") 1) (func (export "call")))"#),
        DeployError::ForbiddenImport { .. }
    ));
    assert!(matches!(
        e(r#"(module (import "env" "input_size" (func (param i64))) (memory (export "memory") 1) (func (export "call")))"#),
        DeployError::Link(_)
    ));
    assert!(matches!(
        e(r#"(module (memory (export "memory") 300) (func (export "call")))"#),
        DeployError::MemoryTooLarge { pages: 300, .. }
    ));
    let simd = e(r#"(module (memory (export "memory") 1) (func (export "call") (drop (v128.const i32x4 0 0 0 0))))"#);
    assert!(matches!(&simd, DeployError::Invalid(m) if m.to_lowercase().contains("simd")), "{simd}");
    let threads = e(r#"(module (memory (export "memory") 1 1 shared) (func (export "call")))"#);
    assert!(matches!(threads, DeployError::Invalid(_)), "{threads}");
    assert!(matches!(v.prepare(b"not wasm at all").unwrap_err(), DeployError::Invalid(_)));
    let big = vec![0u8; Limits::default().max_code_size + 1];
    assert!(matches!(v.prepare(&big).unwrap_err(), DeployError::TooLarge { .. }));
}

#[test]
fn the_system_import_is_for_genesis_contracts_only() {
    let v = vm();
    let code = wasm(
        r#"(module (import "env" "system" (func $sys (param i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (func (export "call") (drop (call $sys (i32.const 4) (i32.const 0) (i32.const 8)))))"#,
    );
    assert_eq!(v.prepare(&code).unwrap_err(), DeployError::Privileged);
    let contract = v.prepare_system(&code).unwrap();
    assert!(contract.info.privileged);
    // Still refused when a user deploy of the same code hits the cache.
    assert_eq!(v.prepare(&code).unwrap_err(), DeployError::Privileged);
    // A host without system ops (every host but the runtime's, for system contracts) refuses the call.
    let (_, out) = v.execute(&contract, Entry::Call, Box::new(FakeHost::new()), Vec::new(), 100_000);
    let out = out.unwrap();
    assert!(matches!(&out.status, Status::Failure(m) if m.contains("reserved")), "{:?}", out.status);
}

#[test]
fn compiled_modules_survive_a_restart_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let config = VmConfig { cache_dir: Some(dir.path().to_path_buf()), ..VmConfig::default() };
    let code = wasm(ECHO_STORE);
    let first = Vm::new(config.clone()).unwrap();
    first.prepare(&code).unwrap();
    assert_eq!(first.stats.compiled.load(Ordering::Relaxed), 1);
    let second = Vm::new(config.clone()).unwrap();
    let contract = second.prepare(&code).unwrap();
    assert_eq!(second.stats.compiled.load(Ordering::Relaxed), 0);
    assert_eq!(second.stats.loaded_from_disk.load(Ordering::Relaxed), 1);
    let (_, out) = second.execute(&contract, Entry::Call, Box::new(FakeHost::new()), b"x".to_vec(), 1_000_000);
    assert_eq!(out.unwrap().status, Status::Success);
    // A corrupted cache file is ignored, not loaded.
    let entry = std::fs::read_dir(dir.path().join(format!("{:x}", second.engine_hash()))).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&entry).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&entry, bytes).unwrap();
    let third = Vm::new(config).unwrap();
    third.prepare(&code).unwrap();
    assert_eq!(third.stats.compiled.load(Ordering::Relaxed), 1);
}

/// A host whose nested calls run the same contract again, one level deeper, in the
/// real engine: a chain of frames as the executor makes them. Records the native stack
/// left at each depth.
struct ChainHost {
    vm: Arc<Vm>,
    contract: Arc<Contract>,
    ctx: CallContext,
    stack_left: Arc<Mutex<Vec<(u32, usize)>>>,
}

impl Host for ChainHost {
    fn context(&self) -> &CallContext {
        &self.ctx
    }
    fn storage_read(&mut self, _: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
        Ok(None)
    }
    fn storage_write(&mut self, _: &[u8], _: Option<&[u8]>) -> Result<bool, HostError> {
        Ok(false)
    }
    fn balance(&mut self, _: &strata_primitives::Address) -> Result<strata_primitives::U256, HostError> {
        Ok(Default::default())
    }
    fn emit_log(&mut self, _: Vec<B256>, _: Vec<u8>) -> Result<(), HostError> {
        Ok(())
    }
    fn call(&mut self, call: SubCall) -> Result<SubCallResult, HostError> {
        if let Some(left) = stack::remaining() {
            self.stack_left.lock().push((self.ctx.depth, left));
        }
        let ctx = CallContext { depth: self.ctx.depth + 1, ..self.ctx };
        let host = ChainHost { vm: self.vm.clone(), contract: self.contract.clone(), ctx, stack_left: self.stack_left.clone() };
        let (_, out) = self.vm.execute(&self.contract, Entry::Call, Box::new(host), call.input, call.gas);
        let out = out.map_err(|e| HostError::Node(e.to_string()))?;
        Ok(SubCallResult { status: out.status.call_status(), gas_used: out.gas_used, output: out.output })
    }
    fn block_hash(&mut self, _: u64) -> Result<Option<B256>, HostError> {
        Ok(None)
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// Input for a chain of `levels` frames, each recursing `n` times before the next call.
fn chain_input(n: u32, levels: usize) -> Vec<u8> {
    let mut input = Vec::new();
    for _ in 0..levels {
        input.extend_from_slice(&n.to_le_bytes());
        input.extend_from_slice(&[0x11; 20]);
    }
    input.extend_from_slice(&n.to_le_bytes());
    input
}

fn run_chain(vm: &Arc<Vm>, contract: &Arc<Contract>, input: Vec<u8>, stack_left: &Arc<Mutex<Vec<(u32, usize)>>>) -> Result<Outcome> {
    let host = ChainHost { vm: vm.clone(), contract: contract.clone(), ctx: FakeHost::new().ctx, stack_left: stack_left.clone() };
    vm.execute(contract, Entry::Call, Box::new(host), input, 4_000_000_000).1
}

#[test]
fn a_deep_chain_of_frames_each_near_its_stack_limit_cannot_crash_the_node() {
    let vm = Arc::new(vm());
    let contract = vm.prepare(&wasm(include_str!("../../../tests/wat/deep_chain.wat"))).unwrap();
    let stack_left = Arc::new(Mutex::new(Vec::new()));
    // The deepest recursion one frame survives: the largest `n` without a stack overflow.
    let (mut lo, mut hi) = (0u32, 200_000u32);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let out = run_chain(&vm, &contract, chain_input(mid, 0), &stack_left).unwrap();
        if out.status == Status::Success { lo = mid } else { hi = mid }
    }
    assert!(lo > 1_000, "recursion depth {lo}");
    let levels = vm.limits().max_call_depth as usize + 2;
    // From a thread with a tokio worker's stack (2 MiB), as an RPC handler would call it.
    let (vm2, contract2, left2) = (vm.clone(), contract.clone(), stack_left.clone());
    let out = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || run_chain(&vm2, &contract2, chain_input(lo, levels), &left2))
        .unwrap()
        .join()
        .expect("the process survives")
        .unwrap();
    assert_eq!(out.status, Status::Success);
    assert_eq!(out.output, vec![0], "the chain's first call succeeded; its depth limit was met deterministically far below");
    assert!(vm.stats.stack_hops.load(Ordering::Relaxed) > 0, "the top-level frame moved to a thread with a big stack");
    // Every level ran to its full recursion, and the native stack each level took stays
    // within what the engine reserves per frame.
    let left = stack_left.lock().clone();
    let chain: Vec<usize> = left.iter().rev().take(vm.limits().max_call_depth as usize).map(|(_, l)| *l).collect();
    let per_frame: Vec<usize> = chain.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
    let worst = per_frame.iter().copied().max().unwrap_or(0);
    println!(
        "native stack per nested frame: worst {worst} bytes (Wasm budget {}, host reserve {})",
        vm.limits().max_wasm_stack,
        stack::HOST_STACK_PER_FRAME
    );
    assert!(worst <= vm.limits().max_wasm_stack + stack::HOST_STACK_PER_FRAME, "{worst}");
    // Deterministic: the same call gives the same outcome and gas.
    let again = run_chain(&vm, &contract, chain_input(lo, levels), &stack_left).unwrap();
    assert_eq!((again.status, again.gas_used), (out.status, out.gas_used));
}

#[test]
fn a_frame_that_cannot_fit_on_the_stack_is_a_node_error_not_a_crash() {
    let vm = vm();
    let contract = vm.prepare(&wasm(ECHO_STORE)).unwrap();
    // An execution thread that claims a stack far too small for one more frame.
    let out = stack::on_vm_stack(vm.limits().max_wasm_stack, || {
        let (_, out) = vm.execute(&contract, Entry::Call, Box::new(FakeHost::new()), b"x".to_vec(), 1_000_000);
        out
    });
    assert!(matches!(out, Err(Error::Host(m)) if m.contains("native stack")));
}

#[test]
fn entry_points_must_be_unit_functions() {
    let vm = vm();
    let wat = r#"(module (memory (export "memory") 1) (func (export "call") (param i32)))"#;
    let Err(DeployError::Invalid(m)) = vm.prepare(&wasm(wat)) else { panic!("a call export taking a parameter deploys") };
    assert!(m.contains("() -> ()"), "{m}");
    let wat = r#"(module (memory (export "memory") 1) (func (export "call")) (func (export "deploy") (result i32) (i32.const 0)))"#;
    assert!(matches!(vm.prepare(&wasm(wat)), Err(DeployError::Invalid(_))));
}

#[test]
fn growth_beyond_the_declared_maximum_returns_minus_one() {
    let wat = r#"(module
      (import "env" "return_data" (func $ret (param i32 i32)))
      (memory (export "memory") 1 2)
      (func (export "call")
        (i32.store (i32.const 0) (memory.grow (i32.const 5)))
        (call $ret (i32.const 0) (i32.const 4))))"#;
    let (_, out) = run(&vm(), wat, b"", 1_000_000);
    assert_eq!(out.status, Status::Success);
    assert_eq!(out.output, (-1i32).to_le_bytes());
}

#[test]
fn a_deadline_interrupts_execution_as_a_node_error() {
    let vm = vm();
    let contract = vm.prepare(&wasm(include_str!("../../../tests/wat/loop.wat"))).unwrap();
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_millis(50);
    let (_, out) = vm.execute_until(&contract, Entry::Call, Box::new(FakeHost::new()), Vec::new(), u64::MAX / 20, Some(deadline));
    assert!(matches!(out, Err(Error::Interrupted)), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Without a deadline the same loop runs out of gas: an outcome.
    let (_, out) = vm.execute(&contract, Entry::Call, Box::new(FakeHost::new()), Vec::new(), 100_000);
    assert_eq!(out.unwrap().status, Status::Failure("out of gas".into()));
}

/// Modules that differ only in a constant: distinct code hashes.
fn variant(i: u32) -> Vec<u8> {
    wasm(&format!(r#"(module (memory (export "memory") 1) (global i32 (i32.const {i})) (func (export "call")))"#))
}

#[test]
fn the_memory_cache_evicts_the_least_recently_used() {
    let vm = Vm::new(VmConfig { memory_cache_entries: 2, ..VmConfig::default() }).unwrap();
    let (a, b, c) = (vm.prepare(&variant(1)).unwrap(), vm.prepare(&variant(2)).unwrap(), vm.prepare(&variant(3)).unwrap());
    assert!(vm.cached(&a.code_hash).is_none() && vm.cached(&b.code_hash).is_some() && vm.cached(&c.code_hash).is_some());
    // Using `b` makes `c` the least recently used: a new entry evicts `c`, whatever the hashes.
    assert!(vm.cached(&b.code_hash).is_some());
    vm.prepare(&variant(4)).unwrap();
    assert!(vm.cached(&b.code_hash).is_some());
    assert!(vm.cached(&c.code_hash).is_none());
    assert_eq!(vm.memory_cache_usage().0, 2);
}

#[test]
fn transient_compilation_fills_no_cache() {
    let dir = tempfile::tempdir().unwrap();
    let vm = Vm::new(VmConfig { cache_dir: Some(dir.path().to_path_buf()), ..VmConfig::default() }).unwrap();
    let c = vm.prepare_with(&variant(7), CachePolicy::Transient).unwrap();
    assert!(vm.cached(&c.code_hash).is_none());
    assert_eq!(vm.disk_cache().unwrap().usage(), (0, 0));
    assert_eq!(vm.memory_cache_usage(), (0, 0));
    // Paid-for code is kept.
    let k = vm.prepare(&variant(8)).unwrap();
    assert!(vm.cached(&k.code_hash).is_some() && vm.disk_cache().unwrap().contains(&k.code_hash));
}

#[test]
fn the_disk_cache_stays_within_its_bound_evicting_the_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let one = {
        let probe = Vm::new(VmConfig { cache_dir: Some(dir.path().join("probe")), ..VmConfig::default() }).unwrap();
        probe.prepare(&variant(0)).unwrap();
        probe.disk_cache().unwrap().usage().1
    };
    let config = VmConfig { cache_dir: Some(dir.path().join("c")), disk_cache_bytes: one * 3 + one / 2, ..VmConfig::default() };
    let vm = Vm::new(config.clone()).unwrap();
    let hashes: Vec<B256> = (1..=3)
        .map(|i| {
            // File times are as coarse as the kernel's tick: keep the writes apart.
            std::thread::sleep(Duration::from_millis(30));
            vm.prepare(&variant(i)).unwrap().code_hash
        })
        .collect();
    // A restarted node uses the first module (from disk): the second is now the oldest.
    drop(vm);
    let vm = Vm::new(config.clone()).unwrap();
    assert!(vm.load(hashes[0], &variant(1)).is_ok());
    assert_eq!(vm.stats.loaded_from_disk.load(Ordering::Relaxed), 1);
    vm.prepare(&variant(4)).unwrap();
    let disk = vm.disk_cache().unwrap();
    assert!(disk.usage().1 <= config.disk_cache_bytes, "{:?}", disk.usage());
    assert!(disk.contains(&hashes[0]) && !disk.contains(&hashes[1]) && disk.contains(&hashes[2]));
    let files = std::fs::read_dir(dir.path().join("c").join(format!("{:x}", vm.engine_hash()))).unwrap().count();
    assert_eq!(files, 3);
}

/// Under an address-space limit, instantiating a contract fails for want of virtual
/// memory: that is this node's problem, never a transaction's result. Runs in a child
/// process (`ulimit -v`), since the limit applies to the whole process.
#[test]
fn host_address_space_exhaustion_is_a_node_error() {
    if std::env::var_os("STRATA_VM_AS_CHILD").is_some() {
        let vm = vm();
        let contract = vm.prepare(&wasm(ECHO_STORE)).unwrap();
        let (_, out) = vm.execute(&contract, Entry::Call, Box::new(FakeHost::new()), b"x".to_vec(), 1_000_000);
        match out {
            Err(Error::Host(m)) => println!("CHILD-OK node error: {m}"),
            other => panic!("CHILD-FAIL not a node error: {other:?}"),
        }
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 1500000 && exec "$0" "$@""#)
        .arg(exe)
        .args(["--exact", "tests::host_address_space_exhaustion_is_a_node_error", "--nocapture", "--test-threads", "1"])
        .env("STRATA_VM_AS_CHILD", "1")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("CHILD-OK"), "{text}");
}

#[test]
fn deploy_gas_counts_bytes_and_defined_functions() {
    let vm = vm();
    let one = wasm(r#"(module (memory (export "memory") 1) (func (export "call")))"#);
    let many = wasm(&format!(r#"(module (memory (export "memory") 1) {} (func (export "call")))"#, "(func)".repeat(100)));
    assert_eq!(vm.deploy_gas(&one).unwrap(), gas::deploy(one.len(), 1));
    assert_eq!(vm.deploy_gas(&many).unwrap(), gas::DEPLOY_PER_BYTE * many.len() as u64 + gas::DEPLOY_PER_FUNCTION * 101);
    // Imports are not compiled: not counted.
    let imports = wasm(r#"(module (import "env" "caller" (func (param i32))) (memory (export "memory") 1) (func (export "call")))"#);
    assert_eq!(vm.deploy_gas(&imports).unwrap(), gas::deploy(imports.len(), 1));
    // Found by a parse, before any compilation.
    assert_eq!(vm.stats.compiled.load(Ordering::Relaxed), 0);
}

#[test]
fn block_hash_writes_a_known_hash_or_answers_zero_and_charges_first() {
    const WAT: &str = r#"(module
      (import "env" "block_hash" (func $block_hash (param i64 i32) (result i32)))
      (import "env" "return_data" (func $return_data (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "call")
        (i32.store (i32.const 0) (call $block_hash (i64.const 41) (i32.const 4)))
        (i32.store (i32.const 36) (call $block_hash (i64.const 7) (i32.const 40)))
        (i32.store (i32.const 72) (call $block_hash (i64.const -1) (i32.const 40)))
        (call $return_data (i32.const 0) (i32.const 76))))"#;
    let vm = vm();
    let contract = vm.prepare(&wasm(WAT)).unwrap();
    let mut host = FakeHost::new();
    host.block_hashes.insert(41, B256::repeat_byte(0x41));
    let (_, out) = vm.execute(&contract, Entry::Call, Box::new(host.clone()), Vec::new(), 1_000_000);
    let out = out.unwrap();
    assert_eq!(out.status, Status::Success);
    assert_eq!(&out.output[0..4], &1i32.to_le_bytes());
    assert_eq!(&out.output[4..36], B256::repeat_byte(0x41).as_slice());
    // Unknown and negative numbers: 0, nothing written.
    assert_eq!(&out.output[36..40], &0i32.to_le_bytes());
    assert_eq!(&out.output[40..72], &[0u8; 32]);
    assert_eq!(&out.output[72..76], &0i32.to_le_bytes());
    assert!(out.gas_used >= gas::FRAME + 3 * gas::BLOCK_HASH, "{}", out.gas_used);
    // Too little gas for the first read: out of gas before anything is written.
    let (_, out) = vm.execute(&contract, Entry::Call, Box::new(host), Vec::new(), gas::FRAME + gas::BLOCK_HASH / 2);
    assert_eq!(out.unwrap().status, Status::Failure("out of gas".into()));
}

#[test]
fn a_deploy_is_bound_by_the_transaction_a_genesis_module_by_the_stored_code_limit() {
    let v = vm();
    // A valid module padded past the deploy limit by a custom section.
    let mut code = wasm(r#"(module (memory (export "memory") 1) (func (export "call")))"#);
    let pad = MAX_CODE_SIZE + 10;
    code.push(0); // custom section id
    let mut len = (pad + 3) as u32; // payload: name length (1) + name (2) + filler
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        code.push(if len == 0 { byte } else { byte | 0x80 });
        if len == 0 {
            break;
        }
    }
    code.extend_from_slice(&[2, b'p', b'd']);
    code.extend(std::iter::repeat_n(0u8, pad));
    assert!(matches!(v.prepare(&code).unwrap_err(), DeployError::TooLarge { .. }));
    let system = v.prepare_system(&code).unwrap();
    // Cached by the genesis, still refused as a deploy; loaded from state, accepted.
    assert!(matches!(v.prepare(&code).unwrap_err(), DeployError::TooLarge { .. }));
    assert_eq!(vm().load(system.code_hash, &code).unwrap().code_hash, system.code_hash);
    let huge = vec![0u8; MAX_STORED_CODE_SIZE + 1];
    assert!(matches!(v.prepare_system(&huge).unwrap_err(), DeployError::TooLarge { .. }));
}
