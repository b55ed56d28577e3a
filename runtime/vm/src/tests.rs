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
