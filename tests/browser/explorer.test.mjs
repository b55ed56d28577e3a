// The explorer in headless Chromium (Debian's, driven by playwright-core): every page
// renders without console errors, the in-browser verifier says "verified" for real
// receipts, accounts and storage entries and "not verified" with the reason for a
// tampered receipt bundle, and the figures the issue asks for are measured.
//
//   node explorer.test.mjs --topology NAME --fixture F.json --out DIR [--certificate C.json] [--genesis G.json]
//
// The fixture names the node's URL and the transactions scripts/browser-test.sh made.

import { chromium } from 'playwright-core';
import { readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import assert from 'node:assert/strict';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const fixture = JSON.parse(await readFile(args.fixture, 'utf8'));
const out = args.out;
await mkdir(out, { recursive: true });
const base = `${fixture.url}/explorer/`;
const results = [];
const summary = { topology: args.topology };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`); });
page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: uncaught ${e.message}`));
// A request cut short by the test's own navigation (net::ERR_ABORTED) is not a failure.
page.on('requestfailed', (r) => {
  if (r.failure()?.errorText !== 'net::ERR_ABORTED') consoleErrors.push(`${page.url()}: request failed ${r.url()} ${r.failure()?.errorText}`);
});

/** Opens a route (reloading when it is already the one shown) and waits for the page
 * to say it rendered exactly that route; screenshots it. */
async function visit(route, name) {
  const want = `#/${route}`;
  const t0 = Date.now();
  if (page.url() === `${base}${want}`) await page.reload();
  else await page.goto(`${base}${want}`);
  await page.waitForFunction((r) => document.body.dataset.route === r, want, { timeout: 15000 });
  const ms = Date.now() - t0;
  const error = await page.$('.error');
  assert.equal(error, null, `${route}: the page shows an error: ${error && (await error.textContent())}`);
  await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
  return ms;
}

/** Waits for the verdict in `selector` to settle; returns `{verdict, reason, ms}`. */
async function verdictIn(selector) {
  const el = await page.waitForSelector(`${selector} [data-verdict="verified"], ${selector} [data-verdict="not-verified"]`, { timeout: 20000 });
  return { verdict: await el.getAttribute('data-verdict'), reason: await el.textContent(), ms: Number(await el.getAttribute('data-ms')) };
}

async function step(name, f) {
  const t0 = Date.now();
  try {
    await f();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`ok   ${args.topology} ${name}`);
  } catch (e) {
    results.push({ name, ok: false, error: e.message });
    console.log(`FAIL ${args.topology} ${name}: ${e.message}`);
    await page.screenshot({ path: `${out}/FAILED-${name.replace(/\W+/g, '_')}.png`, fullPage: true }).catch(() => {});
  }
}

await step('first load of the home page (cold cache)', async () => {
  summary.firstLoadMs = await visit('', 'home');
  const head = await page.textContent('#head .value');
  assert.match(head, /^\d+$/);
  assert.ok(await page.$('svg.chart'), 'the block-time chart is drawn');
});

await step('nothing is verified before a genesis is pinned', async () => {
  await visit(`tx/${fixture.transfer}`, 'tx-unpinned');
  const v = await verdictIn('#receipt-verdict');
  assert.equal(v.verdict, 'not-verified');
  assert.match(v.reason, /no genesis is pinned/);
});

await step('pin the genesis', async () => {
  await visit('trust', 'trust');
  if (args.genesis) {
    await page.fill('#genesis', await readFile(args.genesis, 'utf8'));
    await page.click('#pin-pasted');
  } else {
    await page.click('#pin-node');
  }
  await page.waitForSelector('#trust-message .ok');
  assert.match(await page.textContent('#pinned'), /validators: 0x/);
});

for (const [name, hash] of [['transfer', fixture.transfer], ['token transfer', fixture.tokenTransfer]]) {
  await step(`a real receipt is verified (${name})`, async () => {
    await visit(`tx/${hash}`, `tx-${name.replace(' ', '-')}`);
    const v = await verdictIn('#receipt-verdict');
    assert.equal(v.verdict, 'verified', v.reason);
    (summary.verifyReceiptMs ??= []).push(v.ms);
  });
}

await step('calldata and events are decoded with the ABI the code carries', async () => {
  await visit(`tx/${fixture.tokenTransfer}`, 'tx-token-decoded');
  const text = await page.textContent('main');
  assert.match(text, /transfer\(to: 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, amount: 250\)|transfer\([^)]*250\)/);
  assert.match(text, /Transfer\(from: 0x[0-9a-fA-F]{40}, to: 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, value: 250\)/);
  assert.match(text, /Fee paid to validators|Resources and fee/);
});

await step('a revert is shown with its reason', async () => {
  await visit(`tx/${fixture.failed}`, 'tx-reverted');
  assert.match(await page.textContent('#revert'), /InsufficientBalance\(available: \d+, required: 99999999999\)/);
});

