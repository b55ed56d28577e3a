// The package as a dapp uses it (Node.js's test runner, no dependencies): the recorded
// answers of a dev node verify; tampered ones do not, with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { verifyReceipt, verifyState, moduleAbi, decodeRevert, version } from '../index.js';

const data = async (name) => JSON.parse(await readFile(new URL(`../../verify/tests/data/${name}`, import.meta.url)));

test('a real receipt verifies, a tampered one does not', async () => {
  const { genesis, answer, shown } = await data('dev_receipt.json');
  const ok = await verifyReceipt(answer, genesis, answer.transactionHash);
  assert.equal(ok.verified, true, ok.reason);
  assert.equal(ok.blockNumber, Number(answer.blockNumber));
  const bundle = answer.bundle;
  const at = bundle.length - 10;
  const tampered = { ...answer, bundle: bundle.slice(0, at) + (bundle[at] === '0' ? '1' : '0') + bundle.slice(at + 1) };
  const bad = await verifyReceipt(tampered, genesis);
  assert.equal(bad.verified, false);
  assert.match(bad.reason, /finalized|signature|malformed/);
  const checked = await verifyReceipt(answer, genesis, answer.transactionHash, shown);
  assert.equal(checked.shownChecked, true, checked.reason);
  const lie = await verifyReceipt(answer, genesis, answer.transactionHash, { ...shown, status: '0x0' });
  assert.match(lie.reason, /differs from the proven one: status/);
});

test('an account proof at a certified block verifies; a lie about it does not', async () => {
  const f = await data('dev_state.json');
  const query = { address: f.account, keys: ['0x01'], block: f.block, code: f.code };
  const ok = await verifyState(f.proof, query, f.header, f.certificate, f.setProof, f.genesis);
  assert.equal(ok.verified, true, ok.reason);
  const bad = await verifyState({ ...f.proof, nonce: '0x7' }, query, f.header, f.certificate, f.setProof, f.genesis);
  assert.equal(bad.verified, false);
  assert.match(bad.reason, /nonce/);
  const other = await verifyState(f.proof, { ...query, address: '0x00000000000000000000000000000000000000aa' }, f.header, f.certificate, f.setProof, f.genesis);
  assert.match(other.reason, /answered for account/);
});

test('ABI helpers and the version', async () => {
  assert.deepEqual(await moduleAbi('0x'), []);
  await assert.rejects(moduleAbi('0x1234'));
  assert.equal(await decodeRevert(null, '0x'), 'no revert data');
  assert.match(await version(), /^\d+\.\d+\.\d+$/);
});
