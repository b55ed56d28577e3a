"""Independent check of Strata's storage market with web3.py and py-trie.

Against a running dev node started with three fee-sharing validators, e.g.

    strata dev --data-dir /tmp/sm --rpc-addr 127.0.0.1:8599 \
      --validator 0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1:nvme \
      --validator 0xa2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2:ssd \
      --validator 0xa3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3:hdd --split-by-storage-class
    strata contract build --manifest-path contracts/examples/kvstore/Cargo.toml --out /tmp/kv
    python tests/python/storage_market.py http://127.0.0.1:8599 /tmp/kv

it deploys the kvstore example from its ABI JSON and bytecode, archives and restores
entries through the archive contract's ABI (runtime/executor/system-contracts), verifies each
tombstone proof against the block's state root with py-trie (not Strata's code), reads
fee breakdowns from quotes and receipts, and adds up the validators' payouts.
"""

import json
import sys
import time
from pathlib import Path

import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from trie import HexaryTrie
from web3 import Web3

ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = to_checksum_address("0x0000000000000000000000000000000000001002")
FEE = to_checksum_address("0x0000000000000000000000000000000000001001")
MNEMONIC = "test test test test test test test test test test test junk"
VALIDATORS = [to_checksum_address("0x" + b * 20) for b in ("a1", "a2", "a3")]

Account.enable_unaudited_hdwallet_features()


