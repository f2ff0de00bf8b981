// The conformance runner on a handful of Ethereum state-test vectors through our executor and a real
// RocksDB: they must pass, and a case whose expected root is corrupted must be reported as a failure.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import type { KvStore } from '../../src/storage/kvstore.ts';
import { openRocksStore } from '../../src/storage/rocksdb.ts';
import type { CaseResult } from '../../scripts/conformance/common.ts';
import { OurRunner } from '../../scripts/conformance/ours.ts';
import { DEFAULT_VECTOR_DIR, describeFailure, judge, loadExpectedFailures } from '../../scripts/conformance/run.ts';
import { loadGroups, type VectorGroup } from '../../scripts/conformance/vectors.ts';

/** Plain execution, logs, an EIP-1559 fee, an access list, CREATE and a transaction that must be refused. */
const FILES = [
  'stExample/add11.json',
  'stExample/eip1559.json',
  'stExample/accessListExample.json',
  'stExample/invalidTr.json',
  'stLogTests/log1_emptyMem.json',
  'stCreate2/returndatacopy_following_create.json',
];

const skip = existsSync(DEFAULT_VECTOR_DIR) ? false : `no vectors at ${DEFAULT_VECTOR_DIR}`;
const dbDir = mkdtempSync(join(tmpdir(), 'bulwark-conformance-test-'));
let kv: KvStore;
let runner: OurRunner;

before(async () => {
  await initHashes();
  kv = await openRocksStore(dbDir);
  runner = new OurRunner(kv, 10_000);
});
after(async () => {
  await kv.close();
  rmSync(dbDir, { recursive: true, force: true });
});

function groups(file: string): VectorGroup[] {
  return loadGroups(DEFAULT_VECTOR_DIR, join(DEFAULT_VECTOR_DIR, file));
}

async function runFiles(files: readonly string[]): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const file of files) for (const g of groups(file)) results.push(...(await runner.runGroup(g)));
  return results;
}

test('sample vectors pass through our executor and RocksDB state', { skip }, async () => {
  const results = await runFiles(FILES);
  assert.ok(results.length >= FILES.length);
  assert.deepEqual(results.filter((r) => !r.passed).map((r) => describeFailure(r)), []);
  assert.ok(results.some((r) => r.rejection !== undefined), 'invalidTr should include a refused transaction');
});

test('a corrupted expectation is reported as an unexpected failure', { skip }, async () => {
  const [group] = groups('stExample/add11.json');
  assert.ok(group !== undefined);
  const [good] = group.cases;
  assert.ok(good !== undefined);
  const badRoot = `0x${'00'.repeat(32)}`;
  const corrupted: VectorGroup = { ...group, cases: [{ id: `${good.id}-corrupted`, post: { ...good.post, hash: badRoot } }] };
  const [result] = await runner.runGroup(corrupted);
  assert.ok(result !== undefined);
  assert.equal(result.passed, false);
  assert.equal(result.expectedRoot, badRoot);
  assert.equal(result.gotRoot, good.post.hash);
  const j = judge([result], new Map());
  assert.equal(j.summary.unexpectedFailures, 1);
  assert.match(describeFailure(result), /root expected 0x0{64} got 0x/);
  // Listed as expected, the same failure no longer fails the run; a listed case that passes is reported.
  assert.equal(judge([result], new Map([[result.id, 'test']])).summary.unexpectedFailures, 0);
  assert.deepEqual(judge([{ ...result, passed: true }], new Map([[result.id, 'test']])).nowPassing, [result.id]);
});

test('the expected-failures list parses and every entry has a reason', () => {
  for (const [id, reason] of loadExpectedFailures()) {
    assert.match(id, /\[\d+\]$/);
    assert.ok(reason.length > 0, id);
  }
});
