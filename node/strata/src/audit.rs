//! `strata audit receipt`: fetch a receipt's audit bundle from a node (or read a
//! saved one) and verify it offline — the Merkle proof against the header's
//! `receiptsRoot`, the header against the commit certificate, the certificate against
//! the validator set — then print a verdict. `strata audit certificate`: a storage
//! certificate against the set of its height, then its outcome — the receipt by the
//! expiry, or the expiry block's resolution of it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;
use strata_primitives::{
    Address, B256, CommitCertificate, Header, TransactionSigned, ValidatorSet,
    audit::{ReceiptBundle, verify_receipt},
    hex,
    rlp_item::decode_exact,
    set_proof::{SetProof, verify_set},
    storage_cert::{StorageCertificate, resolutions},
};

/// Where the validator set comes from.
pub struct TrustRoot {
    /// The validators.
    pub validators: ValidatorSet,
    /// The chain id: from the trust root, never from the bundle being checked.
    pub chain_id: u64,
    /// How it was chosen (printed).
    pub source: String,
}

/// The validator set and chain id from `--genesis`, or `--validators` with `--chain-id`,
/// or else the `strata dev` validator (chain id `--chain-id`, default the dev chain's).
pub fn trust_root(genesis: Option<&Path>, validators: Option<&str>, chain_id: Option<u64>) -> anyhow::Result<TrustRoot> {
    if let Some(path) = genesis {
        let g = strata_node::config::Genesis::load(path)?;
        return Ok(TrustRoot {
            validators: ValidatorSet::new(g.validators.iter().map(|v| v.address).collect()),
            chain_id: g.chain_id,
            source: format!("the {} validators of {}", g.validators.len(), path.display()),
        });
    }
    if let Some(list) = validators {
        let validators = list
            .split(',')
            .map(|a| a.trim().parse::<Address>().with_context(|| format!("bad address {a:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        let chain_id = chain_id.context("--validators needs --chain-id: the chain id is part of what is trusted")?;
        // The checks every verifier applies to a trust root (no key twice, no zero key).
        strata_verify::TrustRoot::new(chain_id, validators.clone())?;
        return Ok(TrustRoot {
            source: format!("{} validators given on the command line", validators.len()),
            validators: ValidatorSet::new(validators),
            chain_id,
        });
    }
    Ok(TrustRoot {
        validators: ValidatorSet::new(vec![strata_chain::dev_proposer()]),
        chain_id: chain_id.unwrap_or(strata_chain::DEV_CHAIN_ID),
        source: "the strata dev validator (pass --genesis or --validators for a network)".into(),
    })
}

/// What an audit trusts: the validators of genesis and the chain id — never what the
/// checked file or node says.
#[derive(clap::Args)]
pub struct TrustArgs {
    /// The chain's genesis.json: its validators are the trust root.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Or the validator addresses, comma-separated, in index order.
    #[arg(long)]
    pub validators: Option<String>,
    /// The chain id (required with --validators; the dev chain's by default). Never
    /// taken from what is checked.
    #[arg(long)]
    pub chain_id: Option<u64>,
}

impl TrustArgs {
    /// The trust root these options name.
    pub fn root(&self) -> anyhow::Result<TrustRoot> {
        trust_root(self.genesis.as_deref(), self.validators.as_deref(), self.chain_id)
    }
}

/// Reads the bundle out of a `strata_getReceiptProof` answer.
pub fn bundle_of(answer: &Value) -> anyhow::Result<ReceiptBundle> {
    let hex_blob = answer["bundle"].as_str().context("no `bundle` field: not a strata_getReceiptProof answer")?;
    let bytes = hex::decode(hex_blob).context("bundle is not hex")?;
    decode_exact::<ReceiptBundle>(&bytes).map_err(|e| anyhow::anyhow!("bundle does not decode: {e}"))
}

/// The validator set of block `number`: the trust root's, carried across the switches
/// the answer's `validatorSetProof` proves (none on a chain without validator slots).
fn set_of_block(answer: &Value, root: &TrustRoot, number: u64) -> anyhow::Result<ValidatorSet> {
    let Some(hex_blob) = answer.get("validatorSetProof").and_then(Value::as_str) else {
        return Ok(root.validators.clone());
    };
    let bytes = hex::decode(hex_blob).context("validatorSetProof is not hex")?;
    let proof = decode_exact::<SetProof>(&bytes).map_err(|e| anyhow::anyhow!("validatorSetProof does not decode: {e}"))?;
    if proof.links.is_empty() {
        return Ok(root.validators.clone());
    }
    let set = verify_set(&root.validators, root.chain_id, &proof, number)
        .map_err(|e| anyhow::anyhow!("the validator set of block {number} is not proven: {e}"))?;
    let at: Vec<String> = proof.links.iter().map(|l| l.header.number.to_string()).collect();
    println!(
        "validator set of block {number} proven from the trust root across {} switch(es), decided at block(s) {}: {:?}",
        proof.links.len(),
        at.join(", "),
        set.validators
    );
    Ok(set)
}

/// Verifies and prints the verdict; an error if the bundle proves nothing. With `tx`,
/// the receipt must be that transaction's (the bundle's own JSON fields are not trusted).
pub fn verify_and_print(answer: &Value, root: &TrustRoot, tx: Option<B256>) -> anyhow::Result<()> {
    let bundle = bundle_of(answer)?;
    let chain_id = root.chain_id;
    println!("trusting {} (chain {chain_id})", root.source);
    let validators = match set_of_block(answer, root, bundle.header.number) {
        Ok(set) => set,
        Err(e) => {
            println!("NOT VERIFIED: {e}");
            bail!("the receipt is not proven: {e}")
        }
    };
    match verify_receipt(&bundle, &validators, chain_id, tx) {
        Ok(v) => {
            println!(
                "VERIFIED: transaction {} is in block {} ({}) at index {}: status {}, {} logs, cumulative gas {}",
                v.transaction_hash,
                v.block_number,
                v.block_hash,
                v.index,
                if v.success { "success" } else { "failed" },
                v.logs,
                v.cumulative_gas_used
            );
            println!("  receipt proven against receiptsRoot {} ({} proof nodes)", bundle.header.receipts_root, bundle.proof.len());
            println!(
                "  transaction proven at the same index against transactionsRoot {} ({} proof nodes)",
                bundle.header.transactions_root,
                bundle.transaction_proof.len()
            );
            println!("  header hash {} is the certified block hash", v.block_hash);
            print_logs(&bundle.receipt);
            println!(
                "  finalized by {} of {} validators (quorum {}): {:?}",
                v.signers.len(),
                validators.len(),
                validators.quorum(),
                v.signers
            );
            Ok(())
        }
        Err(e) => {
            println!("NOT VERIFIED: {e}");
            bail!("the receipt is not proven: {e}")
        }
    }
}

/// The proven receipt's logs, events named when a Strata interface knows them.
fn print_logs(receipt: &[u8]) {
    use alloy_sol_types::SolEvent;
    use strata_primitives::interfaces::IAttestation;
    let Ok(logs) = strata_primitives::relay::receipt_logs(receipt) else { return };
    for (i, log) in logs.iter().enumerate() {
        let topic = log.topics().first().copied().unwrap_or_default();
        let name = if let Ok(e) = IAttestation::Attested::decode_log_data(&log.data) {
            format!("Attested(request {}, dataHash {}, {} confirmations)", e.requestId, e.dataHash, e.confirmations)
        } else if let Ok(e) = IAttestation::Rejected::decode_log_data(&log.data) {
            format!("Rejected(request {}, dataHash {}, {} mismatches)", e.requestId, e.dataHash, e.mismatches)
        } else if let Ok(e) = IAttestation::Expired::decode_log_data(&log.data) {
            format!("Expired(request {}, {} confirmations, {} mismatches)", e.requestId, e.confirmations, e.mismatches)
        } else if let Ok(e) = IAttestation::Observed::decode_log_data(&log.data) {
            format!("Observed(request {}, attestor {}, {}{})", e.requestId, e.attestor, e.observedHash, if e.late { ", late" } else { "" })
        } else {
            format!("topic {topic}")
        };
        println!("  log {i}: {} {name}", log.address);
    }
}

/// Reads a `strata_sendRawTransactionCertified` answer and verifies its certificate
/// against the validator set of its height (the trust root's, carried across the
/// answer's `validatorSetProof`). Prints the verdict; an error if it proves nothing.
pub fn verify_certificate(answer: &Value, root: &TrustRoot) -> anyhow::Result<StorageCertificate> {
    println!("trusting {} (chain {})", root.source, root.chain_id);
    let result = (|| {
        let hex_blob = answer["certificate"].as_str().context("no `certificate` field: not a strata_sendRawTransactionCertified answer")?;
        let bytes = hex::decode(hex_blob).context("certificate is not hex")?;
        let cert = decode_exact::<StorageCertificate>(&bytes).map_err(|e| anyhow::anyhow!("certificate does not decode: {e}"))?;
        let set = set_of_block(answer, root, cert.claim.height)?;
        cert.verify(&set, root.chain_id).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok::<_, anyhow::Error>((cert, set))
    })();
    match result {
        Ok((cert, set)) => {
            let c = &cert.claim;
            println!(
                "VERIFIED: transaction {} (sender {}, nonce {}) is stored by {} of {} validators of height {} (quorum {}): {:?}",
                c.tx_hash,
                c.sender,
                c.nonce,
                cert.signatures.len(),
                set.len(),
                c.height,
                set.quorum(),
                cert.signatures.iter().map(|s| s.validator).collect::<Vec<_>>()
            );
            println!("  the chain includes it in a block no higher than {}", c.expiry);
            Ok(cert)
        }
        Err(e) => {
            println!("NOT VERIFIED: {e}");
            bail!("the certificate is not proven: {e}")
        }
    }
}

/// After [`verify_certificate`]: whether the chain kept the promise — the transaction's
/// receipt proven in a finalized block no higher than the expiry (`receipt`: a
/// `strata_getReceiptProof` answer, `head`: the node's height).
/// `file`: the saved `strata_sendRawTransactionCertified` answer; `resolutions`: the
/// `strata_getCertifiedResolutions` answer for the expiry block, asked when the
/// transaction is in no block and the chain has reached its expiry.
pub fn verify_inclusion(
    cert: &StorageCertificate,
    file: &Value,
    receipt: &Value,
    resolutions: Option<&Value>,
    head: u64,
    root: &TrustRoot,
) -> anyhow::Result<()> {
    let c = &cert.claim;
    if receipt.is_null() {
        if let Some(answer) = resolutions.filter(|a| !a.is_null()) {
            return verify_resolution(cert, file, answer, root);
        }
        if head > c.expiry {
            println!("NOT INCLUDED: the chain is at block {head}, past the expiry {}, without transaction {}", c.expiry, c.tx_hash);
            bail!("the certified transaction was not included by its expiry");
        }
        println!("PENDING: not yet in a block (chain at {head}, expiry {}); ask again later", c.expiry);
        return Ok(());
    }
    verify_and_print(receipt, root, Some(c.tx_hash))?;
    let block = bundle_of(receipt)?.header.number;
    if block > c.expiry {
        println!("LATE: included in block {block}, after the expiry {}", c.expiry);
        bail!("the certified transaction was included after its expiry");
    }
    println!("INCLUDED in block {block}, by the expiry {}", c.expiry);
    Ok(())
}

/// A certified transaction the chain did not include: its resolution in the header of
/// its expiry block (`answer`: `strata_getCertifiedResolutions`), the header checked
/// against its commit certificate and the certificate against the set of its height,
/// the resolution's figure against the transaction the certificate file carries
/// (`file`). Prints the verdict; an error unless the resolution is proven.
pub fn verify_resolution(cert: &StorageCertificate, file: &Value, answer: &Value, root: &TrustRoot) -> anyhow::Result<()> {
    let c = &cert.claim;
    let blob = |field: &str| -> anyhow::Result<Vec<u8>> {
        let source = if field == "transaction" { file } else { answer };
        hex::decode(source[field].as_str().with_context(|| format!("no `{field}` field"))?).with_context(|| format!("`{field}` is not hex"))
    };
    let result = (|| {
        let header = decode_exact::<Header>(&blob("header")?).map_err(|e| anyhow::anyhow!("header does not decode: {e}"))?;
        let commit = blob("certificate")?;
        anyhow::ensure!(!commit.is_empty(), "block {} has no commit certificate yet", header.number);
        let commit = decode_exact::<CommitCertificate>(&commit).map_err(|e| anyhow::anyhow!("commit certificate does not decode: {e}"))?;
        anyhow::ensure!(header.number == c.expiry, "the header is block {}, not the expiry block {}", header.number, c.expiry);
        anyhow::ensure!(header.chain_id == root.chain_id, "the header is of chain {}", header.chain_id);
        anyhow::ensure!(
            commit.block_hash == header.hash_slow() && commit.height == header.number,
            "the commit certificate is for block {} {}, not this header",
            commit.height,
            commit.block_hash
        );
        let set = set_of_block(answer, root, header.number)?;
        commit.verify(&set, root.chain_id).map_err(|e| anyhow::anyhow!("commit certificate: {e}"))?;
        let found = resolutions(&header)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into_iter()
            .find(|r| r.tx_hash == c.tx_hash)
            .context("the expiry block's header resolves no such transaction")?;
        anyhow::ensure!(found.sender == c.sender && found.nonce == c.nonce, "the resolution names another sender or nonce");
        // The figure the reason compares is the transaction's own: only its bytes tell.
        let raw = blob("transaction").context("the certificate file does not carry the transaction: its figures cannot be checked")?;
        anyhow::ensure!(strata_primitives::keccak256(&raw) == c.tx_hash, "the file's transaction is not the certificate's");
        let facts =
            TransactionSigned::decode(&raw).ok().and_then(|tx| tx.resolution_facts()).context("the file's transaction does not decode")?;
        anyhow::ensure!(found.matches(&c.sender, &facts), "the resolution's figure ({}) is not the transaction's", found.amount);
        Ok::<_, anyhow::Error>((header.number, found))
    })();
    match result {
        Ok((number, r)) => {
            let why = r.reason().map_or("an unknown reason", |u| u.describe());
            println!(
                "RESOLVED in block {number} (header and commit certificate verified): not included because {why} (figure {})",
                r.amount
            );
            Ok(())
        }
        Err(e) => {
            println!("NOT VERIFIED: {e}");
            bail!("the certified transaction's resolution is not proven: {e}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_that_is_not_hex_or_not_a_bundle_is_refused() {
        assert!(bundle_of(&serde_json::json!({"bundle": "zz"})).is_err());
        assert!(bundle_of(&serde_json::json!({"bundle": "0x01"})).is_err());
        assert!(bundle_of(&serde_json::json!({})).is_err());
    }
}
