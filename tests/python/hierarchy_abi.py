"""The chain registry and the storage-deal contract from web3.py, through their ABI JSON.

Against a running dev node and a build of the deal contract:

    strata dev --data-dir /tmp/h --rpc-addr 127.0.0.1:8599
    strata contract build --manifest-path contracts/storage/deal/Cargo.toml --out /tmp/deal
    python tests/python/hierarchy_abi.py http://127.0.0.1:8599 /tmp/deal

it reads the registry (0x…1005) with runtime/executor/system-contracts/registry.abi.json,
registers a child chain as the admin and decodes the event, is refused (with the custom
error) as someone else without the fee, deploys the deal contract from its bytecode and
ABI, opens a deal and reads its terms and windows back — what a dapp or an auditor does
with nothing but the ABIs.
"""

import json
import sys
from pathlib import Path

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = to_checksum_address("0x0000000000000000000000000000000000001005")
MNEMONIC = "test test test test test test test test test test test junk"

Account.enable_unaudited_hdwallet_features()


def main(url, deal_dir):
    w3 = Web3(Web3.HTTPProvider(url))
    admin, client, stranger = (Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(3))

    def send(acct, fn=None, value=0, data=None):
        tx = {"from": acct.address, "value": value, "chainId": w3.eth.chain_id}
        tx["nonce"] = w3.eth.get_transaction_count(acct.address, "pending")
        tx["maxFeePerGas"] = 2 * w3.eth.gas_price
        tx["maxPriorityFeePerGas"] = w3.eth.max_priority_fee
        if fn is not None:
            tx = fn.build_transaction(tx)
        else:
            tx["data"] = data
            tx["gas"] = int(w3.eth.estimate_gas(tx) * 1.2)
        h = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        r = w3.eth.wait_for_transaction_receipt(h, timeout=30)
        assert r.status == 1, r
        return r

    abi = json.loads((ROOT / "runtime/executor/system-contracts/registry.abi.json").read_text())
    registry = w3.eth.contract(address=REGISTRY, abi=abi)
    assert registry.functions.admin().call() == admin.address
    assert registry.functions.registrationFee().call() == 0
    assert registry.functions.parent().call() == [0, "0x0000000000000000000000000000000000000000"], "a dev chain has no parent"

    # A child chain registered by the admin; the event decoded from the ABI.
    validators = [to_checksum_address("0x" + b * 20) for b in ("c1", "c2", "c3", "c4")]
    genesis = keccak(b"a child chain's genesis")
    r = send(admin, registry.functions.register(77, genesis, validators, 3))
    # Strata's own resource and payout logs share the receipt: discarded, not this ABI's.
    (event,) = registry.events.ChainRegistered().process_receipt(r, errors=DISCARD)
    assert (event.args.chainId, event.args.quorum, list(event.args.validators), event.args.by) == (77, 3, validators, admin.address)
    info = registry.functions.chainInfo(77).call()
    assert info[0] and not info[1] and info[2] == genesis and info[3] == 3 and info[5] == 0, info
    assert registry.functions.validatorsAt(77, 10).call() == validators
    # Anyone else needs the fee, which is 0 here: only the admin registers. The custom
    # error comes back decodable from the ABI.
    try:
        registry.functions.register(78, genesis, validators, 3).call({"from": stranger.address})
        raise AssertionError("a stranger registered without the fee")
    except ContractCustomError as e:
        selector = keccak(b"NotAdmin(address)")[:4].hex()
        assert selector in str(e.args[0]), e

    # The deal contract from its build: bytecode and ABI JSON.
    deal_dir = Path(deal_dir)
    deal_abi = json.loads((deal_dir / "strata_storage_deal.abi.json").read_text())
    bytecode = (deal_dir / "strata_storage_deal.bin").read_text().strip()
    factory = w3.eth.contract(abi=deal_abi, bytecode=bytecode)
    proofs = to_checksum_address("0x" + "ab" * 20)
    r = send(admin, factory.constructor(REGISTRY, 77, proofs, 10))
    deals = w3.eth.contract(address=r.contractAddress, abi=deal_abi)
    assert deals.functions.settings().call() == [REGISTRY, 77, proofs, 10]

    root = keccak(b"the file")
    price, windows = 10**15, 3
    r = send(client, deals.functions.openDeal(root, 5000, windows, 100, 10, 4, price, stranger.address, 2 * 10**15), value=price * windows)
    (proposed,) = deals.events.DealProposed().process_receipt(r, errors=DISCARD)
    assert (proposed.args.dealId, proposed.args.client, proposed.args.provider) == (1, client.address, stranger.address)
    d = deals.functions.deal(1).call()
    assert d[:10] == [client.address, stranger.address, root, 5000, windows, 100, 10, 4, price, 2 * 10**15], d
    assert (d[10], d[11]) == (0, 0), "proposed, nothing resolved"
    assert [deals.functions.windowState(1, w).call() for w in range(windows)] == [0, 0, 0]
    assert w3.eth.get_balance(deals.address) == price * windows
    # Accepting takes the collateral, exactly: anything else is refused with the custom
    # error (the proof chain 77 was never checkpointed, so its start is still ahead).
    try:
        deals.functions.acceptDeal(1).call({"from": stranger.address, "value": 1})
        raise AssertionError("accepted with the wrong collateral")
    except ContractCustomError as e:
        assert keccak(b"WrongValue(uint256,uint256)")[:4].hex() in str(e.args[0]), e
    print("hierarchy ABIs: registry and deal contract read and written with web3.py")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
