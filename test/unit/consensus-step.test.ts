// Table-driven tests of single steps of the replica state machine: {description, input, expected}.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Batch, ClientRequest, Message } from '../../src/codec/messages.ts';
import { batchDigestBytes } from '../../src/codec/signing.ts';
import { makeConsensusConfig } from '../../src/consensus/config.ts';
import type { Output } from '../../src/consensus/io.ts';
import { emptyPersisted, foldRecords } from '../../src/consensus/records.ts';
import { restoreReplica, step } from '../../src/consensus/replica.ts';
import type { ReplicaState } from '../../src/consensus/state.ts';
import { SimKeyRegistry } from '../sim/harness/sim-crypto.ts';

const NOW = 1_800_000_000_000;
// Key exchange off: these tests drive the state machine without a replica shell to exchange keys.
const cfg = makeConsensusConfig({ f: 1, c: 0, clients: 2, keyExchange: false });
const reg = new SimKeyRegistry(4, 1);

function replica(id: number, persisted = emptyPersisted()): ReplicaState {
  const keys = reg.keyHistory();
  const s = restoreReplica({ cfg, id, crypto: reg.cryptoFor(id, keys), keys, now: NOW, persisted });
  step(s, { kind: 'tick', now: NOW });
  return s;
}

function request(clientId: number, requestSeq: number, signer = clientId): ClientRequest {
  const unsigned = { clientId, requestSeq, flags: 0, payload: new Uint8Array([requestSeq]) };
  return { ...unsigned, signature: reg.signClientRequest({ ...unsigned, clientId: signer }) };
}

const batchOf = (...requests: ClientRequest[]): Batch => ({ timestamp: NOW / 1000, requests });

function feed(s: ReplicaState, from: number, message: Message): Output[] {
  return step(s, { kind: 'message', from, message, now: NOW }).outputs;
}

const rejects = (out: Output[]) => out.filter((o) => o.kind === 'reject').map((o) => (o as { reason: string }).reason);
const sends = (out: Output[]) => out.filter((o) => o.kind === 'send').map((o) => (o as { message: Message }).message.type);

describe('refusals', () => {
  const cases: { description: string; at: number; from: number; message: () => Message; reason: string }[] = [
    { description: 'PrePrepare from a backup', at: 1, from: 2, message: () => ({ type: 'PrePrepare', view: 0, seq: 1, batch: batchOf(request(4, 1)) }), reason: 'not-primary' },
    { description: 'PrePrepare for another view', at: 1, from: 1, message: () => ({ type: 'PrePrepare', view: 1, seq: 1, batch: batchOf(request(4, 1)) }), reason: 'wrong-view' },
    { description: 'PrePrepare beyond the window', at: 1, from: 0, message: () => ({ type: 'PrePrepare', view: 0, seq: cfg.window + 1, batch: batchOf(request(4, 1)) }), reason: 'outside-window' },
    { description: 'PrePrepare with a forged request', at: 1, from: 0, message: () => ({ type: 'PrePrepare', view: 0, seq: 1, batch: batchOf(request(4, 1, 5)) }), reason: 'bad-batch' },
    { description: 'PrePrepare from the far future', at: 1, from: 0, message: () => ({ type: 'PrePrepare', view: 0, seq: 1, batch: { ...batchOf(request(4, 1)), timestamp: NOW / 1000 + 3600 } }), reason: 'bad-timestamp' },
    { description: 'a request for another client', at: 0, from: 4, message: () => ({ type: 'Request', request: request(5, 1) }), reason: 'wrong-client-id' },
    { description: 'a request with a bad signature', at: 0, from: 4, message: () => ({ type: 'Request', request: request(4, 1, 5) }), reason: 'bad-request-signature' },
    { description: 'a request from an unknown node', at: 0, from: 9, message: () => ({ type: 'Request', request: request(4, 1) }), reason: 'not-a-client' },
    { description: 'a replica message from a client', at: 0, from: 4, message: () => ({ type: 'Complaint', view: 0 }), reason: 'unexpected-message' },
    { description: 'a checkpoint with a bad signature', at: 0, from: 1, message: () => ({ type: 'Checkpoint', seq: 150, summary: { blockNumber: 1, blockHash: new Uint8Array(32), stateRoot: new Uint8Array(32), reservedDigest: new Uint8Array(32) }, signature: new Uint8Array(32) }), reason: 'bad-checkpoint' },
    { description: 'a FullCommitProof with too few signers', at: 1, from: 2, message: () => ({ type: 'FullCommitProof', view: 0, seq: 1, digest: new Uint8Array(32), cert: reg.cryptoFor(0).combine([{ replica: 0, signature: new Uint8Array(32) }]) }), reason: 'bad-certificate' },
  ];
  for (const c of cases) {
    test(c.description, () => {
      const s = replica(c.at);
      const out = feed(s, c.from, c.message());
      assert.deepEqual(rejects(out), [c.reason]);
      assert.ok(!out.some((o) => o.kind === 'persist'), 'nothing persisted for refused input');
    });
  }
});

