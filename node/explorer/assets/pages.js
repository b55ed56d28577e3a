// The pages, one function each: `(view, ...route arguments)`, filling `view`. Figures come
// from the node; those marked verified are checked in the browser (sdk/js) against the
// pinned genesis, with the reason shown when they are not.

import { rpc, all, batch, chainId, pinnedGenesis, pinGenesis, unpinGenesis, verifyWith, abiOf, abiInfo, setLocalAbi, sdk } from './app.js';
import { h, big, int, hex, short, ether, ago, link, kv, table, card, verdictBox, blockChart, livenessGrid } from './view.js';

const ARCHIVE = '0x0000000000000000000000000000000000001002';
const CHAIN_REGISTRY = '0x0000000000000000000000000000000000001005';
const RECENT = 40;
const EMPTY_CODE = '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470';
// A node serves logs over at most 10,000 blocks per query: the pages look that far back.
const LOG_WINDOW = 10000;

async function logWindow() {
  const head = int(await rpc('eth_blockNumber'));
  return { fromBlock: hex(Math.max(0, head - LOG_WINDOW + 1)), toBlock: hex(head) };
}

/** Shows a verification's badge in `slot`, replacing it when done. */
function verifyInto(slot, what, run) {
  slot.replaceChildren(verdictBox(undefined, what));
  verifyWith(run)
    .then(({ verdict, ms }) => slot.replaceChildren(verdictBox(verdict, what, ms)))
    .catch((e) => slot.replaceChildren(verdictBox({ verified: false, reason: e.message }, what)));
}

async function home(view) {
  const head = int(await rpc('eth_blockNumber'));
  const from = Math.max(0, head - RECENT + 1);
  const numbers = [];
  for (let n = head; n >= from; n--) numbers.push(n);
  const [blocks, status] = await Promise.all([
    all(numbers.map((n) => ['eth_getBlockByNumber', [hex(n), false]])),
    batch([['strata_consensusStatus', []]]).then(([a]) => a.result ?? null),
  ]);
  // Genesis has no block time of its own: the figures start after it.
  const asc = blocks.filter((b) => b && int(b.number) > 0).map((b) => ({ number: int(b.number), timestamp: int(b.timestamp), txs: b.transactions.length })).reverse();
  const span = asc.length > 1 ? asc[asc.length - 1].timestamp - asc[0].timestamp : 0;
  const txs = asc.slice(1).reduce((s, b) => s + b.txs, 0);
  view.append(
    h('h1', {}, `Chain ${await chainId()}`),
    h('div', { class: 'cards' },
      card('Head', link.block(head), 'head'),
      card(`Transactions/s (last ${asc.length} blocks)`, span > 0 ? (txs / span).toFixed(2) : '—', 'tps'),
      card('Block time (mean)', asc.length > 1 ? `${(span / (asc.length - 1)).toFixed(2)} s` : '—'),
      card('Finality', status ? `PBFT, view ${int(status.view)}: final when committed` : 'final when committed'),
      card('Validators', status ? String(int(status.validators)) : '—')),
    h('h2', {}, 'Block time and throughput'),
    blockChart(asc),
    h('h2', {}, 'Recent blocks'),
    table(['Block', 'Hash', 'Transactions', 'Gas used', 'Proposer', 'Age'], blocks.filter(Boolean).slice(0, 15).map((b) => [
      link.block(int(b.number)), link.blockHash(b.hash), String(b.transactions.length), String(int(b.gasUsed)), link.address(b.miner), ago(int(b.timestamp)),
    ])),
  );
}

