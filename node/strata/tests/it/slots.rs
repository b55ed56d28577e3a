//! Validator slots with real processes: 4 slots × 2 machines (`strata init --backups`,
//! eight `strata run`), each machine with its own key and RocksDB, TCP on 127.0.0.1.
//! The active machine of a slot is killed with SIGKILL: its backup takes over after the
//! chain's window of evidence and the chain keeps committing; then a second slot's
//! active machine dies (the chain would halt without the first switch); the first
//! primary comes back and follows as a sync node; a third slot's sync node is cut off
//! when its active machine dies, and is not promoted until it is heard from again.
//! Every certificate is checked against the keys active at its height, as the chain's
//! state names them.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use strata_primitives::{
    Address, Bytes, CommitCertificate, TxKind, U256, ValidatorSet, hex,
    rlp_item::decode_exact,
    set_proof::{SetProof, verify_set},
    transaction::build,
};

use crate::{
    procs::{Procs, set_config},
    rpc::hex_u128,
};

const CHAIN_ID: u64 = 4343;
/// Blocks of evidence a switch needs (the test chain's `slot_window`).
const WINDOW: u64 = 4;

struct Machines {
    procs: Procs,
    /// Prometheus endpoints, by machine.
    metrics: Vec<std::net::SocketAddr>,
    genesis: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Machines {
    type Target = Procs;
    fn deref(&self) -> &Procs {
        &self.procs
    }
}

impl std::ops::DerefMut for Machines {
    fn deref_mut(&mut self) -> &mut Procs {
        &mut self.procs
    }
}

impl Machines {
    fn new(slots: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        let machines = slots * 2;
        let p2p = crate::free_ports(machines as u16).to_string();
        let rpc = crate::free_ports(machines as u16).to_string();
        let metrics = crate::free_ports(machines as u16);
        let status = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["init", "--out", out.to_str().unwrap(), "--validators", &slots.to_string(), "--backups"])
            .args(["--chain-id", &CHAIN_ID.to_string(), "--p2p-port", &p2p, "--rpc-port", &rpc])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let genesis_path = out.join("genesis.json");
        let mut genesis: Value = serde_json::from_str(&std::fs::read_to_string(&genesis_path).unwrap()).unwrap();
        genesis["slot_window"] = WINDOW.into();
        // Slot 3's operator is a funded account (dev account 1), to plan a switch by
        // transaction.
        genesis["validators"][3]["operator"] = json!(strata_node::dev_accounts().unwrap()[1].signer.address());
        std::fs::write(&genesis_path, serde_json::to_string_pretty(&genesis).unwrap()).unwrap();
        let mut configs = Vec::new();
        let mut urls = Vec::new();
        let mut metrics_urls = Vec::new();
        for m in 0..machines {
            let name = if m < slots { format!("validator-{m}") } else { format!("validator-{}-backup", m - slots) };
            let path = out.join(name).join("config.toml");
            set_config(&path, &[("block_time_ms", "150"), ("empty_block_ms", "150"), ("view_timeout_ms", "1000")]);
            let text = std::fs::read_to_string(&path).unwrap();
            let text = format!("{text}\nmetrics_addr = \"127.0.0.1:{}\"\n", metrics + m as u16);
            std::fs::write(&path, text).unwrap();
            metrics_urls.push(std::net::SocketAddr::from(([127, 0, 0, 1], metrics + m as u16)));
            urls.push(format!("http://{}", strata_node::config::ValidatorConfig::load(&path).unwrap().rpc_addr));
            configs.push(path);
        }
        let mut m = Self { procs: Procs::new(configs, urls), metrics: metrics_urls, genesis: genesis_path, _dir: dir };
        for i in 0..machines as usize {
            m.start(i);
        }
        m
    }

    /// The value of gauge `line` (name and labels) on machine `i`'s `/metrics`.
    async fn gauge(&self, i: usize, line: &str) -> Option<u64> {
        let (_, text) = crate::dev_node::http_get(self.metrics[i], "/metrics").await;
        text.lines().find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
    }

    async fn height(&self, i: usize) -> u64 {
        self.rpc(i).maybe("eth_blockNumber", vec![]).await.map_or(0, |v| hex_u128(&v) as u64)
    }

    /// `strata_validatorSlots` at `block` on machine `i`.
    async fn slots(&self, i: usize, block: u64) -> Value {
        self.rpc(i).call("strata_validatorSlots", vec![json!(format!("{block:#x}"))]).await
    }