test('a backup persists its vote before it sends the share (write-ahead)', () => {
  const s = replica(1);
  // Sequence 2's collector is replica 2, so replica 1 must send its share.
  const out = feed(s, 0, { type: 'PrePrepare', view: 0, seq: 2, batch: batchOf(request(4, 1)) });
  const kinds = out.filter((o) => o.kind === 'persist' || o.kind === 'send').map((o) => (o.kind === 'send' ? `send:${o.message.type}` : 'persist'));
  assert.deepEqual(kinds.slice(0, 2), ['persist', 'send:CommitShare']);
});

test('an equivocating primary gets one vote per slot, also across a restart', () => {
  const s = replica(1);
  const first = feed(s, 0, { type: 'PrePrepare', view: 0, seq: 1, batch: batchOf(request(4, 1)) });
  const records = first.flatMap((o) => (o.kind === 'persist' ? o.records : []));
  const second = feed(s, 0, { type: 'PrePrepare', view: 0, seq: 1, batch: batchOf(request(4, 2)) });
  assert.deepEqual(rejects(second), ['equivocation']);
  assert.deepEqual(sends(second), []);
  // Restarted from its records, the replica still refuses the other batch for (view 0, seq 1).
  const restarted = replica(1, foldRecords(emptyPersisted(), records));
  const third = feed(restarted, 0, { type: 'PrePrepare', view: 0, seq: 1, batch: batchOf(request(4, 2)) });
  assert.deepEqual(rejects(third), ['equivocation']);
  assert.ok(!sends(third).includes('CommitShare'));
});

test('the primary proposes a lone request at once and votes for it', () => {
  const s = replica(0);
  const out = feed(s, 4, { type: 'Request', request: request(4, 1) });
  assert.deepEqual(sends(out), ['PrePrepare', 'CommitShare']);
});

test('a backup forwards a client request to the primary', () => {
  const s = replica(2);
  const out = step(s, { kind: 'message', from: 4, message: { type: 'Request', request: request(4, 1) }, now: NOW }).outputs;
  const fwd = out.find((o) => o.kind === 'send');
  assert.ok(fwd !== undefined && fwd.kind === 'send' && fwd.message.type === 'Request');
  assert.deepEqual(fwd.to, [0]);
});

test('f + 1 complaints start a view change; its ViewChange is persisted before it is sent', () => {
  const s = replica(2);
  assert.deepEqual(sends(feed(s, 1, { type: 'Complaint', view: 0 })), []);
  const out = feed(s, 3, { type: 'Complaint', view: 0 });
  assert.equal(s.view, 1);
  assert.equal(s.active, false);
  const firstSend = out.findIndex((o) => o.kind === 'send' && o.message.type === 'ViewChange');
  const persistVc = out.findIndex((o) => o.kind === 'persist' && o.records.some((r) => r.kind === 'viewChange'));
  assert.ok(persistVc >= 0 && persistVc < firstSend);
});