async function block(view, id) {
  const byHash = /^0x[0-9a-fA-F]{64}$/.test(id);
  const b = await rpc(byHash ? 'eth_getBlockByHash' : 'eth_getBlockByNumber', [byHash ? id : hex(id), true]);
  if (!b) throw new Error(`no block ${id} on this node`);
  const n = int(b.number);
  const [cert, resolutions] = (await batch([['strata_getCommitCertificate', [hex(n)]], ['strata_getCertifiedResolutions', [hex(n)]]])).map((a) => a.result ?? null);
  view.append(
    h('h1', {}, `Block ${n}`),
    kv([
      ['Hash', h('span', { class: 'mono' }, b.hash)],
      ['Parent', n > 0 ? link.blockHash(b.parentHash) : '—'],
      ['Time', `${new Date(int(b.timestamp) * 1000).toISOString()} (${ago(int(b.timestamp))})`],
      ['Proposer', link.address(b.miner, true)],
      ['Gas used / limit', `${int(b.gasUsed)} / ${int(b.gasLimit)}`],
      ['State root', h('span', { class: 'mono' }, b.stateRoot)],
      ['Transactions root', h('span', { class: 'mono' }, b.transactionsRoot)],
      ['Receipts root', h('span', { class: 'mono' }, b.receiptsRoot)],
      ['Commit certificate', cert ? `view ${int(cert.view)}, signed by validators ${cert.signatures.map((s) => int(s.validator)).join(', ')}` : (n === 0 ? 'genesis' : 'none yet')],
      ['Navigation', h('span', {}, n > 0 ? link.block(n - 1) : '', ' · ', h('a', { href: `#/block/${n + 1}` }, String(n + 1)))],
    ]),
    h('h2', {}, `Transactions (${b.transactions.length})`),
    table(['Hash', 'From', 'To', 'Value', 'Nonce'], b.transactions.map((t) => [link.tx(t.hash), link.address(t.from), t.to ? link.address(t.to) : h('span', { class: 'muted' }, 'create'), ether(t.value), String(int(t.nonce))]), 'No transactions in this block.'),
  );
  if (resolutions && resolutions.resolutions?.length) {
    view.append(h('h2', {}, 'Certified transactions resolved without inclusion'),
      table(['Transaction', 'Outcome'], resolutions.resolutions.map((r) => [link.tx(r.transactionHash), r.reasonText])));
  }
}

/** A decoded call or event as `name(arg: value, …)`. */
function decodedText(d) {
  return `${d.name}(${d.args.map((a) => (a.name ? `${a.name}: ${a.value}` : a.value)).join(', ')})`;
}