def main(url, build_dir):
    w3 = Web3(Web3.HTTPProvider(url))
    keys = [Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(3)]
    owner, stranger, payer = keys
    receipts = []

    def send(acct, tx, expect=True):
        tx = dict(tx)
        tx.setdefault("from", acct.address)
        tx["nonce"] = w3.eth.get_transaction_count(acct.address, "pending")
        tx["chainId"] = w3.eth.chain_id
        tx.setdefault("gas", 3_000_000 if not expect else int(w3.eth.estimate_gas(tx) * 1.1))
        tx["maxFeePerGas"] = 2 * w3.eth.gas_price
        tx["maxPriorityFeePerGas"] = w3.eth.max_priority_fee
        signed = acct.sign_transaction(tx)
        h = w3.eth.send_raw_transaction(signed.raw_transaction)
        r = w3.eth.wait_for_transaction_receipt(h, timeout=30)
        raw = w3.provider.make_request("eth_getTransactionReceipt", [h.hex() if h.hex().startswith("0x") else "0x" + h.hex()])["result"]
        receipts.append(raw)
        assert (r.status == 1) == expect, raw
        return r, raw

    abi = json.loads((Path(build_dir) / "kvstore.abi.json").read_text())
    bytecode = (Path(build_dir) / "kvstore.bin").read_text().strip()
    archive_abi = json.loads((ROOT / "runtime/executor/system-contracts/archive.abi.json").read_text())
    archive = w3.eth.contract(address=ARCHIVE, abi=archive_abi)

    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    r, raw = send(owner, factory.constructor().build_transaction({"from": owner.address}))
    kv = w3.eth.contract(address=r.contractAddress, abi=abi)
    print("kvstore at", kv.address, "deploy fee", raw["resources"]["fee"])

    value = b"independently checked " * 20
    call = kv.functions.set(b"doc", value).build_transaction({"from": owner.address})
    quote = w3.provider.make_request("strata_quoteFee", [{k: call[k] for k in ("from", "to", "data")}])["result"]
    print("quote for set():", quote["gasUsed"], quote["resources"]["fee"])
    _, raw = send(owner, call)
    # An unsigned quote estimates the signed size (a little high); compute is exact.
    assert raw["resources"]["fee"]["compute"] == quote["resources"]["fee"]["compute"], (raw["resources"], quote)
    assert 0 <= int(quote["resources"]["fee"]["total"], 16) - int(raw["resources"]["fee"]["total"], 16) < int(raw["resources"]["fee"]["total"], 16) // 50
    quota = w3.provider.make_request("strata_getStorageQuota", [kv.address])["result"]
    print("quota:", quota)
    key = kv.functions.storageKey(b"doc").call()

    # Unauthorised archive is refused; then the owner authorises the stranger.
    send(stranger, archive.functions.archive(kv.address, [key], 3600).build_transaction({"from": stranger.address, "gas": 3_000_000}), expect=False)
    send(owner, kv.functions.setArchiver(stranger.address, True).build_transaction({"from": owner.address}))
    r, raw = send(stranger, archive.functions.archive(kv.address, [key], 3600).build_transaction({"from": stranger.address}))
    (event,) = archive.events.Archived().process_receipt(r, errors=__import__("web3").logs.DISCARD)
    assert event.args.valueHash == keccak(value) and event.args.size == len(value)
    print("archived:", dict(event.args), "cold fee", raw["resources"]["fee"]["cold"])

    # The read fails with a clear error.
    try:
        kv.functions.get(b"doc").call()
        raise AssertionError("read of an archived key succeeded")
    except Exception as e:  # web3 raises ContractLogicError
        assert "archived" in str(e), e
        print("read refused:", str(e)[:160])

    # Tombstone proof, checked with py-trie against the block's state root.
    block = w3.eth.get_block("latest")
    proof = w3.provider.make_request("strata_getProof", [kv.address, ["0x" + key.hex()], hex(block.number)])["result"]
    nodes = lambda ps: [rlp.decode(bytes.fromhex(p[2:])) for p in ps]  # py-trie takes decoded nodes
    account_rlp = HexaryTrie.get_from_proof(bytes(block.stateRoot), keccak(bytes.fromhex(kv.address[2:])), nodes(proof["accountProof"]))
    nonce, balance, storage_root, code_hash = rlp.decode(account_rlp)
    leaf = HexaryTrie.get_from_proof(storage_root, keccak(key), nodes(proof["storageProof"][0]["proof"]))
    value_hash, size, retention_end, paid_by, purged = rlp.decode(leaf)
    assert value_hash == keccak(value) and int.from_bytes(size, "big") == len(value) and paid_by == bytes.fromhex(stranger.address[2:])
    print("tombstone proven against state root", block.stateRoot.hex(), "retention end", int.from_bytes(retention_end, "big"))

    # A third account may not restore another contract's data (it would take its quota and
    # end the retention it paid for); the owner restores from cold. Then purge and restore
    # from bytes.
    send(payer, archive.functions.restore(kv.address, [key]).build_transaction({"from": payer.address, "gas": 3_000_000}), expect=False)
    send(owner, archive.functions.restore(kv.address, [key]).build_transaction({"from": owner.address}))
    assert kv.functions.get(b"doc").call() == value
    send(owner, kv.functions.archiveOwn([b"doc"], 2).build_transaction({"from": owner.address}))
    time.sleep(3)
    send(owner, {"to": VALIDATORS[0], "value": 0, "gas": 50_000})  # a block past retention end
    t = archive.functions.tombstone(kv.address, key).call()
    assert t[0] and t[5], t  # archived, purged
    send(owner, archive.functions.restore(kv.address, [key]).build_transaction({"from": owner.address, "gas": 3_000_000}), expect=False)
    send(owner, archive.functions.restoreWithData(kv.address, [key], [b"wrong"]).build_transaction({"from": owner.address, "gas": 3_000_000}), expect=False)
    send(payer, archive.functions.restoreWithData(kv.address, [key], [value]).build_transaction({"from": payer.address, "gas": 3_000_000}), expect=False)
    send(owner, archive.functions.restoreWithData(kv.address, [key], [value]).build_transaction({"from": owner.address}))
    assert kv.functions.get(b"doc").call() == value
    print("restored from supplied bytes after purge")

    # Payouts: per receipt they add up to the fee; in total to the validators' balances.
    charged = 0
    for raw in receipts:
        c = int(raw["resources"]["fee"]["charged"], 16)
        assert c == int(raw["gasUsed"], 16) * int(raw["effectiveGasPrice"], 16)
        assert sum(int(p["amount"], 16) for p in raw["payouts"]) == c
        charged += c
    balances = sum(w3.eth.get_balance(v) for v in VALIDATORS)
    print(f"{len(receipts)} receipts, fees charged {charged} wei, validator balances {balances} wei")
    assert balances == charged, "run against a fresh node: validator balances are all fees"
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