await step('a tampered receipt bundle is not verified, with the reason', async () => {
  await page.route(`${fixture.url}/`, async (route) => {
    const body = route.request().postData() ?? '';
    if (!body.includes('strata_getReceiptProof')) return route.continue();
    const res = await route.fetch();
    const json = await res.json();
    for (const answer of Array.isArray(json) ? json : [json]) {
      const b = answer.result?.bundle;
      if (b) {
        // One hex digit of the receipt (inside its logs bloom) changes.
        const at = 300;
        answer.result.bundle = b.slice(0, at) + (b[at] === '0' ? '1' : '0') + b.slice(at + 1);
      }
    }
    await route.fulfill({ response: res, json });
  });
  let v;
  try {
    await visit(`tx/${fixture.tokenTransfer}`, 'tx-tampered');
    v = await verdictIn('#receipt-verdict');
  } finally {
    await page.unroute(`${fixture.url}/`);
  }
  assert.equal(v.verdict, 'not-verified');
  assert.match(v.reason, /not verified: .*(receiptsRoot|proof|does not decode|finalized)/);
  summary.tamperedReason = v.reason;
});

await step('an account and a contract storage entry are verified against a certified block', async () => {
  await visit(`address/${fixture.token}`, 'address-token');
  const account = await verdictIn('#account-verdict');
  assert.equal(account.verdict, 'verified', account.reason);
  await page.fill('#storage-key', 'nonexistent-key');
  await page.press('#storage-key', 'Enter');
  const entry = await verdictIn('#storage-verdict');
  assert.equal(entry.verdict, 'verified', entry.reason);
  assert.match(entry.reason, /absent/);
  const text = await page.textContent('main');
  assert.match(text, /Storage quota/);
  assert.match(text, /function transfer\(address,uint256\)/);
  (summary.verifyStateMs ??= []).push(account.ms);
});