async function tx(view, hash) {
  const [t, r] = await all([['eth_getTransactionByHash', [hash]], ['eth_getTransactionReceipt', [hash]]]);
  if (!t) throw new Error(`no transaction ${hash} on this node`);
  const abi = t.to ? await abiOf(t.to) : [];
  const call = t.to && t.input !== '0x' ? await sdk.decodeCall(abi, t.input) : null;
  const slot = h('div', { id: 'receipt-verdict' });
  view.append(h('h1', {}, 'Transaction'), h('p', { class: 'mono' }, hash), slot);
  const pairs = [
    ['Status', r ? (int(r.status) === 1 ? h('span', { class: 'ok' }, 'success') : h('span', { class: 'bad' }, 'failed')) : h('span', { class: 'warn' }, 'pending')],
    ['Block', r ? h('span', {}, link.block(int(r.blockNumber)), ` (index ${int(r.transactionIndex)})`) : '—'],
    ['From', link.address(t.from, true)],
    ['To', t.to ? link.address(t.to, true) : h('span', {}, 'contract creation → ', r?.contractAddress ? link.address(r.contractAddress, true) : '—')],
    ['Value', ether(t.value)],
    ['Nonce', String(int(t.nonce))],
    ['Call', call ? h('code', {}, decodedText(call)) : (t.input === '0x' ? 'none (a transfer)' : h('span', { class: 'muted' }, `${(t.input.length - 2) / 2} bytes of input${t.to ? ' (no ABI entry matches)' : ''}`))],
  ];
  if (r) {
    pairs.push(['Gas used', `${int(r.gasUsed)} at ${int(r.effectiveGasPrice)} wei`]);
    if (r.revertData) pairs.push(['Revert', h('code', { id: 'revert' }, await sdk.decodeRevert(abi, r.revertData))]);
    if (r.failureReason) pairs.push(['Failure', r.failureReason]);
  }
  view.append(kv(pairs), h('p', { class: 'muted' }, 'From, to, value, nonce and input are the node\'s account of the transaction; what is proven is that the transaction with this hash is in the block, and the receipt below.'));
  if (!r) return;
  const res = r.resources;
  if (res) {
    view.append(h('h2', {}, 'Resources and fee'), table(['Resource', 'Used', 'Fee'], [
      ['Compute (fuel)', String(int(res.fuel)), ether(res.fee.compute)],
      ['Network (transaction bytes × validators)', `${int(res.txBytes)} × ${int(res.validators)}`, ether(res.fee.network)],
      ['Storage (bytes added / removed / paid)', `${int(res.storageBytesAdded)} / ${int(res.storageBytesRemoved)} / ${int(res.storageBytesPaid)}`, ether(res.fee.storage)],
      ['Cold storage (byte-seconds)', String(int(res.coldByteSeconds)), ether(res.fee.cold)],
      [h('b', {}, 'Total (charged)'), '', h('b', {}, `${ether(res.fee.total)} (${ether(res.fee.charged)})`)],
    ]));
  }
  if (r.payouts?.length) view.append(h('h2', {}, 'Fee paid to validators'), table(['Validator', 'Amount'], r.payouts.map((p) => [link.address(p.validator, true), ether(p.amount)])));
  const logRows = [];
  for (const l of r.logs) {
    const d = await sdk.decodeLog(await abiOf(l.address), l.topics, l.data);
    logRows.push([String(int(l.logIndex)), link.address(l.address), d ? h('code', {}, decodedText(d)) : h('span', { class: 'mono muted' }, `${l.topics.length} topics, ${(l.data.length - 2) / 2} bytes`)]);
  }
  view.append(h('h2', {}, `Events (${r.logs.length})`), table(['#', 'Contract', 'Event'], logRows, 'No events.'));
  verifyInto(slot, 'receipt', async (genesis, timed) => {
    const answer = await rpc('strata_getReceiptProof', [hash]);
    if (!answer) return { verified: false, reason: 'the node gives no receipt proof for this transaction' };
    // The receipt shown above (status, block, events) is checked against the proven one.
    const v = await timed(() => sdk.verifyReceipt(answer, genesis, hash, r));
    if (v.verified) {
      v.summary = `the status, block, cumulative gas and all ${v.logs.length} logs shown (emitters, topics and data, the fee and payout records included) are the receipt proven at index ${v.transactionIndex} of block ${v.blockNumber} (${new Date(v.timestamp * 1000).toISOString()}), bound to this transaction hash; receipt and transaction proven against the header, the header finalized by validators ${v.signers.join(', ')} (quorum ${v.quorum} of ${v.validators}). Names in decoded calls and events come from each contract's ABI, proven on its address page.`;
    }
    return v;
  });
}

/** The newest certified block (sdk/js), or the head if none of the last few has a
 * certificate yet (its verification then says why). */
async function certifiedHeight() {
  return (await sdk.newestCertifiedBlock(rpc)) ?? int(await rpc('eth_blockNumber'));
}

/** Proves `address` (and `keys`) at the newest certified block; with `code` (the exact
 * code the page took the contract's ABI from), that it hashes to the proven code hash
 * (code never changes once deployed), so the ABI the page decodes with is the account's. */
