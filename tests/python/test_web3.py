"""Real-client test: web3.py against a Strata dev node, as a dapp would use it.

Run by scripts/test.sh (which builds the node and the ERC-20 example, starts
`strata dev` and installs web3.py in a local virtual environment):

    python tests/python/test_web3.py HTTP_URL WS_URL BUILD_DIR

Deploys the ERC-20 example from its ABI JSON and bytecode with the ordinary
contract factory, calls it, reads its events through receipts, eth_getLogs, a
filter and a WebSocket subscription, and checks the error shapes of a reverted
call and of a bad request.
"""

import asyncio
import json
import sys
from pathlib import Path

from eth_account import Account
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.logs import DISCARD
from web3.providers.persistent import WebSocketProvider

KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok -", what)


def main(http_url, ws_url, build_dir):
    w3 = Web3(Web3.HTTPProvider(http_url))
    chain_id = w3.eth.chain_id
    check(w3.is_connected() and chain_id > 0, f"connected to chain {chain_id}")
    owner, other = Account.from_key(KEY0), Account.from_key(KEY1)
    abi = json.loads((Path(build_dir) / "erc20.abi.json").read_text())
    bytecode = (Path(build_dir) / "erc20.bin").read_text().strip()

    def send(acct, tx):
        tx = dict(tx)
        tx.update(
            {
                "from": acct.address,
                "nonce": w3.eth.get_transaction_count(acct.address, "pending"),
                "chainId": chain_id,
                "maxFeePerGas": 2 * w3.eth.gas_price,
                "maxPriorityFeePerGas": w3.eth.max_priority_fee,
            }
        )
        tx["gas"] = int(w3.eth.estimate_gas(tx) * 1.2)
        h = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        return w3.eth.wait_for_transaction_receipt(h, timeout=30)

    # Deploy with the ordinary factory, from the ABI JSON and bytecode.
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    r = send(owner, factory.constructor("Strata Token", "STR", 10**24).build_transaction({"from": owner.address}))
    check(r.status == 1 and r.contractAddress, "deployed the ERC-20 through its ABI")
    token = w3.eth.contract(address=r.contractAddress, abi=abi)
    check(token.functions.symbol().call() == "STR" and token.functions.totalSupply().call() == 10**24, "view calls decode")
    start = w3.eth.block_number + 1  # after the deploy block (its mint is a Transfer too)

    # A block filter and a log filter, installed before the transfers.
    block_filter = w3.eth.filter("latest")
    transfer_filter = token.events.Transfer.create_filter(from_block="latest")

    # Subscribe over WebSocket before sending.
    async def subscribe_and_wait(n):
        async with AsyncWeb3(WebSocketProvider(ws_url)) as aw3:
            heads = await aw3.eth.subscribe("newHeads")
            logs = await aw3.eth.subscribe("logs", {"address": token.address})
            got_heads, got_logs = 0, 0
            async def pump():
                nonlocal got_heads, got_logs
                async for msg in aw3.socket.process_subscriptions():
                    if msg["subscription"] == heads:
                        got_heads += 1
                    elif msg["subscription"] == logs:
                        got_logs += 1
                    if got_logs >= n and got_heads >= 1:
                        return
            sender = asyncio.get_running_loop().run_in_executor(None, do_transfers, n)
            await asyncio.wait_for(pump(), timeout=60)
            await sender
            await aw3.eth.unsubscribe(heads)
            await aw3.eth.unsubscribe(logs)
            return got_heads, got_logs

    receipts = []

    def do_transfers(n):
        for i in range(n):
            receipts.append(send(owner, token.functions.transfer(other.address, 1000 + i).build_transaction({"from": owner.address})))

    heads, logs = asyncio.run(subscribe_and_wait(3))
    check(heads >= 1 and logs >= 3, f"WebSocket subscriptions delivered {heads} heads and {logs} logs")

    # Events through receipts.
    events = [token.events.Transfer().process_receipt(r, errors=DISCARD) for r in receipts]
    check(all(len(e) == 1 and e[0].args.to == other.address for e in events), "Transfer events decode from receipts")
    check(token.functions.balanceOf(other.address).call() == 3003, "balances moved")

    # eth_getLogs, with the event's topic.
    transfer_topic = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
    logs = w3.eth.get_logs({"fromBlock": start, "toBlock": "latest", "address": token.address, "topics": [transfer_topic]})
    check(len(logs) == 3, f"eth_getLogs finds the three transfers ({len(logs)})")
    decoded = [token.events.Transfer().process_log(l) for l in logs]
    check([d.args.value for d in decoded] == [1000, 1001, 1002], "logs decode through the ABI")

    # Filters.
    entries = transfer_filter.get_new_entries()
    check(len(entries) == 3, "a log filter saw the transfers")
    check(transfer_filter.get_new_entries() == [], "and nothing twice")
    check(len(block_filter.get_new_entries()) >= 3, "a block filter saw the new blocks")
    check(w3.eth.uninstall_filter(transfer_filter.filter_id), "filters uninstall")

    # A reverted call: the custom error comes back with its data.
    try:
        token.functions.transfer(owner.address, 10**30).call({"from": other.address})
        raise AssertionError("an overdraft did not revert")
    except (ContractCustomError, ContractLogicError) as e:
        data = getattr(e, "data", None) or ""
        check(isinstance(data, str) and data.startswith("0x") and len(data) > 10, f"revert carries its error data ({type(e).__name__})")

    # A bad request: a JSON-RPC error, not a crash.
    resp = w3.provider.make_request("eth_getBalance", ["not-an-address", "latest"])
    check("error" in resp and resp["error"]["code"] == -32602, "bad params answer -32602")
    resp = w3.provider.make_request("eth_noSuchMethod", [])
    check(resp["error"]["code"] == -32601, "unknown methods answer -32601")
    try:
        w3.eth.send_raw_transaction(b"\x02garbage")
        raise AssertionError("garbage was accepted")
    except Web3RPCError as e:
        check(e.rpc_response["error"]["code"] == -32000, "a malformed transaction is refused with -32000")
    print("web3.py real-client test: all passed")


if __name__ == "__main__":
    main(*sys.argv[1:4])
