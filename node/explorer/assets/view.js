// Building blocks of the pages: elements, formats, the verdict badge, the block-time
// chart and the liveness grid. No framework: the pages are small and served as is.

/** An element: `h('a', {href: '#/'}, 'text', child, [children])`. */
export function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'polyline', 'line', 'text', 'g', 'rect'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v);
  }
  const add = (c) => {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  return el;
}

/** A JSON-RPC quantity as a BigInt (`null` stays `null`). */
export const big = (q) => (q === null || q === undefined ? null : BigInt(q));
/** A JSON-RPC quantity as a Number (for counts and heights). */
export const int = (q) => (q === null || q === undefined ? null : Number(BigInt(q)));
/** `0x` + hex of a number. */
export const hex = (n) => `0x${BigInt(n).toString(16)}`;

/** `0x1234…abcd`. */
export function short(s, keep = 8) {
  if (!s || s.length <= 2 * keep + 4) return s ?? '';
  return `${s.slice(0, keep + 2)}…${s.slice(-keep)}`;
}

/** Wei as ether, exactly (no floats): up to 18 decimals, trailing zeros dropped. */
export function ether(wei) {
  const w = BigInt(wei);
  const neg = w < 0n;
  const a = neg ? -w : w;
  const whole = a / 10n ** 18n;
  const frac = (a % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''} ETH`;
}

/** Seconds since `ts` (a block timestamp) as people say it. */
export function ago(ts) {
  if (Number(ts) === 0) return 'genesis';
  const s = Math.max(0, Math.floor(Date.now() / 1000) - Number(ts));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export const link = {
  block: (n) => h('a', { href: `#/block/${n}` }, String(n)),
  blockHash: (hash) => h('a', { href: `#/block/${hash}`, class: 'mono' }, short(hash)),
  tx: (hash, full) => h('a', { href: `#/tx/${hash}`, class: 'mono' }, full ? hash : short(hash)),
  address: (a, full) => (a ? h('a', { href: `#/address/${a}`, class: 'mono' }, full ? a : short(a, 6)) : h('span', { class: 'muted' }, '—')),
};

/** A definition list of `[label, value]` pairs (values: strings or nodes). */
export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter((p) => p).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

/** A table; rows are arrays of cells. */
export function table(headers, rows, empty = 'Nothing yet.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('table', {}, h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))), h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}

export const card = (label, value, id) => h('div', { class: 'card', id }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));

/** The badge of a verification: what was proven, or why not. `data-verdict` is for tests. */
export function verdictBox(v, what, ms) {
  if (v === undefined) return h('div', { class: 'verdict muted', 'data-verdict': 'pending' }, `Verifying ${what}…`);
  const took = ms === undefined ? '' : ` in ${ms.toFixed(1)} ms`;
  if (v.verified) {
    return h('div', { class: 'verdict ok', 'data-verdict': 'verified', 'data-ms': ms?.toFixed(2) }, `✓ verified${took}: `, h('span', { class: 'detail' }, v.summary ?? what));
  }
  return h('div', { class: 'verdict bad', 'data-verdict': 'not-verified', 'data-ms': ms?.toFixed(2) }, '✗ not verified: ', h('span', { class: 'detail', 'data-reason': '' }, v.reason));
}

/** The block-time (seconds) and tx/s lines over `blocks` (`[{number, timestamp, txs}]`, ascending). */
export function blockChart(blocks) {
  const W = 600;
  const H = 160;
  const pad = 24;
  if (blocks.length < 2) return h('p', { class: 'muted' }, 'Not enough blocks for a chart yet.');
  // Timestamps are whole seconds: tx/s at a block is taken over the blocks since the
  // last one at least a second older (so same-second blocks do not divide by zero).
  const pts = [];
  for (let i = 1; i < blocks.length; i++) {
    let j = i - 1;
    while (j > 0 && blocks[i].timestamp - blocks[j].timestamp < 1) j--;
    const window = blocks[i].timestamp - blocks[j].timestamp;
    let txs = 0;
    for (let k = j + 1; k <= i; k++) txs += blocks[k].txs;
    pts.push({ n: blocks[i].number, bt: Math.max(0, blocks[i].timestamp - blocks[i - 1].timestamp), tps: window > 0 ? txs / window : 0 });
  }
  const maxBt = Math.max(1, ...pts.map((p) => p.bt));
  const maxTps = Math.max(1, ...pts.map((p) => p.tps));
  const x = (i) => pad + (i * (W - 2 * pad)) / Math.max(1, pts.length - 1);
  const y = (v, max) => H - pad - (v * (H - 2 * pad)) / max;
  const line = (cls, f, max) => h('polyline', { class: cls, points: pts.map((p, i) => `${x(i).toFixed(1)},${y(f(p), max).toFixed(1)}`).join(' ') });
  return h(
    'div',
    {},
    h('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'block time and transactions per second' },
      h('line', { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, stroke: '#dde2e8' }),
      line('bt', (p) => p.bt, maxBt),
      line('tps', (p) => p.tps, maxTps),
      h('text', { x: pad, y: H - 6 }, `#${pts[0].n}`),
      h('text', { x: W - pad - 40, y: H - 6 }, `#${pts[pts.length - 1].n}`),
      h('text', { x: 4, y: 12 }, `max ${maxBt}s · ${maxTps.toFixed(1)} tx/s`)),
    h('div', { class: 'legend' }, h('span', { class: 'bt' }, '— block time (s)'), h('span', { class: 'tps' }, '— transactions per second')),
  );
}

/** Liveness cells: one row per validator, one column per height; `cell(row, height)`
 * gives `'signed' | 'heartbeat' | 'missed' | ''` and a title. */
export function livenessGrid(rows, heights, cell) {
  const g = h('div', { class: 'grid', role: 'table', 'aria-label': 'validator liveness' });
  g.style.gridTemplateColumns = `max-content repeat(${heights.length}, 14px)`;
  for (const row of rows) {
    g.append(h('div', { class: 'name' }, row.label));
    for (const height of heights) {
      const [state, title] = cell(row, height);
      g.append(h('div', { class: `cell ${state}`, title: `${title} at height ${height}`, 'data-state': state }));
    }
  }
  return g;
}

export const errorBox = (e) => h('div', { class: 'error' }, e instanceof Error ? e.message : String(e));
