//! `a4`: four attestors (`strata attest` processes) over a one-validator chain, reading
//! a real PostgreSQL server (one database each, so one can be tampered with), an HTTP
//! JSON endpoint served by the test, and a second chain's state; requests made and
//! followed through the `strata attest` CLI, the outcome verified offline with `strata
//! audit receipt`.
//!
//! PostgreSQL is started by `scripts/postgres.sh` (installed by `scripts/test.sh`), on
//! loopback, and stopped by its PID when the test ends.

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use strata_node::{client::Node, hierarchy::send};
use strata_primitives::{Address, Bytes, U256, attestation::digest, hex, interfaces::IAttestation, keccak256};

use crate::{
    hierarchy::{Daemon, dev, init_chain, strata, strata_async, wait_for},
    procs::Procs,
};

const ATTESTORS: usize = 4;
const REQUESTER: &str = "5";

/// The PostgreSQL server of one test, stopped (by its PID, through the script) on drop.
struct Postgres {
    dir: PathBuf,
    url: String,
}

impl Postgres {
    fn start(dir: &Path) -> Postgres {
        let script = crate::repo("scripts/postgres.sh");
        let out = std::process::Command::new("bash").arg(&script).arg("start").arg(dir).output().unwrap();
        assert!(
            out.status.success(),
            "postgres.sh start failed (install with scripts/postgres.sh install):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Postgres { dir: dir.to_path_buf(), url: String::from_utf8(out.stdout).unwrap().trim().to_string() }
    }

    fn db(&self, name: &str) -> String {
        format!("{}/{name}", self.url.rsplit_once('/').unwrap().0)
    }

    async fn exec(&self, db: &str, sql: &str) {
        let (client, conn) = tokio_postgres::connect(&self.db(db), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash").arg(crate::repo("scripts/postgres.sh")).arg("stop").arg(&self.dir).status();
    }
}

/// A JSON document served over HTTP/1.1 by the test: its body, its ETag, and how many
/// requests to answer 503 first (a source that is down, then back).
struct Doc {
    body: String,
    etag: String,
    fail: u32,
}

fn serve_doc(doc: Arc<Mutex<Doc>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
                    break;
                }
            }
            let mut d = doc.lock().unwrap();
            let response = if !request_line.starts_with("GET /records/7 ") {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            } else if d.fail > 0 {
                d.fail -= 1;
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    d.etag,
                    d.body.len(),
                    d.body
                )
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

struct World {
    dir: PathBuf,
    url: String,
    contract: String,
    attestors: Vec<Daemon>,
}

impl World {
    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// Writes `data` and requests its attestation from `source` with `params`; the id.
    async fn request(&self, source: u64, params: &Value, data: &[u8], expiry: u64) -> u64 {
        let file = self.dir.join(format!("data-{}", hex::encode(&keccak256(data)[..6])));
        std::fs::write(&file, data).unwrap();
        let (src, exp) = (source.to_string(), expiry.to_string());
        let out = strata_async(Self::s(&[
            "attest",
            "request",
            "--contract",
            &self.contract,
            "--source",
            &src,
            "--params",
            &params.to_string(),
            "--data-file",
            file.to_str().unwrap(),
            "--expiry-blocks",
            &exp,
            "--rpc",
            &self.url,
            "--dev-key",
            REQUESTER,
        ]))
        .await;
        out.trim().parse().unwrap_or_else(|_| panic!("not a request id: {out}"))
    }

    /// Reads a source as attestor 0 does (the requester's way of making its data file).
    async fn read(&self, source: u64, params: &Value) -> Vec<u8> {
        let out = self.dir.join("read.out");
        let src = source.to_string();
        strata_async(Self::s(&[
            "attest",
            "read",
            "--sources",
            self.dir.join("sources-0.toml").to_str().unwrap(),
            "--source",
            &src,
            "--params",
            &params.to_string(),
            "--out",
            out.to_str().unwrap(),
        ]))
        .await;
        std::fs::read(out).unwrap()
    }

    async fn status(&self, id: u64) -> Value {
        let out =
            strata_async(Self::s(&["attest", "status", &id.to_string(), "--contract", &self.contract, "--json", "--rpc", &self.url])).await;
        serde_json::from_str(&out).unwrap()
    }