function verifyState(slot, what, address, keys, code) {
  verifyInto(slot, what, async (genesis, timed) => {
    const n = await certifiedHeight();
    const [proof, header, cert, set] = await all([
      ['strata_getProof', [address, keys, hex(n)]], ['debug_getRawHeader', [hex(n)]],
      ['strata_getCommitCertificate', [hex(n)]], ['strata_getValidatorSetProof', [hex(n)]],
    ]);
    if (!header || !cert || !set) return { verified: false, reason: `block ${n} has no header, commit certificate or set proof on this node` };
    const query = { address, keys, block: n, code };
    const v = await timed(() => sdk.verifyState(proof, query, header, cert.raw, set.proof, genesis));
    if (v.verified) {
      const entries = v.storage.map((e) => (e.absent ? `${short(e.key)}: absent` : e.value ? `${short(e.key)} = ${short(e.value)}` : `${short(e.key)}: archived (tombstone: ${e.tombstone.size} bytes, hash ${short(e.tombstone.valueHash)}, retained to ${e.tombstone.retentionEnd}${e.tombstone.purged ? ', purged' : ''})`));
      v.summary = `${short(v.address, 6)} at block ${v.blockNumber} (${new Date(v.timestamp * 1000).toISOString()}): balance ${ether(v.balance)}, nonce ${v.nonce}${v.codeChecked && v.codeHash !== EMPTY_CODE ? ', the code shown (and the ABI it carries) is the account\'s' : ''}${entries.length ? `; ${entries.join('; ')}` : ''}; proven against its state root, finalized by validators ${v.signers.join(', ')}`;
    }
    return v;
  });
}

const utf8Hex = (s) => `0x${Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, '0')).join('')}`;

async function address(view, addr) {
  const [balance, nonce, code, quota] = (await batch([
    ['eth_getBalance', [addr, 'latest']], ['eth_getTransactionCount', [addr, 'latest']], ['eth_getCode', [addr, 'latest']], ['strata_getStorageQuota', [addr, 'latest']],
  ])).map((a) => a.result ?? null);
  const { abi, source, code: abiCode } = code && code !== '0x' ? await abiInfo(addr) : { abi: [], source: null, code: undefined };
  const slot = h('div', { id: 'account-verdict' });
  view.append(h('h1', {}, code && code !== '0x' ? 'Contract' : 'Account'), h('p', { class: 'mono' }, addr), slot, kv([
    ['Balance', balance ? ether(balance) : '—'],
    ['Nonce', nonce ? String(int(nonce)) : '—'],
    ['Code', code && code !== '0x' ? `${(code.length - 2) / 2} bytes` : 'none'],
    quota && code !== '0x' ? ['Storage quota', `${int(quota.used ?? 0)} of ${int(quota.quota ?? 0)} bytes used`] : null,
    abi.length ? [`ABI (${source === 'reader' ? 'given in this browser' : 'carried by the code'})`, h('div', {}, abi.filter((e) => e.type === 'function' || e.type === 'event').map((e) => h('div', { class: 'mono' }, `${e.type} ${e.name}(${(e.inputs ?? []).map((i) => i.type).join(',')})`)))] : null,
  ]));
  if (code && code !== '0x' && source !== 'code') {
    // Code built by another pipeline carries no ABI: the reader may give one (kept in
    // this browser, used to decode this contract's calls and events).
    const text = h('textarea', { id: 'abi-input', placeholder: 'This code carries no ABI. Paste one (a JSON array, or an artifact with "abi") to decode its calls and events.' });
    const msg = h('div');
    view.append(h('h2', {}, 'ABI'), text, h('div', { class: 'row' }, h('button', { id: 'abi-save', onclick: () => {
      try { setLocalAbi(addr, text.value); location.reload(); } catch (e) { msg.replaceChildren(h('span', { class: 'bad' }, e.message)); }
    } }, 'Use this ABI')), msg);
  }
  // The code whose ABI the page uses is the code proven (a pasted ABI is the reader's own).
  verifyState(slot, 'account', addr, [], abiCode ?? code ?? undefined);

  const keyInput = h('input', { class: 'wide', id: 'storage-key', placeholder: 'storage key: 0x… hex, or text' });
  const keySlot = h('div', { id: 'storage-verdict' });
  view.append(h('h2', {}, 'Storage entry (live or archived), verified'),
    h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); const k = keyInput.value.trim(); verifyState(keySlot, 'storage entry', addr, [/^0x([0-9a-fA-F]{2})*$/.test(k) ? k : utf8Hex(k)]); } }, keyInput, h('button', { type: 'submit' }, 'Prove')),
    keySlot);

  const archived = await batch([['eth_getLogs', [{ address: ARCHIVE, ...(await logWindow()), topics: [null, `0x${addr.slice(2).toLowerCase().padStart(64, '0')}`] }]]]);
  if (archived[0].error) throw new Error(`archived keys: ${archived[0].error.message}`);
  const archiveAbi = await abiOf(ARCHIVE);
  const rows = [];
  for (const l of archived[0].result ?? []) {
    const d = await sdk.decodeLog(archiveAbi, l.topics, l.data);
    if (!d || !['Archived', 'Restored'].includes(d.name)) continue;
    const key = d.args.find((a) => a.name === 'key')?.value;
    rows.push([d.name, h('a', { href: '#', class: 'mono', onclick: (ev) => { ev.preventDefault(); verifyState(keySlot, 'storage entry', addr, [key]); } }, short(key, 12)), link.block(int(l.blockNumber)), link.tx(l.transactionHash)]);
  }
  if (rows.length) view.append(h('h2', {}, `Archived keys (last ${LOG_WINDOW} blocks)`), table(['Event', 'Key (prove)', 'Block', 'Transaction'], rows));

  const history = await batch([['ots_searchTransactionsBefore', [addr, 0, 25]]]);
  const page = history[0].result;
  view.append(h('h2', {}, 'Transactions'), page
    ? table(['Hash', 'Block', 'From', 'To', 'Value'], page.txs.map((t) => [link.tx(t.hash), link.block(int(t.blockNumber)), link.address(t.from), t.to ? link.address(t.to) : 'create', ether(t.value)]), 'No transactions.')
    : h('p', { class: 'muted' }, 'This node keeps no address index.'));
}