await step('an archived entry is listed and its tombstone verified', async () => {
  await visit(`address/${fixture.kvstore}`, 'address-kvstore');
  assert.match(await page.textContent('main'), /Archived keys/);
  await page.click(`a.mono:has-text("${fixture.archivedKey.slice(0, 8)}")`);
  const entry = await verdictIn('#storage-verdict');
  assert.equal(entry.verdict, 'verified', entry.reason);
  assert.match(entry.reason, /archived \(tombstone: 5 bytes/);
  await page.screenshot({ path: `${out}/address-kvstore-tombstone.png`, fullPage: true });
});

await step('code without an ABI is decoded with one the reader gives', async () => {
  await visit(`tx/${fixture.bareSet}`, 'tx-bare-undecoded');
  assert.match(await page.textContent('main'), /bytes of input \(no ABI entry matches\)/);
  await visit(`address/${fixture.bareStore}`, 'address-bare');
  await verdictIn('#account-verdict');
  await page.fill('#abi-input', await readFile(fixture.abiFile, 'utf8'));
  await page.click('#abi-save');
  await page.waitForFunction(() => document.body.dataset.route?.startsWith('#/address/') && document.querySelector('main').textContent.includes('given in this browser'), null, { timeout: 15000 });
  await visit(`tx/${fixture.bareSet}`, 'tx-bare-decoded');
  assert.match(await page.textContent('main'), /set\(key: 0x6b6579, value: 0x76616c7565\)/);
});

await step('an address lists its transactions (ots index)', async () => {
  await visit('address/0x70997970C51812dc3A010C7d01b50e0d17dc79C8', 'address-recipient');
  const text = await page.textContent('main');
  assert.ok(text.includes(fixture.transfer.slice(0, 10)), 'the transfer to it is listed');
});

await step('a block page shows its certificate signers', async () => {
  await visit('block/1', 'block-1');
  assert.match(await page.textContent('main'), /signed by validators \d/);
});

await step('the validators page draws the liveness grid', async () => {
  await visit('validators', 'validators');
  const cells = await page.$$('.grid .cell');
  assert.ok(cells.length > 0, 'liveness cells');
  assert.ok((await page.$$('.grid .cell[data-state="signed"]')).length > 0, 'some signed cells');
  if (args.slots) assert.match(await page.textContent('main'), /Slots[\s\S]*Liveness over the last \d+ blocks/);
});

await step('search finds blocks, transactions and addresses', async () => {
  await visit('', 'search-start');
  for (const [q, want] of [['1', 'block'], [fixture.transfer, 'tx'], [fixture.token, 'address']]) {
    await page.fill('#q', q);
    await page.press('#q', 'Enter');
    await page.waitForFunction((r) => document.body.dataset.ready === r, want, { timeout: 10000 });
  }
});

await step('storage certificates are verified, forged ones are not', async () => {
  await visit('certificates', 'certificates');
  if (args.certificate) {
    await page.fill('#certificate', await readFile(args.certificate, 'utf8'));
    await page.click('#verify-certificate');
    const v = await verdictIn('#certificate-verdict');
    assert.equal(v.verdict, 'verified', v.reason);
    (summary.verifyCertificateMs ??= []).push(v.ms);
    const saved = JSON.parse(await readFile(args.certificate, 'utf8'));
    const c = saved.certificate;
    saved.certificate = c.slice(0, c.length - 20) + (c[c.length - 20] === '0' ? '1' : '0') + c.slice(c.length - 19);
    await page.fill('#certificate', JSON.stringify(saved));
    await page.click('#verify-certificate');
    await page.waitForFunction(() => !document.querySelector('#certificate-verdict [data-verdict="verified"]'));
    const bad = await verdictIn('#certificate-verdict');
    assert.equal(bad.verdict, 'not-verified');
    await page.screenshot({ path: `${out}/certificate-forged.png`, fullPage: true });
  } else {
    await page.fill('#certificate', '{"certificate": "0xc0"}');
    await page.click('#verify-certificate');
    const v = await verdictIn('#certificate-verdict');
    assert.equal(v.verdict, 'not-verified');
  }
});

await step('attestations, chains and contract events pages render', async () => {
  await visit('attestations', 'attestations');
  await visit(`chains`, 'chains');
  await visit(`events/${fixture.token}`, 'events-token');
  assert.match(await page.textContent('main'), /Transfer\(/);
});

// `STRATA_BROWSER_BENCH=N` (scripts/bench.sh explorer): the figures over N runs each,
// beside their bounds. Verification runs in the page, on the evidence fetched once.
const benchRuns = Number(process.env.STRATA_BROWSER_BENCH ?? 0);
if (benchRuns > 0) {
  const loads = [];
  for (let i = 0; i < benchRuns; i++) {
    const fresh = await browser.newContext();
    const p = await fresh.newPage();
    const t0 = Date.now();
    await p.goto(base);
    await p.waitForFunction(() => document.body.dataset.ready === 'home', null, { timeout: 15000 });
    loads.push(Date.now() - t0);
    await fresh.close();
  }
  const times = await page.evaluate(async ({ hash, runs }) => {
    const sdk = await import('/explorer/sdk/index.js');
    await sdk.load();
    const genesis = JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('strata.genesis.'))));
    const call = async (method, params) => (await (await fetch('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json()).result;
    const answer = await call('strata_getReceiptProof', [hash]);
    const out = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const v = await sdk.verifyReceipt(answer, genesis, hash);
      out.push(performance.now() - t0);
      if (!v.verified) throw new Error(v.reason);
    }
    return { times: out, signers: (await sdk.verifyReceipt(answer, genesis, hash)).signers.length };
  }, { hash: fixture.tokenTransfer, runs: benchRuns });
  const sorted = (xs) => xs.slice().sort((a, b) => a - b);
  const pct = (xs, q) => sorted(xs)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  const wasmBytes = (await stat(new URL('../../sdk/js/pkg/strata_verify_bg.wasm', import.meta.url))).size;
  const line = (what, value, unit, bound) => console.log(`  ${what.padEnd(52)} ${value.toFixed(1).padStart(9)} ${unit.padEnd(3)} bound ${bound} ${unit}: ratio ${(value / bound).toFixed(2)}`);
  console.log(`== explorer (${args.topology}, Chromium headless, ${benchRuns} runs each)`);
  line(`receipt + ${times.signers}-signature certificate verification, p50`, pct(times.times, 0.5), 'ms', 50);
  line(`receipt + ${times.signers}-signature certificate verification, p90`, pct(times.times, 0.9), 'ms', 50);
  line('first page load (fresh browser context), p50', pct(loads, 0.5), 'ms', 1000);
  line('first page load (fresh browser context), p90', pct(loads, 0.9), 'ms', 1000);
  line('verifier Wasm bundle', wasmBytes / 1024, 'KiB', 1024);
  summary.bench = { verifyMs: times.times, loadMs: loads, wasmBytes };
}

await browser.close();
const wasm = await stat(new URL('../../sdk/js/pkg/strata_verify_bg.wasm', import.meta.url));
summary.wasmBytes = wasm.size;
summary.consoleErrors = consoleErrors;
summary.results = results;
await writeFile(`${out}/summary.json`, JSON.stringify(summary, null, 1));
const med = (xs) => (xs?.length ? xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);
console.log(`${args.topology}: first load ${summary.firstLoadMs} ms (goal <= 1000); receipt verification ${med(summary.verifyReceiptMs)?.toFixed(1)} ms (goal <= 50)` +
  `${summary.verifyCertificateMs ? `, certificate ${med(summary.verifyCertificateMs).toFixed(1)} ms` : ''}; Wasm ${(wasm.size / 1024).toFixed(0)} KiB (goal <= 1024)`);
const failed = results.filter((r) => !r.ok);
if (consoleErrors.length) console.log(`console errors:\n  ${consoleErrors.join('\n  ')}`);
if (failed.length || consoleErrors.length) {
  console.log(`${args.topology}: ${failed.length} of ${results.length} steps failed, ${consoleErrors.length} console errors`);
  process.exit(1);
}
console.log(`${args.topology}: all ${results.length} steps passed, no console errors`);
