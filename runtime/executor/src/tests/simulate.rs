//! Simulation: results and gas estimation match execution, and simulated deploys
//! leave the module caches untouched.

use super::*;

#[test]
fn simulation_and_estimation() {
    let state = funded(10u128.pow(20));
    let v = vm();
    let cold = MemKv::shared();
    let sim = Simulation::new(key().address(), None, U256::ZERO, deploy_data(COUNTER, b"o").into(), 5_000_000);
    let out = simulate(state.clone(), v.clone(), cold.clone(), env(), &sim).unwrap();
    assert!(out.success && out.contract_address == Some(key().address().create(0)));
    assert!(out.resources.storage_bytes_paid > 4096, "code + default quota: {:?}", out.resources);
    let estimate = estimate_gas(state.clone(), v.clone(), cold.clone(), env(), &sim, 30_000_000).unwrap().unwrap();
    assert!(estimate <= out.gas_used + 1 && estimate > 53_000);
    assert!(simulate(state.clone(), v.clone(), cold.clone(), env(), &Simulation { gas: estimate, ..sim.clone() }).unwrap().success);
    assert!(!simulate(state, v, cold, env(), &Simulation { gas: estimate - 1, ..sim }).unwrap().success);
}

#[test]
fn simulated_deploys_fill_no_module_cache() {
    let dir = tempfile::tempdir().unwrap();
    let state = funded(10u128.pow(20));
    let v = Arc::new(Vm::new(VmConfig { cache_dir: Some(dir.path().to_path_buf()), ..VmConfig::default() }).unwrap());
    // A module no one deployed on chain, with a constructor that writes storage.
    let wat = COUNTER.replace("(memory (export \"memory\") 1)", "(memory (export \"memory\") 1) (global i32 (i32.const 424242))");
    let code = wat::parse_str(&wat).unwrap();
    let hash = keccak256(&code);
    let sim = Simulation::new(key().address(), None, U256::ZERO, deploy::encode(&code, b"o").into(), 5_000_000);
    assert!(simulate(state, v.clone(), MemKv::shared(), env(), &sim).unwrap().success);
    assert!(v.stats.compiled.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert!(v.cached(&hash).is_none(), "nothing added to the memory cache");
    assert!(!v.disk_cache().unwrap().contains(&hash), "nothing written to disk");
    // The same deploy in a block is paid for: its module is kept.
    let mut b = BlockBuilder::new(env(), funded(10u128.pow(20)), v.clone(), MemKv::shared(), payees()).unwrap();
    assert!(included(&mut b, &tx(0, TxKind::Create, 0, deploy::encode(&code, b"o"), 5_000_000)).success);
    assert!(v.cached(&hash).is_some() && v.disk_cache().unwrap().contains(&hash));
}