async function validators(view) {
  const [status, slots, set] = (await batch([['strata_consensusStatus', []], ['strata_validatorSlots', ['latest']], ['strata_getValidatorSetProof', ['latest']]])).map((a) => a.result ?? null);
  view.append(h('h1', {}, 'Validators'));
  if (status) view.append(kv([['View', String(int(status.view))], ['Primary (validator index)', String(int(status.primary))], ['Height', String(int(status.height))], ['This node', `validator ${int(status.me)}`], ['Connected peers', String(int(status.peers))]]));
  if (slots) {
    const rows = slots.slots.map((s) => ({ label: `slot ${int(s.slot)}: ${short(s.active, 4)}${s.backupActive ? ' (backup)' : ''}`, s }));
    const heights = rows[0]?.s.liveness.map((l) => int(l.height)) ?? [];
    view.append(h('h2', {}, 'Slots'), table(['Slot', 'Primary', 'Backup', 'Active', 'Storage', 'Last switch', 'Streak'], slots.slots.map((s) => [
      String(int(s.slot)), link.address(s.primary), s.backup ? link.address(s.backup) : '—', h('span', { class: 'mono' }, s.backupActive ? 'backup' : 'primary'), ['nvme', 'ssd', 'hdd'][int(s.storageClass)] ?? String(int(s.storageClass)), String(int(s.lastSwitch)), String(int(s.streak)),
    ])), h('h2', {}, `Liveness over the last ${heights.length} blocks`), livenessGrid(rows, heights, (row, height) => {
      const l = row.s.liveness.find((x) => int(x.height) === height);
      if (l?.activeSigned) return ['signed', 'signed the commit certificate'];
      if (l?.heartbeat) return ['heartbeat', 'heartbeat only'];
      return ['missed', 'neither signed nor beat'];
    }));
    return;
  }
  // A chain without slots: the validators' signatures on the last blocks' certificates.
  const head = int(await rpc('eth_blockNumber'));
  const heights = [];
  for (let n = Math.max(1, head - 29); n <= head; n++) heights.push(n);
  const certs = await batch(heights.map((n) => ['strata_getCommitCertificate', [hex(n)]]));
  const signed = new Map(heights.map((n, i) => [n, new Set((certs[i].result?.signatures ?? []).map((s) => int(s.validator)))]));
  const list = set?.validators ?? [];
  view.append(h('h2', {}, 'Validator set'), table(['Index', 'Address'], list.map((a, i) => [String(i), link.address(a, true)])),
    h('h2', {}, `Commit-certificate signatures over the last ${heights.length} blocks`),
    livenessGrid(list.map((a, i) => ({ label: `${i}: ${short(a, 4)}`, i })), heights, (row, height) => (
      !certs[heights.indexOf(height)].result ? ['', 'no certificate yet'] : signed.get(height).has(row.i) ? ['signed', 'signed'] : ['missed', 'did not sign']
    )));
}