    /// Waits for request `id` to be decided as `expected`; its status.
    async fn decided(&self, id: u64, expected: &str) -> Value {
        let logs: Vec<&Daemon> = self.attestors.iter().collect();
        let status = wait_for(&format!("request {id} decided"), Duration::from_secs(60), &logs, async || {
            let s = self.status(id).await;
            (s["status"] != "pending").then_some(s)
        })
        .await;
        assert_eq!(status["status"], expected, "{status:#}");
        status
    }
}

fn observers(status: &Value, matches: bool) -> usize {
    status["observations"].as_array().unwrap().iter().filter(|o| o["matches"] == matches).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a4_attestation_over_postgres_http_and_a_second_chain() {
    let _machine = crate::share().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let pg = Postgres::start(&dir.join("pg"));

    // The chain the contract lives on, and a second chain whose state is a source.
    let (cfg, url) = init_chain(&dir.join("main"), 4400, None);
    let (cfg2, url2) = init_chain(&dir.join("second"), 4401, None);
    let mut chains = Procs::new(vec![cfg, cfg2], vec![url.clone(), url2.clone()]);
    chains.start(0);
    chains.start(1);
    chains.wait_height(0, 1, Duration::from_secs(60)).await;
    chains.wait_height(1, 1, Duration::from_secs(60)).await;

    // Each attestor's database: the same clinic record, pinned by its `rev` column.
    for i in 0..ATTESTORS {
        pg.exec("postgres", &format!("CREATE DATABASE att{i}")).await;
        pg.exec(
            &format!("att{i}"),
            "CREATE TABLE records (id int PRIMARY KEY, name text NOT NULL, dob date, rev int NOT NULL);
             INSERT INTO records VALUES (7, 'Ada Lovelace', '1815-12-10', 3);",
        )
        .await;
    }
    // The HTTP source: an honest server (down for its first 6 requests) and a tampered one.
    let honest = Arc::new(Mutex::new(Doc {
        body: r#"{"record":{"id":7,"name":"Ada Lovelace"},"served_by":"a"}"#.into(),
        etag: "\"v3\"".into(),
        fail: 6,
    }));
    let tampered = Arc::new(Mutex::new(Doc { body: r#"{"record":{"id":7,"name":"Eve"}}"#.into(), etag: "\"v3\"".into(), fail: 0 }));
    let (honest_url, tampered_url) = (serve_doc(honest.clone()), serve_doc(tampered.clone()));

    // The contract, its attestors (dev keys 1-4), its sources (owned by the requester).
    let wasm = {
        let manifest = crate::repo("contracts/attestation");
        tokio::task::spawn_blocking(move || strata_harness::build_contract(manifest.to_str().unwrap())).await.unwrap().unwrap()
    };
    let wasm_path = dir.join("attestation.wasm");
    std::fs::write(&wasm_path, &wasm).unwrap();
    let s = World::s;
    let contract = strata_async(s(&["attest", "deploy", "--wasm", wasm_path.to_str().unwrap(), "--rpc", &url, "--dev-key", "0"]))
        .await
        .trim()
        .to_string();
    let second = strata_async(s(&["attest", "deploy", "--wasm", wasm_path.to_str().unwrap(), "--rpc", &url2, "--dev-key", "0"]))
        .await
        .trim()
        .to_string();
    for i in 1..=ATTESTORS {
        let a = dev(i).address().to_string();
        strata_async(s(&["attest", "add-attestor", &a, "--contract", &contract, "--rpc", &url, "--dev-key", "0"])).await;
    }
    for (kind, endpoint, expected) in
        [("postgres", "postgres://clinic.example/records", "1"), ("http", "https://clinic.example", "2"), ("strata", "strata:4401", "3")]
    {
        let id = strata_async(s(&[
            "attest",
            "add-source",
            "--kind",
            kind,
            "--endpoint",
            endpoint,
            "--contract",
            &contract,
            "--rpc",
            &url,
            "--dev-key",
            REQUESTER,
        ]))
        .await;
        assert_eq!(id.trim(), expected);
    }

    // The attestors: each its own database; attestor 3 reads the tampered HTTP server.
    let base = crate::free_ports(ATTESTORS as u16);
    let listen = |i: usize| format!("127.0.0.1:{}", base + i as u16);
    let mut attestors = Vec::new();
    for i in 0..ATTESTORS {
        let http = if i == 3 { &tampered_url } else { &honest_url };
        let sources = format!(
            "[[source]]\nid = 1\nkind = \"postgres\"\nurl = \"{}\"\ntables = [\"records\"]\n\n[[source]]\nid = 2\nkind = \"http\"\nurl = \"{http}\"\n\n[[source]]\nid = 3\nkind = \"strata\"\nurl = \"{url2}\"\n",
            pg.db(&format!("att{i}"))
        );
        let file = dir.join(format!("sources-{i}.toml"));
        std::fs::write(&file, sources).unwrap();
        let mut args = s(&["attest", "--contract", &contract, "--sources", file.to_str().unwrap(), "--listen", &listen(i), "--rpc", &url]);
        args.extend(s(&[
            "--dev-key",
            &(i + 1).to_string(),
            "--pass-timeout",
            "1s",
            "--hold",
            "500ms",
            "--max-backoff",
            "500ms",
            "--poll",
            "100ms",
        ]));
        for j in (0..ATTESTORS).filter(|&j| j != i) {
            args.extend(s(&["--peer", &format!("{}=http://{}", dev(j + 1).address(), listen(j))]));
        }
        attestors.push(Daemon::start(&args, dir.join(format!("attestor-{i}.log"))));
    }
    let w = World { dir: dir.clone(), url: url.clone(), contract: contract.clone(), attestors };

    // 1. PostgreSQL, all honest: attested.
    let row = json!({"table": "records", "key": {"id": "7"}, "columns": ["name", "dob"], "version": {"column": "rev", "value": "3"}});
    let data = w.read(1, &row).await;
    assert_eq!(String::from_utf8_lossy(&data), r#"{"dob":"1815-12-10","name":"Ada Lovelace"}"#);
    let id = w.request(1, &row, &data, 100).await;
    let st = w.decided(id, "attested").await;
    assert!(st["confirmations"].as_u64().unwrap() >= 2 && st["mismatches"] == 0, "{st:#}");
    // All online: the ring gathered the quorum and one transaction carried it.
    let deciding: Vec<&Value> = st["observations"].as_array().unwrap().iter().filter(|o| o["late"] == false).collect();
    assert!(deciding.len() == 2 && deciding[0]["transactionHash"] == deciding[1]["transactionHash"], "{st:#}");

    // The outcome, verified offline from the saved receipt proof.
    let bundle = dir.join("bundle.json");
    let out =
        strata_async(s(&["attest", "status", &id.to_string(), "--contract", &contract, "--save", bundle.to_str().unwrap(), "--rpc", &url]))
            .await;
    assert!(out.contains("Attested"), "{out}");
    let genesis = dir.join("main/genesis.json");
    let audit = strata_async(s(&["audit", "receipt", "--offline", bundle.to_str().unwrap(), "--genesis", genesis.to_str().unwrap()])).await;
    assert!(audit.contains("VERIFIED") && audit.contains(&format!("Attested(request {id},")), "{audit}");

    // 2. One database tampered (the row changed, its version not): still attested, and
    //    the dissent, once decided, is kept as a late observation.
    pg.exec("att3", "UPDATE records SET name = 'Eve' WHERE id = 7").await;
    let id = w.request(1, &row, &data, 100).await;
    w.decided(id, "attested").await;
    let logs: Vec<&Daemon> = w.attestors.iter().collect();
    wait_for("the tampered attestor's dissent on record", Duration::from_secs(30), &logs, async || {
        let st = w.status(id).await;
        (observers(&st, false) == 1).then_some(())
    })
    .await;

    // 3. Three tampered: rejected.
    for i in [1, 2] {
        pg.exec(&format!("att{i}"), "UPDATE records SET name = 'Eve' WHERE id = 7").await;
    }
    let id = w.request(1, &row, &data, 100).await;
    let st = w.decided(id, "rejected").await;
    assert!(st["mismatches"].as_u64().unwrap() >= 2, "{st:#}");
    for i in [1, 2, 3] {
        pg.exec(&format!("att{i}"), "UPDATE records SET name = 'Ada Lovelace' WHERE id = 7").await;
    }

    // 4. The requester lies about the data: rejected.
    let lie = br#"{"dob":"1815-12-10","name":"Ada King"}"#;
    let id = w.request(1, &row, lie, 100).await;
    w.decided(id, "rejected").await;

    // 5. The source moves on (a new version of the row): the pinned read is detected as
    //    moved, not taken for a lie — everyone abstains and the request expires.
    for i in 0..ATTESTORS {
        pg.exec(&format!("att{i}"), "UPDATE records SET rev = 4 WHERE id = 7").await;
    }
    let id = w.request(1, &row, &data, 12).await;
    let head = strata_node::hierarchy::head(&Node::connect(&url).unwrap()).await.unwrap();
    let expiry = w.status(id).await["expiry"].as_u64().unwrap();
    assert!(expiry > head);
    wait_for("the expiry of the moved request", Duration::from_secs(30), &logs, async || {
        let h = strata_node::hierarchy::head(&Node::connect(&url).unwrap()).await.ok()?;
        (h > expiry).then_some(())
    })
    .await;
    let st = w.status(id).await;
    assert_eq!(
        (st["status"].as_str(), st["confirmations"].as_u64(), st["mismatches"].as_u64()),
        (Some("pending"), Some(0), Some(0)),
        "{st:#}"
    );
    let node = Node::connect(&url).unwrap();
    send(&node, &dev(6), contract.parse().unwrap(), U256::ZERO, &IAttestation::expireCall { requestId: id }).await.unwrap();
    assert_eq!(w.status(id).await["status"], "expired");
    assert!(std::fs::read_to_string(dir.join("attestor-0.log")).unwrap().contains("moved past the pinned version"));

    // A table the attestors do not serve: refused as parameters, an abstention.
    let other = json!({"table": "pg_catalog.pg_authid", "key": {"rolname": "postgres"}, "columns": ["rolpassword"]});
    let id = w.request(1, &other, b"null", 12).await;
    wait_for("the attestors' refusal of another table", Duration::from_secs(30), &logs, async || {
        let text = std::fs::read_to_string(dir.join("attestor-2.log")).ok()?;
        text.contains("is not one this attestor reads").then_some(())
    })
    .await;
    assert_eq!(w.status(id).await["confirmations"], 0);

    // 6. HTTP: the honest server is down for its first reads (retried with backoff) and
    //    attestor 3 reads a tampered copy: attested.
    let doc = json!({"path": "/records/7", "pointer": "/record", "etag": "\"v3\""});
    let data = br#"{"id":7,"name":"Ada Lovelace"}"#;
    let id = w.request(2, &doc, data, 100).await;
    w.decided(id, "attested").await;
    assert!(std::fs::read_to_string(dir.join("attestor-0.log")).unwrap().contains("read failed; retrying"));

    // 7. A second chain's state: the owner entry of the contract deployed there, proven
    //    against the block's state root.
    let head2 = strata_node::hierarchy::head(&Node::connect(&url2).unwrap()).await.unwrap();
    let entry = json!({"block": head2, "address": second, "key": format!("0x{}", hex::encode("owner"))});
    let owner = dev(0).address();
    assert_eq!(w.read(3, &entry).await, owner.as_slice());
    let id = w.request(3, &entry, owner.as_slice(), 100).await;
    w.decided(id, "attested").await;
    let id = w.request(3, &entry, dev(1).address().as_slice(), 100).await;
    w.decided(id, "rejected").await;

    // 8. Offline, then back: three attestors stopped; the fourth submits its observation
    //    directly (no peer answers); one comes back, catches up and decides it.
    let mut w = w;
    for i in 1..ATTESTORS {
        w.attestors[i].kill();
    }
    let data = w.read(1, &json!({"table": "records", "key": {"id": "7"}, "columns": ["name"]})).await;
    let params = json!({"table": "records", "key": {"id": "7"}, "columns": ["name"]});
    let id = w.request(1, &params, &data, 200).await;
    let logs: Vec<&Daemon> = w.attestors.iter().collect();
    wait_for("the lone attestor's direct submission", Duration::from_secs(30), &logs, async || {
        let st = w.status(id).await;
        (st["confirmations"] == 1).then_some(())
    })
    .await;
    assert_eq!(w.status(id).await["status"], "pending");
    w.attestors[1].restart();
    let st = w.decided(id, "attested").await;
    assert_eq!(st["confirmations"], 2, "{st:#}");
    // Attestor 0 submitted alone (no peer answered, or its fallback), attestor 1 after it.
    let deciding: Vec<&Value> = st["observations"].as_array().unwrap().iter().collect();
    assert_ne!(deciding[0]["transactionHash"], deciding[1]["transactionHash"], "{st:#}");
    let log0 = std::fs::read_to_string(dir.join("attestor-0.log")).unwrap();
    assert!(log0.contains("no peer answered") || log0.contains("fallback: still pending"), "{log0}");
    for i in 2..ATTESTORS {
        w.attestors[i].restart();
    }

    // 9. A stranger's signature and a duplicate: ignored, each with its reason.
    let chain_id = node.chain_id().await.unwrap();
    let contract_addr: Address = contract.parse().unwrap();
    let observed = keccak256(&data);
    let sign = |key: &strata_primitives::LocalSigner| -> Bytes {
        Bytes::copy_from_slice(&key.sign_hash(&digest(chain_id, contract_addr, id, observed)).unwrap().as_bytes())
    };
    let call =
        IAttestation::attestCall { requestId: id, observedHash: observed, signatures: vec![sign(&dev(1)), sign(&dev(8)), sign(&dev(3))] };
    send(&node, &dev(6), contract_addr, U256::ZERO, &call).await.unwrap();
    let st = w.status(id).await;
    let reasons: Vec<String> = st["ignored"].as_array().unwrap().iter().map(|i| i["reason"].as_str().unwrap().to_string()).collect();
    assert!(reasons.iter().any(|r| r.contains("already reported")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains(&format!("{} was not a registered attestor", dev(8).address()))), "{reasons:?}");
    assert_eq!(st["late"], 1, "attestor 3's signature counted late: {st:#}");
    let out = strata(&["attest", "status", &id.to_string(), "--contract", &contract, "--rpc", &url]);
    assert!(out.contains("ignored") && out.contains("attested"), "{out}");
    drop(chains);
}
