import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../src/codec/message-codec.ts';
import type { Message } from '../../src/codec/messages.ts';
import { isBulwarkError } from '../../src/common/errors.ts';

const d = (b: number) => new Uint8Array(32).fill(b);
const sig = new Uint8Array(96).fill(7);
const cert = { signers: new Uint8Array([0b1011]), signature: sig };
const request = { clientId: 4, requestSeq: 9, flags: 1, payload: new Uint8Array([1, 2, 3]), signature: new Uint8Array(64).fill(3) };
const batch = { timestamp: 1_800_000_000, requests: [request, { ...request, requestSeq: 10 }] };
const summary = { blockNumber: 12, blockHash: d(1), stateRoot: d(2), reservedDigest: d(3) };
const stable = { seq: 150, summary, cert };
const vc = {
  type: 'ViewChange' as const,
  view: 3,
  replica: 2,
  stable,
  slots: [
    { seq: 151, commit: { kind: 'slow' as const, view: 2, digest: d(4), cert }, prepared: null, vote: null, batches: [batch] },
    { seq: 152, commit: null, prepared: { view: 2, digest: d(5), cert }, vote: { view: 2, digest: d(6) }, batches: [] },
  ],
  signature: sig,
};

export const EVERY_MESSAGE: Message[] = [
  { type: 'PrePrepare', view: 1, seq: 2, batch },
  { type: 'CommitShare', view: 1, seq: 2, digest: d(9), signature: sig },
  { type: 'FullCommitProof', view: 1, seq: 2, digest: d(9), cert },
  { type: 'PrepareFull', view: 1, seq: 2, digest: d(9), cert },
  { type: 'CommitPartial', view: 1, seq: 2, digest: d(9), signature: sig },
  { type: 'CommitFull', view: 1, seq: 2, digest: d(9), cert },
  { type: 'Checkpoint', seq: 150, summary, signature: sig },
  { type: 'StableCheckpoint', cert: stable },
  { type: 'Complaint', view: 7 },
  vc,
  { type: 'NewView', view: 3, viewChanges: [vc, { ...vc, replica: 1, stable: null, slots: [] }] },
  { type: 'Status', view: 3, viewActive: false, lastStable: 150, lastExecuted: 160, helpFrom: -1 },
  { type: 'CommittedBatch', seq: 2, batch, commit: { kind: 'fast', view: 1, digest: d(9), cert } },
  { type: 'Request', request },
  { type: 'BlockNotice', seq: 9, summary, resultsRoot: d(4), signature: new Uint8Array(64).fill(2) },
  { type: 'BlockRequest', fromNumber: 3, toNumber: 9 },
  {
    type: 'ReadRequest',
    id: 5,
    blockNumber: 7,
    queries: [
      { kind: 'storage', address: new Uint8Array(20).fill(1), slot: d(2) },
      { kind: 'balance', address: new Uint8Array(20).fill(2) },
    ],
  },
  { type: 'ReadRequest', id: 6, blockNumber: 7, queries: [{ kind: 'call', call: { to: new Uint8Array(20).fill(3), data: new Uint8Array([1]), value: 5n, gas: 21_000n } }] },
  { type: 'ReadRequest', id: 7, blockNumber: 7, queries: [{ kind: 'estimateGas', call: {} }] },
  { type: 'ReadRequest', id: 8, blockNumber: 7, queries: [{ kind: 'proof', address: new Uint8Array(20).fill(4), slots: [d(5), d(6)] }] },
  { type: 'NodeStatusRequest', id: 3 },
  { type: 'SnapshotRequest', id: 1, seq: 0, items: [] },
  { type: 'SnapshotRequest', id: 2, seq: 300, items: [{ kind: 0, hash: d(1) }, { kind: 1, hash: d(2) }] },
  { type: 'SnapshotManifest', id: 1, image: new Uint8Array(), headers: [], block: null },
  { type: 'SnapshotManifest', id: 2, image: d(3), headers: [d(4), d(5)], block: { header: d(6), body: new Uint8Array([0xc3, 0xc0, 0xc0, 0xc0]), receipts: new Uint8Array([0xc0]) } },
  { type: 'SnapshotItems', id: 2, items: [d(7), new Uint8Array()] },
  { type: 'ConfigurationRequest', id: 3, epoch: 2 },
  { type: 'ConfigurationFile', id: 3, epoch: 2, network: new TextEncoder().encode('{"format":"bulwark-network"}') },
  { type: 'ConfigurationFile', id: 4, epoch: 9, network: new Uint8Array() },
  { type: 'NodeStatus', id: 3, view: 2, active: false, lastExecuted: 300, lastStable: 150, blockNumber: 290, blockHash: d(9), stable: null, keyEpoch: 0, keys: [], nodeKeys: [], operator: new Uint8Array(), requestSeq: 0, signature: new Uint8Array(64) },
  { type: 'NodeStatus', id: 4, view: 2, active: true, lastExecuted: 300, lastStable: 150, blockNumber: 290, blockHash: d(9), stable: vc.stable, keyEpoch: 2, keys: [d(1), d(2)], nodeKeys: [d(3)], operator: d(4), requestSeq: 1_765_000_000_000_123, signature: new Uint8Array(64) },
  {
    type: 'ReadReply',
    id: 5,
    blockNumber: 7,
    blockHash: d(1),
    answers: [
      { ok: true, result: new Uint8Array([9]) },
      { ok: false, result: new Uint8Array([1, 2]) },
    ],
    signature: new Uint8Array(64),
  },
  { type: 'BlockData', fromNumber: 7, blocks: [{ header: d(1), body: new Uint8Array([0xc3, 0xc0, 0xc0, 0xc0]), receipts: new Uint8Array([0xc0]) }] },
  { type: 'BlockData', fromNumber: 8, blocks: [{ header: d(1), body: new Uint8Array([0xc3, 0xc0, 0xc0, 0xc0]), receipts: new Uint8Array([0xc0]), changes: d(9) }] },
  {
    type: 'Reply',
    clientId: 4,
    view: 3,
    seq: 2,
    summary,
    resultsRoot: d(8),
    count: 3,
    entries: [
      { requestSeq: 9, index: 1, proof: [d(1), d(2)], result: new Uint8Array([5]) },
      { requestSeq: 10, index: 2, proof: [d(3)], result: new Uint8Array(0) },
    ],
    signature: new Uint8Array(64),
  },
];