async function certificates(view) {
  const input = h('textarea', { id: 'certificate', placeholder: 'Paste a storage certificate: the JSON strata_sendRawTransactionCertified (or strata tx send --certified --save) returned, or its RLP hex' });
  const slot = h('div', { id: 'certificate-verdict' });
  view.append(h('h1', {}, 'Storage certificates'),
    h('p', {}, 'A storage certificate is a quorum of validators stating that each stored a transaction durably before its block. It is checked here against the validators of its height, proven from your pinned genesis.'),
    input, h('div', { class: 'row' }, h('button', { id: 'verify-certificate', onclick: () => verifyInto(slot, 'storage certificate', async (genesis, timed) => {
      const text = input.value.trim();
      let answer;
      try { answer = JSON.parse(text); } catch { answer = text; }
      const v = await timed(() => sdk.verifyStorageCertificate(answer, genesis));
      if (v.verified) v.summary = `transaction ${short(v.transactionHash)} of ${short(v.sender)} (nonce ${v.nonce}) stored by validators ${v.signers.join(', ')} of ${v.validators} at height ${v.height}; due in a block by ${v.expiry}`;
      return v;
    }) }, 'Verify')), slot);
}

/** Every log of `address`, decoded with the ABI its code carries. */
async function decodedLogs(address) {
  const [logs, abi] = await Promise.all([rpc('eth_getLogs', [{ address, ...(await logWindow()) }]), abiOf(address)]);
  const out = [];
  for (const l of logs) out.push({ l, d: await sdk.decodeLog(abi, l.topics, l.data) });
  return out;
}

const eventRow = ({ l, d }) => [link.block(int(l.blockNumber)), link.tx(l.transactionHash), d ? h('code', {}, decodedText(d)) : h('span', { class: 'muted' }, 'undecoded')];

function contractForm(view, route, label) {
  const input = h('input', { class: 'wide', placeholder: `${label} contract address 0x…` });
  view.append(h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); location.hash = `#/${route}/${encodeURIComponent(input.value.trim())}`; } }, input, h('button', { type: 'submit' }, 'Show')));
}

async function attestations(view, contract) {
  view.append(h('h1', {}, 'Attestation requests'));
  contractForm(view, 'attestations', 'Attestation');
  if (!contract) return;
  const events = await decodedLogs(contract);
  const requests = new Map();
  for (const e of events) {
    if (!e.d) continue;
    const id = e.d.args.find((a) => a.name === 'id')?.value;
    if (id === undefined) continue;
    const r = requests.get(id) ?? { id, events: [] };
    r.events.push(e);
    if (e.d.name === 'Requested') r.requested = e;
    if (['Attested', 'Rejected', 'Expired'].includes(e.d.name)) r.outcome = e;
    requests.set(id, r);
  }
  view.append(h('h2', {}, `Requests of ${short(contract)} (last ${LOG_WINDOW} blocks)`), table(['Request', 'Requested', 'Observations', 'Outcome', 'Decided in'], [...requests.values()].reverse().map((r) => [
    String(r.id), r.requested ? link.tx(r.requested.l.transactionHash) : '—', String(r.events.filter((e) => e.d.name === 'Observed').length),
    r.outcome ? h('span', { class: r.outcome.d.name === 'Attested' ? 'ok' : 'bad' }, r.outcome.d.name) : h('span', { class: 'warn' }, 'pending'),
    r.outcome ? link.tx(r.outcome.l.transactionHash) : '—',
  ]), 'No requests.'), h('h2', {}, 'All events'), table(['Block', 'Transaction', 'Event'], events.slice().reverse().map(eventRow), 'No events.'));
}

