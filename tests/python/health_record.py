"""A clinic stores a patient's record on Strata and gets a storage certificate first.

    python tests/python/health_record.py http://127.0.0.1:8545 [path/to/strata]

With web3.py and a raw request: the record (JSON, in the transaction's data, sent to
the clinic's records address) goes to `strata_sendRawTransactionCertified`, which
answers once a quorum of validators has written it to disk — before any block. The
script checks the certificate itself (the digest recomputed here with `rlp` and climbed
to the root of the batch each validator signed, each
signature recovered with eth-account, the signers a quorum of the validators named by
the blocks), then waits for the block and proves the receipt with py-trie against the
header's receiptsRoot (not Strata's code), by the certificate's expiry height. Given the
`strata` binary, it also runs `strata audit certificate --rpc` (commit certificate
included) on the saved answer.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from trie import HexaryTrie
from web3 import Web3

MNEMONIC = "test test test test test test test test test test test junk"
RECORDS = to_checksum_address("0x000000000000000000000000000000000000c11c")
DOMAIN = b"strata/stored/v1"
NODE_DOMAIN = b"strata/stored-node/v1"

Account.enable_unaudited_hdwallet_features()


def check(cond, what):
    if not cond:
        raise SystemExit(f"health-record: FAILED: {what}")
    print(f"health-record: ok: {what}")


def verify_certificate(answer, validators):
    """Recomputes the claim's digest and recovers every signature; returns the signers."""
    claim, signatures, paths = rlp.decode(bytes.fromhex(answer["certificate"][2:]))
    chain_id, tx_hash, sender, nonce, height, expiry = claim
    check(tx_hash.hex() == answer["transactionHash"][2:], "the certificate names the transaction")
    check(not paths or len(paths) == len(signatures), "one batch path per signature")
    digest = keccak(DOMAIN + rlp.encode(claim))
    signers = []
    for i, (index, sig) in enumerate(signatures):
        index = int.from_bytes(index, "big")
        # Each validator signed the root of the batch of claims it stored: climb to it.
        root = digest
        for left, sibling in (paths[i] if paths else []):
            root = keccak(NODE_DOMAIN + sibling + root) if int.from_bytes(left, "big") else keccak(NODE_DOMAIN + root + sibling)
        v = sig[64] if sig[64] >= 27 else sig[64] + 27
        who = Account._recover_hash(root, vrs=(v, int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")))
        check(index < len(validators) and who == validators[index], f"signature {index} recovers to validator {index}")
        signers.append(index)
    check(len(set(signers)) == len(signers), "no validator signs twice")
    return signers, int.from_bytes(expiry, "big")


def main(url, strata=None):
    w3 = Web3(Web3.HTTPProvider(url))
    clinic = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/4")
    record = {"patient": "P-1029", "kind": "blood panel", "hb_g_dl": 13.9, "taken": "2026-11-30"}
    data = json.dumps(record, sort_keys=True).encode()
    tx = {
        "to": RECORDS,
        "value": 0,
        "data": data,
        "nonce": w3.eth.get_transaction_count(clinic.address, "pending"),
        "chainId": w3.eth.chain_id,
        "maxFeePerGas": 2 * w3.eth.gas_price,
        "maxPriorityFeePerGas": 0,
    }
    tx["gas"] = int(w3.eth.estimate_gas({"from": clinic.address, **tx}) * 1.2)
    raw = clinic.sign_transaction(tx).raw_transaction
    asked = time.monotonic()
    reply = w3.provider.make_request("strata_sendRawTransactionCertified", ["0x" + raw.hex()])
    took = time.monotonic() - asked
    check("result" in reply, f"a storage certificate comes back ({reply.get('error')})")
    answer = reply["result"]
    print(f"health-record: certificate in {took * 1000:.0f} ms, signers {answer['signers']}, expiry {int(answer['expiry'], 16)}")

    # The validators as the chain's blocks name them (each block's proposer); a dev
    # chain has one. (`strata audit` below checks against genesis instead.)
    head = w3.eth.block_number
    validators = sorted({w3.eth.get_block(n).miner for n in range(max(1, head - 8), head + 1)})
    signers, expiry = verify_certificate(answer, validators)
    check(len(signers) * 3 > len(validators) * 2, f"{len(signers)} of {len(validators)} validators: a quorum")

    # Then the block: the receipt proven against receiptsRoot with py-trie.
    receipt = w3.eth.wait_for_transaction_receipt(answer["transactionHash"], timeout=60)
    check(receipt.status == 1 and receipt.blockNumber <= expiry, f"included in block {receipt.blockNumber}, by the expiry {expiry}")
    proof = w3.provider.make_request("strata_getReceiptProof", [answer["transactionHash"]])["result"]
    header = w3.eth.get_block(receipt.blockNumber)
    nodes = [rlp.decode(bytes.fromhex(n[2:])) for n in proof["proof"]]  # py-trie takes decoded nodes
    key = rlp.encode(int(proof["transactionIndex"], 16))
    leaf = HexaryTrie.get_from_proof(bytes(header.receiptsRoot), key, nodes)
    check(leaf == bytes.fromhex(proof["receipt"][2:]), "the receipt is proven against the block's receiptsRoot")
    sent = w3.eth.get_transaction(answer["transactionHash"])
    check(bytes(sent.input) == data, "the record on chain is the clinic's, byte for byte")

    if strata:
        with tempfile.TemporaryDirectory() as d:
            saved = Path(d) / "certificate.json"
            saved.write_text(json.dumps(answer))
            out = subprocess.run([strata, "audit", "certificate", str(saved), "--rpc", url], capture_output=True, text=True)
            check(out.returncode == 0 and "INCLUDED in block" in out.stdout, "strata audit certificate --rpc agrees")
    print("health-record: all checks passed")


if __name__ == "__main__":
    main(*sys.argv[1:3])