test('every message type survives a round trip byte for byte', () => {
  for (const m of EVERY_MESSAGE) {
    const bytes = encodeMessage(m);
    const back = decodeMessage(bytes);
    assert.deepEqual(back, m, m.type);
    assert.deepEqual(encodeMessage(back), bytes, `${m.type}: one encoding per value`);
  }
});

test('malformed frames give typed CODEC errors', () => {
  const bytes = encodeMessage(EVERY_MESSAGE[0]!);
  const code = (b: Uint8Array) => {
    try {
      decodeMessage(b);
      return 'accepted';
    } catch (err) {
      assert.ok(isBulwarkError(err), `not a BulwarkError: ${String(err)}`);
      return err.code;
    }
  };
  assert.equal(code(bytes.subarray(0, bytes.length - 1)), 'CODEC_TRUNCATED');
  assert.equal(code(new Uint8Array([...bytes, 0])), 'CODEC_TRAILING_BYTES');
  assert.equal(code(new Uint8Array([99])), 'CODEC_UNKNOWN_TYPE');
  assert.equal(code(new Uint8Array(0)), 'CODEC_TRUNCATED');
  // A declared payload length of 2^32 − 1 is refused before anything is allocated.
  const huge = encodeMessage({ type: 'Request', request });
  const view = new DataView(huge.buffer, huge.byteOffset);
  view.setUint32(1 + 4 + 8 + 4, 0xffffffff);
  assert.equal(code(huge), 'CODEC_LIMIT');
  // A boolean must be 0 or 1: one value, one encoding.
  const status = encodeMessage(EVERY_MESSAGE[11]!);
  status[1 + 8] = 2;
  assert.equal(code(status), 'CODEC_BAD_VALUE');
});

test('random and mutated bytes never throw anything but CODEC errors', () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const frames = EVERY_MESSAGE.map(encodeMessage);
  for (let i = 0; i < 5_000; i++) {
    const base = frames[i % frames.length]!;
    const b = base.slice();
    const flips = 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    try {
      decodeMessage(i % 7 === 0 ? b.subarray(0, Math.floor(rnd() * b.length)) : b);
    } catch (err) {
      assert.ok(isBulwarkError(err) && err.code.startsWith('CODEC_'), String(err));
    }
  }
});

test('a NewView carries each distinct batch once, and its ViewChanges come back exactly as signed', () => {
  const big = { timestamp: 1_800_000_001, requests: Array.from({ length: 20 }, (_, i) => ({ ...request, requestSeq: 100 + i, payload: new Uint8Array(10_000).fill(i) })) };
  const other = { ...big, timestamp: 1_800_000_002 };
  const slot = (seq: number) => ({ seq, commit: null, prepared: { view: 2, digest: d(5), cert }, vote: { view: 3, digest: d(6) }, batches: [big, other] });
  const vcs = [0, 1, 2].map((replica) => ({ ...vc, replica, slots: [slot(151), { ...slot(152), batches: [other] }] }));
  const nv: Message = { type: 'NewView', view: 4, viewChanges: vcs };
  const bytes = encodeMessage(nv);
  // Two distinct batches of ~200 KB once each, instead of nine copies.
  assert.ok(bytes.length < 2.2 * 200_000 + 10_000, `${bytes.length} bytes`);
  const back = decodeMessage(bytes);
  assert.deepEqual(back, nv);
  // Each ViewChange encodes to the same bytes as before its trip (so its signature still verifies).
  for (const [i, v] of (back as typeof nv & { type: 'NewView' }).viewChanges.entries()) assert.deepEqual(encodeMessage(v), encodeMessage(vcs[i]!));
});

test('a NewView in the first layout (every ViewChange whole, tag 11) is still read', () => {
  const nv = { type: 'NewView' as const, view: 3, viewChanges: [vc] };
  const vcBytes = encodeMessage(vc).subarray(1);
  const view = new Uint8Array(8);
  new DataView(view.buffer).setBigUint64(0, 3n);
  const count = new Uint8Array(4);
  new DataView(count.buffer).setUint32(0, 1);
  const old = new Uint8Array(Buffer.concat([Buffer.from([11]), view, count, vcBytes]));
  assert.deepEqual(decodeMessage(old), nv);
});

test('a NewView naming a batch it does not carry is refused', () => {
  const bytes = encodeMessage({ type: 'NewView', view: 4, viewChanges: [vc] });
  // The one batch list at the end holds one batch: cut it to zero.
  const cut = Buffer.from(bytes.subarray(0, bytes.length - encodeMessage({ type: 'PrePrepare', view: 0, seq: 0, batch }).length + 17 - 4));
  assert.throws(() => decodeMessage(Buffer.concat([cut, Buffer.from([0, 0, 0, 0])])), (e: unknown) => isBulwarkError(e));
});
