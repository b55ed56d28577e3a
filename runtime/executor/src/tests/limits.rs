//! Bounds: a chain of contracts each near its stack limit, the largest module in the
//! largest transaction, and the byte limit of a block.

use super::*;

/// Deploy data of `tests/wat/deep_chain.wat`: it recurses `n` times with large frames,
/// then calls the next address of its input (see the file).
fn deep_chain_input(n: u32, chain: &[Address]) -> Vec<u8> {
    let mut input = Vec::new();
    for a in chain {
        input.extend_from_slice(&n.to_le_bytes());
        input.extend_from_slice(a.as_slice());
    }
    input.extend_from_slice(&n.to_le_bytes());
    input
}

#[test]
fn a_chain_of_contracts_each_near_its_stack_limit_fails_deterministically_from_any_thread() {
    let (_, db, root, kv) = funded_db(10u128.pow(24));
    let v = vm();
    let levels = v.limits().max_call_depth as usize + 4;
    // Deploy the contracts in block 1.
    let mut b = BlockBuilder::new(env(), Arc::new(db.clone()), v.clone(), MemKv::shared(), payees()).unwrap();
    let code = wat::parse_str(include_str!("../../../../tests/wat/deep_chain.wat")).unwrap();
    let addresses: Vec<Address> = (0..levels as u64)
        .map(|nonce| {
            let r = included(&mut b, &tx(nonce, TxKind::Create, 0, deploy::encode(&code, &[]), 5_000_000));
            assert!(r.success, "{}", String::from_utf8_lossy(&r.failure));
            Address::from_slice(&r.contract_address)
        })
        .collect();
    let mut batch = WriteBatch::new();
    db.commit(1, root, &b.finish().changes, &mut batch).unwrap();
    kv.write(batch).unwrap();
    let state: Arc<dyn StateReader + Send + Sync> = Arc::new(db.clone());
    let env2 = BlockEnv { number: 2, ..env() };
    let call = |input: Vec<u8>| {
        let sim = Simulation::new(key().address(), Some(addresses[0]), U256::ZERO, input.into(), 30_000_000);
        simulate(state.clone(), v.clone(), MemKv::shared(), env2, &sim).unwrap()
    };
    // The deepest recursion one frame survives.
    let (mut lo, mut hi) = (0u32, 100_000u32);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if call(deep_chain_input(mid, &[])).success { lo = mid } else { hi = mid }
    }
    let input = deep_chain_input(lo, &addresses[1..]);
    // From a thread with a tokio worker's 2 MiB stack: before the fix, the process died here.
    let (state2, v2, input2, to) = (state.clone(), v.clone(), input.clone(), addresses[0]);
    let simulated = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let sim = Simulation::new(key().address(), Some(to), U256::ZERO, input2.into(), 30_000_000);
            simulate(state2, v2, MemKv::shared(), env2, &sim).unwrap()
        })
        .unwrap()
        .join()
        .expect("the process survives");
    assert!(simulated.success, "{simulated:?}");
    assert_eq!(simulated.output, vec![0], "the first nested call succeeded: the depth limit stopped the chain deterministically below");
    // The same as a transaction in a block, twice on independent builders: identical receipts.
    let receipts: Vec<StoredReceipt> = (0..2)
        .map(|_| {
            let mut b = BlockBuilder::new(env2, state.clone(), vm(), MemKv::shared(), payees()).unwrap();
            included(&mut b, &tx(levels as u64, TxKind::Call(addresses[0]), 0, input.clone(), 30_000_000))
        })
        .collect();
    assert!(receipts[0].success);
    assert_eq!(receipts[0], receipts[1]);
}

/// `module` padded with a custom section to exactly `size` bytes.
fn padded(module: &[u8], size: usize) -> Vec<u8> {
    let leb = |mut n: usize| {
        let mut out = Vec::new();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    };
    let name = b"pad";
    for payload in (0..size).rev() {
        let body_len = 1 + name.len() + payload;
        let mut out = module.to_vec();
        out.push(0);
        out.extend(leb(body_len));
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend(std::iter::repeat_n(0u8, payload));
        if out.len() == size {
            return out;
        }
    }
    panic!("cannot pad to {size}");
}

#[test]
fn the_largest_module_is_deployable_in_the_largest_transaction() {
    let base = wat::parse_str(COUNTER).unwrap();
    let largest = padded(&base, strata_vm::MAX_CODE_SIZE);
    let mut b = BlockBuilder::new(env(), funded(10u128.pow(24)), vm(), MemKv::shared(), payees()).unwrap();
    let t = tx(0, TxKind::Create, 0, deploy::encode(&largest, &[7; 100]), 30_000_000);
    assert!(t.tx.encoded_len() <= MAX_TX_SIZE, "{} bytes", t.tx.encoded_len());
    let r = included(&mut b, &t);
    assert!(r.success, "{}", String::from_utf8_lossy(&r.failure));
    // One byte more is refused at deploy, naming the limit.
    println!("the largest deploy used {} gas", r.gas_used);
    let mut b = BlockBuilder::new(env(), funded(10u128.pow(24)), vm(), MemKv::shared(), payees()).unwrap();
    let too_large = padded(&base, strata_vm::MAX_CODE_SIZE + 1);
    let r = included(&mut b, &tx(0, TxKind::Create, 0, deploy::encode(&too_large, &[]), 20_000_000));
    assert!(!r.success && String::from_utf8_lossy(&r.failure).contains("exceeds the limit"), "{}", String::from_utf8_lossy(&r.failure));
    // And a transaction over the size limit is not valid anywhere.
    let oversized = tx(1, TxKind::Call(Address::repeat_byte(1)), 0, vec![1; MAX_TX_SIZE], 5_000_000);
    assert!(matches!(b.apply(&oversized).unwrap(), Applied::Rejected(InvalidTx::Oversized { .. })));
}

#[test]
fn a_block_holds_at_most_max_block_bytes_of_transactions() {
    // With network bytes free, gas no longer bounds a block's size: the byte limit does.
    let prices = system::Prices { network_byte_price: U256::ZERO, ..system::Prices::dev() };
    let (state, ..) = funded_with(10u128.pow(24), &prices);
    let mut b = BlockBuilder::new(env(), state, vm(), MemKv::shared(), payees()).unwrap();
    let mut bytes = 0;
    for nonce in 0.. {
        let t = tx(nonce, TxKind::Call(Address::repeat_byte(1)), 0, vec![1; 100 * 1024], 20_000);
        match b.apply(&t).unwrap() {
            Applied::Included(_) => bytes += t.tx.encoded_len(),
            Applied::Rejected(e) => {
                assert!(matches!(e, InvalidTx::BlockFull { .. }), "{e}");
                assert!(e.is_transient());
                break;
            }
        }
    }
    assert!(bytes <= MAX_BLOCK_BYTES && bytes > MAX_BLOCK_BYTES - 101 * 1024, "{bytes}");
}
