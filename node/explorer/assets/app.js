// The explorer's shell: JSON-RPC to the node that served the page (same origin), the
// pinned genesis (the reader's trust root, kept in localStorage per chain), the ABI
// cache, the router and the search box. Pages are in pages.js.

import * as sdk from './sdk/index.js';
import { h, errorBox } from './view.js';
import { pages } from './pages.js';

let nextId = 0;

/** One JSON-RPC call; throws with the node's message on an error. */
export async function rpc(method, params = []) {
  const [r] = await batch([[method, params]]);
  if (r.error) throw new Error(`${method}: ${r.error.message}`);
  return r.result;
}

/** Several calls in one HTTP request; each answer is `{result}` or `{error}`, in order. */
export async function batch(calls) {
  if (!calls.length) return [];
  const body = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: ++nextId, method, params }));
  const res = await fetch('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`the node answered HTTP ${res.status}`);
  const parsed = await res.json();
  // A batch refused as a whole is answered with one error object.
  const answers = Array.isArray(parsed) ? parsed : [parsed];
  const byId = new Map(answers.map((a) => [a.id, a]));
  return body.map((b) => byId.get(b.id) ?? { error: { message: 'no answer' } });
}

/** Results of a batch, failing on the first error. */
export async function all(calls) {
  const answers = await batch(calls);
  return answers.map((a, i) => {
    if (a.error) throw new Error(`${calls[i][0]}: ${a.error.message}`);
    return a.result;
  });
}

let chainIdCache;
export async function chainId() {
  chainIdCache ??= Number(BigInt(await rpc('eth_chainId')));
  return chainIdCache;
}

const genesisKey = (id) => `strata.genesis.${id}`;

/** The genesis the reader pinned for this chain, or `null`. */
export async function pinnedGenesis() {
  const text = localStorage.getItem(genesisKey(await chainId()));
  return text ? JSON.parse(text) : null;
}

/** Pins `genesis` (`{chainId, validators}` or a genesis file) for its chain. */
export function pinGenesis(genesis) {
  const chain = genesis.chainId ?? genesis.chain_id;
  if (chain === undefined || chain === null) throw new Error('no chain id (chainId or chain_id)');
  const id = Number(BigInt(chain));
  if (!Number.isSafeInteger(id)) throw new Error(`chain id ${chain} is too large`);
  if (!Array.isArray(genesis.validators) || !genesis.validators.length) throw new Error('no validators list');
  const validators = genesis.validators.map((v) => (typeof v === 'string' ? v : v?.address));
  const seen = new Set();
  for (const v of validators) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(v ?? '')) throw new Error(`${v} is not a validator address`);
    if (/^0x0{40}$/.test(v)) throw new Error('the zero address is not a validator');
    if (seen.has(v.toLowerCase())) throw new Error(`validator ${v} is listed twice`);
    seen.add(v.toLowerCase());
  }
  localStorage.setItem(genesisKey(id), JSON.stringify({ chainId: id, validators }));
  return id;
}

export function unpinGenesis(id) {
  localStorage.removeItem(genesisKey(id));
}

/** Runs a verification with the pinned genesis: `run(genesis, timed)` fetches its
 * evidence and passes the checks through `timed(() => …)`, so `ms` is the time spent
 * verifying in Wasm, not fetching. Without a pinned genesis the verdict says so
 * (nothing is trusted by default). */
export async function verifyWith(run) {
  const genesis = await pinnedGenesis();
  if (!genesis) {
    return { verdict: { verified: false, reason: 'no genesis is pinned for this chain: pin one on the Trust page' } };
  }
  await sdk.load();
  let ms = 0;
  const timed = async (check) => {
    const t0 = performance.now();
    try {
      return await check();
    } finally {
      ms += performance.now() - t0;
    }
  };
  const verdict = await run(genesis, timed);
  return { verdict, ms };
}

const abis = new Map();

