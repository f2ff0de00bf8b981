import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RLP } from '@ethereumjs/rlp';
import { Bloom } from '@ethereumjs/vm';
import { isBulwarkError } from '../../src/common/errors.ts';
import { decodeReceipts, encodeReceipts, logsBloom, type TxReceipt } from '../../src/ledger/receipt.ts';

const receipts: TxReceipt[] = [
  { txType: 2, status: 1, cumulativeGasUsed: 21_000n, gasUsed: 21_000n, contractAddress: undefined, logs: [] },
  {
    txType: 0,
    status: 0,
    cumulativeGasUsed: 121_000n,
    gasUsed: 100_000n,
    contractAddress: new Uint8Array(20).fill(7),
    logs: [[new Uint8Array(20).fill(1), [new Uint8Array(32).fill(2), new Uint8Array(32).fill(3)], Uint8Array.of(9, 9)]],
  },
];

test('receipts round-trip through their stored form', () => {
  assert.deepEqual(decodeReceipts(encodeReceipts(receipts)), receipts);
  assert.deepEqual(decodeReceipts(encodeReceipts([])), []);
});

test('corrupt receipt records give a typed error, not a crash or a wrong receipt', () => {
  const bad = [RLP.encode([Uint8Array.of(1)]), RLP.encode([[Uint8Array.of(2), [], Uint8Array.of(1), Uint8Array.of(1), Uint8Array.of(), []]]), RLP.encode(Uint8Array.of(5))];
  for (const raw of bad) {
    assert.throws(() => decodeReceipts(raw), (e) => isBulwarkError(e, 'LEDGER_CORRUPT_RECEIPT'));
  }
});

test('the recomputed bloom contains exactly what the logs put in it', () => {
  const bloom = new Bloom(logsBloom(receipts[1]!.logs));
  assert.ok(bloom.check(new Uint8Array(20).fill(1)));
  assert.ok(bloom.check(new Uint8Array(32).fill(3)));
  assert.equal(new Bloom(logsBloom([])).bitvector.every((b) => b === 0), true);
});
