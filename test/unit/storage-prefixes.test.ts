import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PREFIX, PREFIX_TABLE, checkPrefixTable, prefixOf } from '../../src/storage/prefixes.ts';

test('the prefix table is sound: unique byte ids and names, none in a reserved range', () => {
  assert.deepEqual(checkPrefixTable(), []);
});

test('the checker catches duplicates, reused retired ids, non-bytes and reserved ids', () => {
  const problems = checkPrefixTable([
    { id: 0x01, name: 'a', doc: '' },
    { id: 0x02, name: 'old', doc: '', retired: 'replaced by c' },
    { id: 0x02, name: 'c', doc: '' },
    { id: 0x01, name: 'a', doc: '' },
    { id: 0x100, name: 'big', doc: '' },
    { id: 0x1c, name: 'mine', doc: '' },
  ]);
  assert.equal(problems.length, 5, problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('c: id 0x2 is used twice')), 'a retired id stays taken');
  assert.ok(problems.some((p) => p.includes('reserved for consensus')));
});

// Pins the table: changing an id here is a database-format change, not a refactor.
test('the buckets keep their ids', () => {
  assert.deepEqual(
    PREFIX_TABLE.map((e) => [e.id, e.name]),
    [
      [0x01, 'meta'],
      [0x02, 'stateTrie'],
      [0x03, 'blockHeaderByHash'],
      [0x04, 'canonicalHashByNumber'],
      [0x05, 'receiptsByBlockHash'],
      [0x06, 'txLocationByHash'],
      [0x07, 'blockBodyByHash'],
      [0x08, 'logsBloomByNumber'],
      [0x10, 'consensusState'],
      [0x11, 'consensusVotes'],
      [0x12, 'consensusPrepared'],
      [0x13, 'consensusCommitVotes'],
      [0x14, 'orderedBatches'],
      [0x15, 'replyCache'],
      [0x16, 'executionProgress'],
      [0x17, 'clientTable'],
      [0x18, 'keyTable'],
      [0x19, 'operatorState'],
      [0x1a, 'nodeKeyTable'],
      [0x1b, 'checkpointImage'],
      [0x20, 'blockCertificate'],
      [0x21, 'checkpointCertificate'],
      [0x22, 'clientNodeState'],
      [0x23, 'txPoolJournal'],
    ],
  );
  assert.equal(PREFIX.canonicalHashByNumber, 0x04);
  assert.deepEqual(prefixOf('stateTrie'), Uint8Array.of(0x02));
  assert.ok(PREFIX_TABLE.every((e) => e.doc.length > 0), 'every bucket says what it holds');
});

test('prefixOf refuses unknown names from untyped callers', () => {
  assert.throws(() => prefixOf('nope' as 'meta'));
});