    /// Waits until slot `slot`'s backup is active on machine `i`; returns the height of
    /// the block whose end decided it.
    async fn wait_switch(&self, i: usize, slot: usize, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            let head = self.height(i).await;
            let s = self.slots(i, head).await;
            if s["slots"][slot]["backupActive"] == json!(true) {
                return hex_u128(&s["slots"][slot]["lastSwitch"]) as u64;
            }
            assert!(Instant::now() < deadline, "slot {slot} did not switch within {within:?}: {s}\nlog:\n{}", self.tail(i));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every certificate of blocks `1..=height` on machine `i` verified against the keys
    /// active at its height (from the state two blocks before), and those keys one per
    /// slot; returns the signers' keys per height.
    async fn verify_certificates(&self, i: usize, height: u64) -> Vec<Vec<Address>> {
        let rpc = self.rpc(i);
        let mut signers = Vec::new();
        for h in 1..=height {
            let slots = self.slots(i, h - 1).await;
            let active: Vec<Address> =
                slots["slots"].as_array().unwrap().iter().map(|s| s["active"].as_str().unwrap().parse().unwrap()).collect();
            let cert = rpc.call("strata_getCommitCertificate", vec![json!(format!("{h:#x}"))]).await;
            let raw: Bytes = cert["raw"].as_str().unwrap().parse().unwrap();
            let cert = decode_exact::<CommitCertificate>(&raw).unwrap();
            let set = ValidatorSet::new(active.clone());
            cert.verify(&set, CHAIN_ID).unwrap_or_else(|e| panic!("certificate of block {h} against {active:?}: {e}"));
            signers.push(cert.signatures.iter().map(|s| active[s.validator as usize]).collect());
        }
        signers
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4x2_active_crash_backup_takes_over_and_the_chain_outlives_a_second_crash() {
    let _serial = crate::exclusive().await;
    let mut m = Machines::new(4);
    let started = Instant::now();
    m.wait_height(4, 6, Duration::from_secs(60)).await;
    let genesis = m.slots(4, 0).await;
    let primary2: Address = genesis["slots"][2]["primary"].as_str().unwrap().parse().unwrap();
    let backup2: Address = genesis["slots"][2]["backup"].as_str().unwrap().parse().unwrap();

    // The active machine of slot 2 dies.
    let killed_at = m.height(0).await;
    let killed = Instant::now();
    m.kill(2);
    let decided = m.wait_switch(0, 2, Duration::from_secs(90)).await;
    m.wait_height(0, decided + 3, Duration::from_secs(60)).await;
    let first_signed = {
        let signers = m.verify_certificates(0, decided + 3).await;
        (decided + 2..=decided + 3).find(|h| signers[*h as usize - 1].contains(&backup2)).expect("the backup signs once active")
    };
    println!(
        "slot 2: primary killed at height {killed_at}, switch decided at {decided} (window {WINDOW}), backup signs from {first_signed}: \
         {} blocks, {:.1} s after the kill",
        first_signed - killed_at,
        killed.elapsed().as_secs_f64()
    );
    assert!(decided <= killed_at + WINDOW + 6, "the switch came {} blocks after the kill", decided - killed_at);

    // Slot 0's active machine dies too: 3 of 4 slots remain active, a quorum, only
    // because slot 2 switched.
    let before = m.height(1).await;
    m.kill(0);
    m.wait_height(1, before + 5, Duration::from_secs(90)).await;

    // The first primary comes back: it follows as slot 2's sync node.
    m.start(2);
    let head = m.height(1).await;
    m.wait_height(2, head, Duration::from_secs(60)).await;
    let now = m.slots(1, m.height(1).await).await;
    assert_eq!(now["slots"][2]["active"].as_str().unwrap().parse::<Address>().unwrap(), backup2, "the revived primary stays the alternate");
    // Operators see it: the roles and the switch on every machine's /metrics.
    assert_eq!(m.gauge(6, "strata_slot_role").await, Some(1), "slot 2's backup is active");
    assert_eq!(m.gauge(2, "strata_slot_role").await, Some(0), "slot 2's primary is the sync node");
    assert_eq!(m.gauge(1, "strata_slot_backup_active{slot=\"2\"}").await, Some(1));
    assert_eq!(m.gauge(1, "strata_slot_last_switch{slot=\"2\"}").await, Some(decided));

    // Slot 1's sync node is cut off (frozen), then its active machine dies: the chain
    // does not promote a machine it has not heard from (slot 0's backup has taken over,
    // so three slots still sign). Reconnected, the same rule promotes it.
    m.wait_switch(3, 0, Duration::from_secs(90)).await;
    m.signal(5, "-STOP");
    m.kill(1);
    let from = m.height(3).await;
    m.wait_height(3, from + 3 * WINDOW, Duration::from_secs(90)).await;
    let head = m.height(3).await;
    assert_eq!(m.slots(3, head).await["slots"][1]["backupActive"], json!(false), "a silent sync node is not promoted");
    m.signal(5, "-CONT");
    let promoted = m.wait_switch(3, 1, Duration::from_secs(90)).await;
    assert!(promoted > head, "promoted only once heard from again");
    m.wait_height(3, promoted + 2, Duration::from_secs(60)).await;

    // No key of a slot ever signed at a height where it was not the slot's active key,
    // and the two keys of slot 2 never both signed one height.
    let end = m.height(3).await;
    let signers = m.verify_certificates(3, end).await;
    for (h, keys) in signers.iter().enumerate() {
        assert!(!(keys.contains(&primary2) && keys.contains(&backup2)), "both keys of slot 2 at height {}", h + 1);
    }
    println!("8 machines, {end} blocks in {:.1} s, every certificate checked against its height's keys", started.elapsed().as_secs_f64());

    // Auditors holding only genesis.json: the set of the head is proven across the three
    // switches, and a receipt of a block after them verifies with `strata audit`.
    let proof = m.rpc(3).call("strata_getValidatorSetProof", vec![json!(format!("{end:#x}"))]).await;
    let raw: Bytes = proof["proof"].as_str().unwrap().parse().unwrap();
    let proof = decode_exact::<SetProof>(&raw).unwrap();
    let switches: Vec<u64> = proof.links.iter().map(|l| l.header.number).collect();
    assert!(switches.len() >= 3 && switches.contains(&decided) && switches.contains(&promoted), "slots 2, 0 and 1 switched: {switches:?}");
    let genesis_set =
        ValidatorSet::new(genesis["slots"].as_array().unwrap().iter().map(|s| s["primary"].as_str().unwrap().parse().unwrap()).collect());
    let proven = verify_set(&genesis_set, CHAIN_ID, &proof, end).unwrap();
    let head_slots = m.slots(3, end - 1).await;
    let active: Vec<Address> =
        head_slots["slots"].as_array().unwrap().iter().map(|s| s["active"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(proven.validators, active);
    let key = &strata_node::dev_accounts().unwrap()[0].signer;
    let tx =
        build::eip1559(CHAIN_ID, 0, TxKind::Call(Address::repeat_byte(0x42)), U256::from(1u64), Bytes::new(), 30_000, 2_000_000_000, 0);
    let raw = key.sign_transaction(tx).unwrap().encoded();
    let hash = m.rpc(3).call("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(&raw)))]).await;
    let hash = hash.as_str().unwrap().to_string();
    m.rpc(3).wait_receipt(&hash).await;
    let save = m.genesis.with_file_name("receipt.json");
    let audit = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_strata")).arg("audit").arg("receipt").args(args).output().unwrap();
    let (genesis_arg, save_arg) = (m.genesis.to_str().unwrap(), save.to_str().unwrap());
    let out = audit(&[&hash, "--rpc", &m.urls[3], "--genesis", genesis_arg, "--save", save_arg]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("VERIFIED:") && text.contains("switch(es)"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same bundle with the switches left out: the certificate's signers are not the
    // genesis keys, so it proves nothing.
    let mut bundle: Value = serde_json::from_str(&std::fs::read_to_string(&save).unwrap()).unwrap();
    bundle["validatorSetProof"] = json!(format!("0x{}", hex::encode(strata_primitives::rlp::encode(SetProof::default()))));
    std::fs::write(&save, bundle.to_string()).unwrap();
    let out = audit(&["--offline", save_arg, "--genesis", genesis_arg]);
    assert!(!out.status.success(), "without its switches the receipt must not verify: {}", String::from_utf8_lossy(&out.stdout));

    // A planned switch by transaction: slot 3's operator asks its roles to swap a few
    // blocks ahead (maintenance); from that height slot 3's backup signs for it.
    use alloy_sol_types::SolCall;
    let backup3: Address = genesis["slots"][3]["backup"].as_str().unwrap().parse().unwrap();
    let at = m.height(3).await + 8;
    let call = strata_primitives::interfaces::IValidatorSlots::scheduleSwitchCall { slot: 3, atHeight: at }.abi_encode();
    let operator = &strata_node::dev_accounts().unwrap()[1].signer;
    let tx = build::eip1559(
        CHAIN_ID,
        0,
        TxKind::Call(strata_primitives::slots::VALIDATOR_SLOTS),
        U256::ZERO,
        call.into(),
        200_000,
        2_000_000_000,
        0,
    );
    let raw = operator.sign_transaction(tx).unwrap().encoded();
    let hash = m.rpc(3).call("eth_sendRawTransaction", vec![json!(format!("0x{}", hex::encode(&raw)))]).await;
    let receipt = m.rpc(3).wait_receipt(hash.as_str().unwrap()).await;
    assert_eq!(receipt["status"], json!("0x1"), "the operator's scheduleSwitch: {receipt}");
    m.wait_height(3, at + 2, Duration::from_secs(60)).await;
    let signers = m.verify_certificates(3, at + 2).await;
    assert!(
        signers[at as usize + 1].contains(&backup3),
        "slot 3's backup signs from the planned height: {:?}",
        &signers[at as usize - 2..]
    );
    assert!(signers[at as usize - 2..at as usize - 1].iter().all(|s| !s.contains(&backup3)), "not before it");
}