test('a batch digest covers the sequence number', () => {
  const b = batchOf(request(4, 1));
  assert.notDeepEqual(reg.cryptoFor(0).digest(batchDigestBytes(1, b)), reg.cryptoFor(0).digest(batchDigestBytes(2, b)));
});

test("a client's requests out of order in a committed batch: only the higher one runs, and it is the client's highest", async () => {
  const { tryExecute } = await import('../../src/consensus/execution.ts');
  const s = replica(1);
  // A faulty primary's batch, committed: request 5 of client 4 before its request 3.
  s.fetched.set(1, { batch: batchOf(request(4, 5), request(4, 3), request(5, 2)), commit: { kind: 'fast', view: 0, digest: new Uint8Array(32), cert: reg.cryptoFor(0).combine([]) } });
  s.out = [];
  tryExecute(s);
  const execute = s.out.find((o) => o.kind === 'execute') as Extract<Output, { kind: 'execute' }> | undefined;
  assert.ok(execute !== undefined, 'the batch was handed to execution');
  assert.deepEqual(execute.requests.map((r) => `${r.clientId}:${r.requestSeq}`), ['4:5', '5:2']);
});

/** Replicas 1–3 move to view 1 without replica 0 (cut off): f + 1 complaints each, ViewChanges, the primary's NewView. */
function viewOneWithoutReplicaZero(): { rs: ReplicaState[]; newView: Message } {
  const rs = [0, 1, 2, 3].map((id) => replica(id));
  const viewChanges = new Map<number, Message>();
  for (const id of [1, 2, 3]) {
    for (const from of [1, 2, 3].filter((x) => x !== id)) {
      for (const o of feed(rs[id]!, from, { type: 'Complaint', view: 0 })) {
        if (o.kind === 'send' && o.message.type === 'ViewChange') viewChanges.set(id, o.message);
      }
    }
  }
  assert.equal(viewChanges.size, 3);
  let newView: Message | undefined;
  for (const from of [2, 3]) {
    for (const o of feed(rs[1]!, from, viewChanges.get(from)!)) if (o.kind === 'send' && o.message.type === 'NewView') newView = o.message;
  }
  assert.ok(newView !== undefined, 'the primary of view 1 made its NewView');
  for (const id of [2, 3]) feed(rs[id]!, 1, newView);
  assert.ok([1, 2, 3].every((id) => rs[id]!.view === 1 && rs[id]!.active));
  return { rs, newView };
}

test("a replica left behind in an older view gets the NewView from the view's primary only (from another replica it is misconduct)", () => {
  const { rs, newView } = viewOneWithoutReplicaZero();
  // Replica 0 comes back and says where it is.
  const status: Message = { type: 'Status', view: 0, viewActive: true, lastStable: 0, lastExecuted: 0, helpFrom: -1 };
  assert.ok(sends(feed(rs[1]!, 0, status)).includes('NewView'), 'the primary sends it');
  for (const id of [2, 3]) assert.ok(!sends(feed(rs[id]!, 0, status)).includes('NewView'), `replica ${id} does not`);
  // Why: from a backup, replica 0 refuses it as misconduct (counted towards cutting the sender off).
  assert.deepEqual(rejects(feed(rs[0]!, 2, newView)), ['bad-new-view']);
  feed(rs[0]!, 1, newView);
  assert.equal(rs[0]!.view, 1);
  assert.equal(rs[0]!.active, true);
});

test("a complaint from a replica in an older view is answered with the NewView by the view's primary only", () => {
  const { rs } = viewOneWithoutReplicaZero();
  const complaint: Message = { type: 'Complaint', view: 0 };
  assert.ok(sends(feed(rs[1]!, 0, complaint)).includes('NewView'), 'the primary answers with it');
  for (const id of [2, 3]) assert.ok(!sends(feed(rs[id]!, 0, complaint)).includes('NewView'), `replica ${id} does not`);
});
