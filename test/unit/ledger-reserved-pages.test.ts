// The reserved pages on the store (`ledger/reserved-pages.ts`): every record kind reads back as
// written; the keys and values are byte for byte the layout in use (a change to it fails here: it
// would make existing databases read differently, and checkpoints of replicas of two versions
// differ); a record that does not decode is LEDGER_CORRUPT naming its page; and the replica's
// application and the offline verifier read the same pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientRequest } from '../../src/codec/messages.ts';
import { encodeTxPayload } from '../../src/codec/tx-payload.ts';
import { isBulwarkError } from '../../src/common/errors.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { NO_OPERATOR_STATE, ReservedPages, type ExecutionProgress, type KeyRecord, type NodeKeyRecord, type OperatorState } from '../../src/ledger/reserved-pages.ts';
import { EthereumApp } from '../../src/replica/ethereum-app.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { storedReservedDigest } from '../../src/verifier/replica-records.ts';
import { signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

const progress: ExecutionProgress = { lastExecuted: 0x0102, lastTimestamp: 1_700_000_000 };
const keyRecord: KeyRecord = { replica: 1, epoch: 2, publicKey: bytes('aabb'), effectiveSeq: 9, publishedSeq: 3, proofOfPossession: bytes('cc') };
const operator: OperatorState = { ...NO_OPERATOR_STATE, nonce: 5, lastRotationAt: 6, targets: new Map([[2, 1]]), nodeTargets: new Map([['tls:4', 1]]) };
const nodeKeyRecord: NodeKeyRecord = {
  kind: 'auth',
  node: 5,
  epoch: 1,
  publicKey: bytes('010203'),
  effectiveSeq: 10,
  publishedSeq: 4,
  possession: bytes('dd'),
  endorsement: bytes('eeff'),
};

async function written(): Promise<{ kv: MemoryStore; pages: ReservedPages }> {
  const kv = new MemoryStore();
  const pages = new ReservedPages(kv);
  await kv.write([pages.progressOp(progress), pages.clientOp(7, 42), pages.clientOp(9, 1), pages.keyRecordOp(keyRecord), pages.operatorStateOp(operator), pages.nodeKeyRecordOp(nodeKeyRecord)]);
  return { kv, pages };
}

async function dump(kv: MemoryStore): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const [k, v] of kv.iterate()) out.push([hex(k), hex(v)]);
  return out;
}

test('every record kind reads back as written', async () => {
  const { pages } = await written();
  assert.deepEqual(await pages.progress(), progress);
  assert.deepEqual(await pages.clientTable(), new Map([[7, 42], [9, 1]]));
  assert.deepEqual(await pages.operatorState(), operator);
  const read = await pages.read();
  assert.deepEqual(read, { progress, clients: new Map([[7, 42], [9, 1]]), keys: [keyRecord], operator, nodeKeys: [nodeKeyRecord] });
});

test('an empty store: no progress, an empty client table, no keys, no operator command yet', async () => {
  const pages = new ReservedPages(new MemoryStore());
  assert.deepEqual(await pages.read(), { progress: undefined, clients: new Map(), keys: [], operator: NO_OPERATOR_STATE, nodeKeys: [] });
});

test('the keys and values are byte for byte the stored layout', async () => {
  const { kv } = await written();
  assert.deepEqual(await dump(kv), [
    // executionProgress 'progress' → lastExecuted u64 ‖ lastTimestamp u64
    ['16' + hex(new TextEncoder().encode('progress')), '0000000000000102' + '000000006553f100'],
    // clientTable client u32 → request sequence number u64
    ['17' + '00000007', '000000000000002a'],
    ['17' + '00000009', '0000000000000001'],
    // keyTable replica u32 ‖ epoch u32 → replica, epoch, public key (u32-prefixed), effective, published, proof
    ['18' + '00000001' + '00000002', '00000001' + '00000002' + '00000002aabb' + '0000000000000009' + '0000000000000003' + '00000001cc'],
    // operatorState 'state' → nonce, last rotation, [replica → epoch], [slot → epoch]
    ['19' + hex(new TextEncoder().encode('state')), '0000000000000005' + '0000000000000006' + '00000001' + '00000002' + '00000001' + '00000001' + '00000005' + hex(new TextEncoder().encode('tls:4')) + '00000001'],
    // nodeKeyTable kind u8 ‖ node u32 ‖ epoch u32 → kind, node, epoch, key, effective, published, possession, endorsement
    ['1a' + '02' + '00000005' + '00000001', '02' + '00000005' + '00000001' + '00000003010203' + '000000000000000a' + '0000000000000004' + '00000001dd' + '00000002eeff'],
  ]);
  // The prefixes are the table's.
  assert.deepEqual(
    [PREFIX.executionProgress, PREFIX.clientTable, PREFIX.keyTable, PREFIX.operatorState, PREFIX.nodeKeyTable],
    [0x16, 0x17, 0x18, 0x19, 0x1a],
  );
});

