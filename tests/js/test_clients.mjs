// Real-client test: ethers v6 and viem against a Strata dev node, as dapps use them.
//
// Run by scripts/js-test.sh (which builds the node and the ERC-20 example, starts
// `strata dev` and installs the pinned packages):
//
//     node tests/js/test_clients.mjs HTTP_URL WS_URL BUILD_DIR
//
// Deploys the ERC-20 example from its ABI JSON and `.bin` with each library's contract
// factory, reads it, decodes its events and custom errors, bursts transfers through
// ethers' NonceManager (every `tx.wait()` must return), and receives events and blocks
// over WebSocket subscriptions. Every wait is bounded: a hang is a failure, not a stall.

import { readFileSync } from "node:fs";
import { join } from "node:path";

import { ethers } from "ethers";
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseEventLogs,
  webSocket,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const KEY2 = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

const [httpUrl, wsUrl, buildDir] = process.argv.slice(2);
const abi = JSON.parse(readFileSync(join(buildDir, "erc20.abi.json"), "utf8"));
const bytecode = readFileSync(join(buildDir, "erc20.bin"), "utf8").trim();

function check(cond, what) {
  if (!cond) throw new Error(`FAILED: ${what}`);
  console.log(`ok - ${what}`);
}

/** `promise`, or a failure naming `what` after `ms`. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`FAILED: ${what} did not finish within ${ms} ms (hang)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function withEthers() {
  const provider = new ethers.JsonRpcProvider(httpUrl);
  const chainId = (await provider.getNetwork()).chainId;
  check(chainId > 0n, `ethers: connected to chain ${chainId}`);
  // One NonceManager for every send from the owner, as ethers recommends: a plain
  // Wallet asks for the pending nonce before each send, and ethers serves an identical
  // request made within 250 ms from its cache, so a second signer for the same account
  // (or a Wallet sending right after its last transaction was mined) can reuse a nonce
  // on any chain that mines that fast (anvil's instant mining too).
  const owner = new ethers.NonceManager(new ethers.Wallet(KEY0, provider));
  const ownerAddress = await owner.getAddress();
  const other = new ethers.Wallet(KEY1, provider);

  // Deploy from the ABI and `.bin` with the ordinary factory.
  const factory = new ethers.ContractFactory(abi, bytecode, owner);
  const token = await within(30_000, "ethers deploy", (async () => {
    const c = await factory.deploy("Strata Token", "STR", 10n ** 24n);
    await c.waitForDeployment();
    return c;
  })());
  const address = await token.getAddress();
  check(ethers.isAddress(address), `ethers: deployed the ERC-20 at ${address}`);
  check((await token.symbol()) === "STR" && (await token.totalSupply()) === 10n ** 24n, "ethers: view calls decode");

  // A transfer: its receipt's events parse through the ABI.
  const tx = await token.transfer(other.address, 1234n);
  const receipt = await within(30_000, "ethers tx.wait()", tx.wait());
  check(receipt.status === 1, "ethers: a transfer succeeds");
  const events = receipt.logs.map((l) => token.interface.parseLog(l)).filter((e) => e && e.name === "Transfer");
  check(events.length === 1 && events[0].args.to === other.address && events[0].args.value === 1234n, "ethers: the Transfer event decodes");

  // A custom error: ethers names it, with its arguments.
  try {
    await token.connect(other).transfer.staticCall(ownerAddress, 10n ** 30n);
    throw new Error("FAILED: an overdraft did not revert");
  } catch (e) {
    if (e.message.startsWith("FAILED")) throw e;
    const parsed = e.revert ?? (e.data ? token.interface.parseError(e.data) : null);
    check(parsed && parsed.name === "InsufficientBalance", `ethers: the custom error decodes (${parsed && parsed.name})`);
  }
  try {
    await token.connect(other).transfer(ownerAddress, 10n ** 30n);
    throw new Error("FAILED: an overdraft was sent");
  } catch (e) {
    if (e.message.startsWith("FAILED")) throw e;
    check(e.code === "CALL_EXCEPTION", `ethers: a reverting transaction is refused at estimation (${e.code})`);
  }

  // WebSocket: block and event subscriptions, set up before the burst.
  const ws = new ethers.WebSocketProvider(wsUrl);
  const wsToken = new ethers.Contract(address, abi, ws);
  let wsTransfers = 0;
  let wsBlocks = 0;
  await wsToken.on("Transfer", () => {
    wsTransfers += 1;
  });
  await ws.on("block", () => {
    wsBlocks += 1;
  });

  // A burst through NonceManager: every tx.wait() must return.
  const BURST = 25;
  const burstToken = token.connect(owner);
  const sent = await within(60_000, "the NonceManager burst's sends", Promise.all(
    Array.from({ length: BURST }, (_, i) => burstToken.transfer(other.address, BigInt(i + 1))),
  ));
  const mined = await within(60_000, "the NonceManager burst's tx.wait()s", Promise.all(sent.map((t) => t.wait())));
  check(mined.every((r) => r.status === 1), `ethers: ${BURST} NonceManager transfers all confirmed`);
  const nonces = sent.map((t) => t.nonce).sort((a, b) => a - b);
  check(nonces.every((n, i) => i === 0 || n === nonces[i - 1] + 1), "ethers: with consecutive nonces");
  const expected = 1234n + BigInt((BURST * (BURST + 1)) / 2);
  check((await token.balanceOf(other.address)) === expected, "ethers: balances moved");

  await within(20_000, "WebSocket events", (async () => {
    while (wsTransfers < BURST || wsBlocks < 1) await new Promise((r) => setTimeout(r, 50));
  })());
  check(wsTransfers >= BURST && wsBlocks >= 1, `ethers: WebSocket delivered ${wsTransfers} Transfer events and ${wsBlocks} blocks`);
  await ws.destroy();
  provider.destroy();
  return address;
}

async function withViem() {
  const http0 = createPublicClient({ transport: http(httpUrl) });
  const id = await http0.getChainId();
  const chain = defineChain({
    id,
    name: "strata-dev",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [httpUrl], webSocket: [wsUrl] } },
  });
  const client = createPublicClient({ chain, transport: http(httpUrl), pollingInterval: 250 });
  const wsClient = createPublicClient({ chain, transport: webSocket(wsUrl) });
  const owner = privateKeyToAccount(KEY2);
  const other = privateKeyToAccount(KEY1);
  const wallet = createWalletClient({ account: owner, chain, transport: http(httpUrl) });

  // Deploy from the ABI and `.bin`.
  const deployHash = await wallet.deployContract({ abi, bytecode, args: ["Viem Token", "VIE", 10n ** 21n] });
  const deployed = await within(30_000, "viem deploy receipt", client.waitForTransactionReceipt({ hash: deployHash }));
  const address = deployed.contractAddress;
  check(deployed.status === "success" && address, `viem: deployed the ERC-20 at ${address}`);
  check((await client.readContract({ address, abi, functionName: "name" })) === "Viem Token", "viem: readContract decodes");

  // Events over WebSocket, watched before the writes.
  const seen = [];
  const unwatch = wsClient.watchContractEvent({ address, abi, eventName: "Transfer", onLogs: (logs) => seen.push(...logs) });
  const heads = [];
  const unwatchBlocks = wsClient.watchBlockNumber({ onBlockNumber: (n) => heads.push(n) });
  await new Promise((r) => setTimeout(r, 200));

  // simulate, then write: the receipt's logs parse through the ABI.
  const { request } = await client.simulateContract({ account: owner, address, abi, functionName: "transfer", args: [other.address, 77n] });
  const hash = await wallet.writeContract(request);
  const receipt = await within(30_000, "viem waitForTransactionReceipt", client.waitForTransactionReceipt({ hash }));
  const parsed = parseEventLogs({ abi, logs: receipt.logs, eventName: "Transfer" });
  check(receipt.status === "success" && parsed.length === 1 && parsed[0].args.value === 77n, "viem: the Transfer event decodes from the receipt");

  // Several writes back to back (viem fills nonces itself).
  for (let i = 0; i < 5; i++) {
    const h = await wallet.writeContract({ address, abi, functionName: "transfer", args: [other.address, 1n] });
    const r = await within(30_000, `viem write ${i}`, client.waitForTransactionReceipt({ hash: h }));
    check(r.status === "success", `viem: write ${i + 1} of 5 confirmed`);
  }
  check((await client.readContract({ address, abi, functionName: "balanceOf", args: [other.address] })) === 82n, "viem: balances moved");

  // eth_getLogs through the ABI.
  const logs = await client.getContractEvents({ address, abi, eventName: "Transfer", fromBlock: deployed.blockNumber, toBlock: "latest" });
  check(logs.length === 7, `viem: getContractEvents finds the mint and six transfers (${logs.length})`);

  // A custom error: viem names it, with its arguments.
  try {
    await client.simulateContract({ account: other, address, abi, functionName: "transfer", args: [owner.address, 10n ** 30n] });
    throw new Error("FAILED: an overdraft did not revert");
  } catch (e) {
    if (e.message.startsWith("FAILED")) throw e;
    const revert = e instanceof BaseError ? e.walk((x) => x instanceof ContractFunctionRevertedError) : null;
    check(revert && revert.data && revert.data.errorName === "InsufficientBalance", `viem: the custom error decodes (${revert && revert.data && revert.data.errorName})`);
  }

  await within(20_000, "viem WebSocket events", (async () => {
    while (seen.length < 6 || heads.length < 1) await new Promise((r) => setTimeout(r, 50));
  })());
  check(seen.length >= 6 && heads.length >= 1, `viem: WebSocket delivered ${seen.length} Transfer events and ${heads.length} block numbers`);
  unwatch();
  unwatchBlocks();
}

async function main() {
  await within(180_000, "the ethers suite", withEthers());
  await within(180_000, "the viem suite", withViem());
  console.log("ethers and viem real-client test: all passed");
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