async function chains(view, deals) {
  view.append(h('h1', {}, 'Chain hierarchy'));
  const registry = await decodedLogs(CHAIN_REGISTRY);
  const registered = registry.filter((e) => e.d?.name === 'ChainRegistered');
  view.append(h('h2', {}, 'Registered chains'), table(['Chain', 'Genesis', 'Validators', 'Quorum', 'Role'], registered.map(({ d }) => {
    const arg = (n) => d.args.find((a) => a.name === n)?.value;
    return [arg('chainId'), h('span', { class: 'mono' }, short(arg('genesisHash'))), arg('validators'), arg('quorum'), arg('isParent') === 'true' ? 'parent' : 'child'];
  }), 'No chains registered here.'), h('h2', {}, 'Checkpoints and registry events'), table(['Block', 'Transaction', 'Event'], registry.slice(-30).reverse().map(eventRow), 'None.'));
  view.append(h('h2', {}, 'Storage deals'));
  contractForm(view, 'chains', 'Deals');
  if (deals) view.append(table(['Block', 'Transaction', 'Event'], (await decodedLogs(deals)).reverse().map(eventRow), 'No deal events.'));
}

async function events(view, contract) {
  if (!contract) throw new Error('which contract? #/events/<address>');
  view.append(h('h1', {}, 'Contract events'), h('p', { class: 'mono' }, link.address(contract, true)), table(['Block', 'Transaction', 'Event'], (await decodedLogs(contract)).reverse().map(eventRow), 'No events.'));
}

async function trust(view) {
  const id = await chainId();
  const pinned = await pinnedGenesis();
  const input = h('textarea', { id: 'genesis', placeholder: 'Paste genesis.json, or {"chainId": …, "validators": ["0x…"]}' });
  const msg = h('div', { id: 'trust-message' });
  const failed = (e) => msg.replaceChildren(h('span', { class: 'bad' }, e instanceof Error ? e.message : String(e)));
  const pin = async (g) => {
    const at = pinGenesis(g);
    if (at !== id) throw new Error(`that genesis is of chain ${at}; this node serves chain ${id} (kept for chain ${at})`);
    const fresh = h('div', { 'data-page': 'trust' });
    await trust(fresh);
    view.replaceChildren(...fresh.childNodes);
    view.querySelector('#trust-message').replaceChildren(h('span', { class: 'ok' }, `pinned for chain ${at}`));
  };
  view.append(h('h1', {}, 'Trust root'),
    h('p', {}, 'Verification trusts one thing: the validator set of genesis, which you pin here (stored in this browser). Every later set is proven from it across the chain\'s validator-set switches, and every answer the node gives is checked against it.'),
    h('p', { class: 'muted' }, 'This page and its verifier are served by this node: they protect you from its answers, not from the node serving a different page. For independent checks, run the same verifier from your own copy (the npm package in sdk/js, or strata audit).'),
    kv([['This node\'s chain', String(id)], ['Pinned', pinned ? h('span', { class: 'mono', id: 'pinned' }, `${pinned.validators.length} validators: ${pinned.validators.join(', ')}`) : h('span', { class: 'warn', id: 'pinned' }, 'nothing pinned')]]),
    h('h2', {}, 'Pin a genesis'), input,
    h('div', { class: 'row' },
      h('button', { id: 'pin-pasted', onclick: () => Promise.resolve().then(() => pin(JSON.parse(input.value))).catch(failed) }, 'Pin pasted genesis'),
      h('button', { class: 'secondary', id: 'pin-node', onclick: () => rpc('strata_getValidatorSetProof', ['0x0']).then((set) => pin({ chainId: id, validators: set.validators })).catch(failed) }, 'Trust this node\'s genesis set (first use)'),
      pinned ? h('button', { class: 'secondary', onclick: () => { unpinGenesis(id); location.reload(); } }, 'Forget') : null),
    msg);
}

export const pages = { home, block, tx, address, validators, certificates, attestations, chains, events, trust };