test('a record that does not decode is LEDGER_CORRUPT, naming its page', async () => {
  const corrupt = (page: string) => (e: unknown) => isBulwarkError(e, 'LEDGER_CORRUPT') && e.details.page === page;
  const progressKey = Uint8Array.of(PREFIX.executionProgress, ...new TextEncoder().encode('progress'));
  for (const value of ['00'.repeat(15), '00'.repeat(17), '0020000000000000' + '00'.repeat(8)]) {
    const { kv, pages } = await written();
    await kv.write([{ type: 'put', key: progressKey, value: bytes(value) }]);
    await assert.rejects(pages.progress(), corrupt('executionProgress'), `progress ${value}`);
    await assert.rejects(pages.read(), corrupt('executionProgress'));
  }
  {
    const { kv, pages } = await written();
    await kv.write([{ type: 'put', key: Uint8Array.of(PREFIX.clientTable, 0, 0, 0, 8), value: bytes('00'.repeat(7)) }]);
    await assert.rejects(pages.clientTable(), corrupt('clientTable'));
  }
  {
    const { kv, pages } = await written();
    await kv.write([{ type: 'put', key: Uint8Array.of(PREFIX.clientTable, 0, 0, 8), value: bytes('00'.repeat(8)) }]);
    await assert.rejects(pages.clientTable(), corrupt('clientTable'), 'a 3-byte client id');
  }
  {
    const { kv, pages } = await written();
    await kv.write([{ type: 'put', key: Uint8Array.of(PREFIX.keyTable, 0, 0, 0, 9, 0, 0, 0, 0), value: bytes('0000000900') }]);
    await assert.rejects(pages.read(), corrupt('keyTable'));
  }
  {
    const { kv, pages } = await written();
    await kv.write([{ type: 'put', key: Uint8Array.of(PREFIX.operatorState, ...new TextEncoder().encode('state')), value: bytes('00') }]);
    await assert.rejects(pages.operatorState(), corrupt('operatorState'));
  }
  {
    const { kv, pages } = await written();
    // Kind 9 is no kind.
    await kv.write([{ type: 'put', key: Uint8Array.of(PREFIX.nodeKeyTable, 9, 0, 0, 0, 5, 0, 0, 0, 1), value: bytes('09' + '00000005' + '00000001' + '00000000' + '00'.repeat(16) + '00000000' + '00000000') }]);
    await assert.rejects(pages.read(), corrupt('nodeKeyTable'));
  }
});

test("the replica's application writes the pages, and it (after a restart) and the verifier read the same", async () => {
  const kv = new MemoryStore();
  const ex = await Executor.open({ kv, config: testConfig() });
  const app = await EthereumApp.open(ex, kv);
  const t0 = Number(ex.head.header.timestamp) + 10;
  const req = (clientId: number, requestSeq: number, payload: Uint8Array): ClientRequest => ({ clientId, requestSeq, flags: 0, payload, signature: new Uint8Array(64) });
  const tx = signTx(ex.common, testKey(0), { nonce: 0n, to: '0x00000000000000000000000000000000000000aa', value: 1n, gasLimit: 21_000n }).serialize();
  // seq 1: no transaction, a key exchange (internal), an operator command and a node key; seq 2: a block.
  await app.execute(1, t0, [req(4, 3, encodeTxPayload([]))], [keyRecord], [req(1, 1, new Uint8Array([1]))], operator, [nodeKeyRecord]);
  const two = await app.execute(2, t0 + 1, [req(5, 8, encodeTxPayload([tx]))]);
  assert.equal(two.block, true);
  const state = app.state();

  const pages = new ReservedPages(kv);
  const read = await pages.read();
  assert.deepEqual(read, {
    progress: { lastExecuted: 2, lastTimestamp: t0 + 1 },
    clients: new Map([[1, 1], [4, 3], [5, 8]]),
    keys: [keyRecord],
    operator,
    nodeKeys: [nodeKeyRecord],
  });
  assert.deepEqual({ lastExecuted: state.lastExecuted, lastTimestamp: state.lastTimestamp, clients: state.clients, keys: state.keys, operator: state.operator, nodeKeys: state.nodeKeys }, {
    lastExecuted: read.progress!.lastExecuted,
    lastTimestamp: read.progress!.lastTimestamp,
    clients: read.clients,
    keys: read.keys,
    operator: read.operator,
    nodeKeys: read.nodeKeys,
  });
  // The replica after a restart starts from the pages; the verifier's digest of them is the one the
  // replica's checkpoints name.
  assert.deepEqual((await EthereumApp.open(ex, kv)).state(), state);
  assert.deepEqual(await storedReservedDigest(pages), state.summary.reservedDigest);
});
