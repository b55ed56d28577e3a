// @strata-chain/verify: a thin typed wrapper over the wasm-bindgen build of the Rust crate
// `strata-verify` (sdk/verify). Every check runs in Wasm; nothing here decides what is
// proven. The pinned genesis — `{chainId, validators}` or a genesis.json — is the only
// trust root: answers from a node are evidence, never authority.

import init, * as wasm from './pkg/strata_verify.js';

let ready;

/** Loads the Wasm module once. In a browser it is fetched beside this file (or from
 * `source`: a URL, a Response, bytes or a compiled module); in Node.js it is read from disk. */
export function load(source) {
  if (!ready) {
    ready = (async () => {
      let input = source;
      if (input === undefined && typeof process !== 'undefined' && process.versions?.node) {
        // Node.js only; the specifier is a variable so browser bundlers leave it alone.
        const fsModule = 'node:fs/promises';
        const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsModule);
        input = await readFile(new URL('./pkg/strata_verify_bg.wasm', import.meta.url));
      }
      await init(input === undefined ? undefined : { module_or_path: input });
    })();
    // A failed load (a network error, say) is not remembered: the next call tries again.
    ready.catch(() => {
      ready = undefined;
    });
  }
  return ready;
}

const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

/** Verifies a `strata_getReceiptProof` answer; with `transactionHash`, it must be that
 * transaction's receipt; with `shown` (an `eth_getTransactionReceipt` answer you are about
 * to display), its status, block, index and logs must be the proven ones. Resolves to
 * `{verified: true, …}` (with the proven status and logs) or `{verified: false, reason}`. */
export async function verifyReceipt(answer, genesis, transactionHash, shown) {
  await load();
  return JSON.parse(wasm.verifyReceipt(text(answer), text(genesis), transactionHash ?? undefined, shown === undefined || shown === null ? undefined : text(shown)));
}

/** Verifies a storage certificate (a `strata_sendRawTransactionCertified` answer, or its
 * RLP hex) against the validators of its height. */
export async function verifyStorageCertificate(certificate, genesis) {
  await load();
  return JSON.parse(wasm.verifyStorageCertificate(text(certificate), text(genesis)));
}

/** Verifies a `strata_getProof` answer to `query` — what you asked: `{address, keys?,
 * block?, code?}` (`code`: an `eth_getCode` answer to check against the proven code
 * hash) — against a block's RLP header, commit certificate and validator-set proof (hex). */
export async function verifyState(proof, query, header, certificate, setProof, genesis) {
  await load();
  return JSON.parse(wasm.verifyState(text(proof), text(query), header, certificate, setProof, text(genesis)));
}

/** The Solidity ABI a Strata module carries (`[]` if none); throws on bytes that are not a module. */
export async function moduleAbi(code) {
  await load();
  const out = JSON.parse(wasm.moduleAbi(code));
  if (!Array.isArray(out)) throw new Error(out.error);
  return out;
}

/** Calldata decoded with `abi`: `{name, signature, args}` or `null`. */
export async function decodeCall(abi, input) {
  await load();
  return JSON.parse(wasm.decodeCall(text(abi), input));
}

/** A log decoded with `abi`: `{name, signature, args}` or `null`. */
export async function decodeLog(abi, topics, data) {
  await load();
  return JSON.parse(wasm.decodeLog(text(abi), JSON.stringify(topics), data));
}

/** Revert data as people read it. */
export async function decodeRevert(abi, data) {
  await load();
  return wasm.decodeRevert(text(abi ?? []), data);
}

/** A minimal JSON-RPC client (fetch), enough for the helpers below. */
export function rpcClient(url) {
  let id = 0;
  return async (method, params = []) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    const body = await res.json();
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  };
}

const rpcOf = (node) => (typeof node === 'function' ? node : rpcClient(node));

/** The newest block among the head and the three before it that has a commit
 * certificate on `node` (the head's may still be gathering), or `null`. */
export async function newestCertifiedBlock(node) {
  const rpc = rpcOf(node);
  const head = Number(BigInt(await rpc('eth_blockNumber')));
  for (let n = head; n >= Math.max(0, head - 3); n--) {
    if (await rpc('strata_getCommitCertificate', [`0x${n.toString(16)}`])) return n;
  }
  return null;
}

/** Fetches a transaction's receipt proof from `node` (a URL or an `rpcClient`) and verifies it. */
export async function fetchAndVerifyReceipt(node, transactionHash, genesis) {
  const answer = await rpcOf(node)('strata_getReceiptProof', [transactionHash]);
  if (!answer) return { verified: false, reason: `the node has no receipt for ${transactionHash}` };
  return verifyReceipt(answer, genesis, transactionHash);
}

/** Fetches an account (and storage keys, hex) at `block` (a number, or `'latest'`: the
 * newest certified block, resolved once) with everything that proves it — header, commit certificate,
 * validator-set proof, and the code, checked against the proven code hash — and
 * verifies it. */
export async function fetchAndVerifyState(node, address, keys, block, genesis) {
  const rpc = rpcOf(node);
  let number = null;
  if (typeof block === 'number' || typeof block === 'bigint') number = Number(block);
  else if (typeof block === 'string' && /^(0x[0-9a-fA-F]+|\d+)$/.test(block)) number = Number(BigInt(block));
  else if (block !== undefined && block !== null && block !== 'latest') {
    throw new Error(`block ${block}: give a number, a hex or decimal string, or 'latest' (the newest certified block)`);
  }
  if (number === null) {
    number = await newestCertifiedBlock(rpc);
    if (number === null) return { verified: false, reason: 'none of the last blocks has a commit certificate on this node' };
  }
  const tag = `0x${number.toString(16)}`;
  const [proof, code, header, cert, set] = await Promise.all([
    rpc('strata_getProof', [address, keys ?? [], tag]),
    rpc('eth_getCode', [address, tag]),
    rpc('debug_getRawHeader', [tag]),
    rpc('strata_getCommitCertificate', [tag]),
    rpc('strata_getValidatorSetProof', [tag]),
  ]);
  if (!header || !cert || !set) return { verified: false, reason: `block ${number} has no header, commit certificate or set proof on this node yet` };
  return verifyState(proof, { address, keys: keys ?? [], block: number, code }, header, cert.raw, set.proof, genesis);
}

/** The version of the Rust crate inside. */
export async function version() {
  await load();
  return wasm.version();
}