// The runtime's own records (no code: emitted from an address no key can have).
const RECORDS = '0x0000000000000000000000000000535452415441';
const u = (name, type) => ({ name, type, indexed: false });
const RECORDS_ABI = [
  { type: 'event', name: 'Resources', anonymous: false, inputs: [
    u('fuel', 'uint64'), u('txBytes', 'uint64'), u('validators', 'uint64'), u('storageBytesAdded', 'uint64'), u('storageBytesRemoved', 'uint64'),
    u('storageBytesPaid', 'uint64'), u('coldByteSeconds', 'uint64'), u('compute', 'uint256'), u('network', 'uint256'), u('storage', 'uint256'),
    u('cold', 'uint256'), u('total', 'uint256'), u('charged', 'uint256')] },
  { type: 'event', name: 'Payout', anonymous: false, inputs: [{ name: 'validator', type: 'address', indexed: true }, u('amount', 'uint256')] },
];
abis.set(RECORDS, Promise.resolve({ abi: RECORDS_ABI, source: 'code' }));

const abiKey = (address) => `strata.abi.${address.toLowerCase()}`;

/** The ABI for `address` and where it comes from: the one its code carries (`'code'`:
 * a Strata module describes itself; `code` is the exact code it was read from, which the
 * address page proves against the account's code hash), else one the reader gave this
 * browser for it (`'reader'`, `setLocalAbi`), else none (`[]`, `null`). */
export async function abiInfo(address) {
  const key = address.toLowerCase();
  if (!abis.has(key)) {
    abis.set(key, (async () => {
      const code = await rpc('eth_getCode', [address, 'latest']);
      const own = await sdk.moduleAbi(code).catch(() => []);
      if (own.length) return { abi: own, source: 'code', code };
      const given = localStorage.getItem(abiKey(address));
      return given ? { abi: JSON.parse(given), source: 'reader', code } : { abi: [], source: null, code };
    })());
    // A failure (the node busy, say) is not remembered: the next page asks again.
    abis.get(key).catch(() => abis.delete(key));
  }
  return abis.get(key);
}

/** The ABI for `address` (`[]` if none is known). */
export async function abiOf(address) {
  return (await abiInfo(address)).abi;
}

/** Keeps an ABI (JSON array, or an artifact with `abi`) for `address` in this browser;
 * used only when the contract's code carries none. */
export function setLocalAbi(address, text) {
  const parsed = JSON.parse(text);
  const entries = Array.isArray(parsed) ? parsed : parsed.abi;
  if (!Array.isArray(entries)) throw new Error('not an ABI: a JSON array, or an object with an `abi` array');
  localStorage.setItem(abiKey(address), JSON.stringify(entries));
  abis.delete(address.toLowerCase());
}

export { sdk };

/** Where a search leads. */
async function search(q) {
  const s = q.trim();
  if (/^\d+$/.test(s)) return `#/block/${s}`;
  if (/^0x[0-9a-fA-F]{40}$/.test(s)) return `#/address/${s}`;
  if (/^0x[0-9a-fA-F]{64}$/.test(s)) {
    const tx = await rpc('eth_getTransactionByHash', [s]);
    if (tx) return `#/tx/${s}`;
    const block = await rpc('eth_getBlockByHash', [s, false]);
    if (block) return `#/block/${s}`;
    throw new Error(`no transaction or block ${s} on this node`);
  }
  throw new Error(`"${s}" is not a block number, a hash or an address`);
}

async function route() {
  const main = document.getElementById('main');
  const [name, ...args] = (location.hash.replace(/^#\/?/, '') || 'home').split('/');
  const page = Object.hasOwn(pages, name) ? pages[name] : pages.home;
  const here = location.hash;
  const view = h('div', { 'data-page': name || 'home' });
  try {
    await page(view, ...args.map(decodeURIComponent));
    if (location.hash !== here) return;
    main.replaceChildren(view);
  } catch (e) {
    if (location.hash !== here) return;
    main.replaceChildren(view, errorBox(e));
  }
  document.body.dataset.ready = name || 'home';
  // Which route the page shows (tests wait for exactly this one).
  document.body.dataset.route = here || '#/';
}

document.getElementById('search').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const q = document.getElementById('q').value;
  try {
    location.hash = await search(q);
  } catch (e) {
    document.getElementById('main').replaceChildren(errorBox(e));
  }
});
window.addEventListener('hashchange', () => {
  document.body.dataset.ready = '';
  document.body.dataset.route = '';
  route();
});
route();
