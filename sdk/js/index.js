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
        const { readFile } = await import('node:fs/promises');
        input = await readFile(new URL('./pkg/strata_verify_bg.wasm', import.meta.url));
      }
      await init(input === undefined ? undefined : { module_or_path: input });
    })();
  }
  return ready;
}

const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

/** Verifies a `strata_getReceiptProof` answer; with `transactionHash`, it must be that
 * transaction's receipt. Resolves to `{verified: true, …}` or `{verified: false, reason}`. */
export async function verifyReceipt(answer, genesis, transactionHash) {
  await load();
  return JSON.parse(wasm.verifyReceipt(text(answer), text(genesis), transactionHash ?? undefined));
}

/** Verifies a storage certificate (a `strata_sendRawTransactionCertified` answer, or its
 * RLP hex) against the validators of its height. */
export async function verifyStorageCertificate(certificate, genesis) {
  await load();
  return JSON.parse(wasm.verifyStorageCertificate(text(certificate), text(genesis)));
}

/** Verifies a `strata_getProof` answer against a block's RLP header, commit certificate
 * and validator-set proof (hex strings). */
export async function verifyState(proof, header, certificate, setProof, genesis) {
  await load();
  return JSON.parse(wasm.verifyState(text(proof), header, certificate, setProof, text(genesis)));
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

/** Fetches a transaction's receipt proof from `node` (a URL or an `rpcClient`) and verifies it. */
export async function fetchAndVerifyReceipt(node, transactionHash, genesis) {
  const answer = await rpcOf(node)('strata_getReceiptProof', [transactionHash]);
  if (!answer) return { verified: false, reason: `the node has no receipt for ${transactionHash}` };
  return verifyReceipt(answer, genesis, transactionHash);
}

/** Fetches an account (and storage keys, hex) at `block` with everything that proves it
 * — header, commit certificate, validator-set proof — and verifies it. */
export async function fetchAndVerifyState(node, address, keys, block, genesis) {
  const rpc = rpcOf(node);
  const tag = typeof block === 'number' ? `0x${block.toString(16)}` : block;
  const [proof, header, cert, set] = await Promise.all([
    rpc('strata_getProof', [address, keys ?? [], tag]),
    rpc('debug_getRawHeader', [tag]),
    rpc('strata_getCommitCertificate', [tag]),
    rpc('strata_getValidatorSetProof', [tag]),
  ]);
  if (!header || !cert) return { verified: false, reason: `block ${block} has no header or commit certificate yet` };
  return verifyState(proof, header, cert.raw, set.proof, genesis);
}

/** The version of the Rust crate inside. */
export async function version() {
  await load();
  return wasm.version();
}
