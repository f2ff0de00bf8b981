// The client node's request sequence numbers come from its store, reserved ahead in blocks: a
// restart never reuses a number, even with the clock stepped back, and the store is written once
// per block, not once per request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestCounter } from '../../src/client/request-counter.ts';
import { BftClient } from '../../src/client/bft-client.ts';
import { decodeMessage } from '../../src/codec/message-codec.ts';
import { generateNodeAuthKeyPair } from '../../src/crypto/node-auth.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import type { Transport } from '../../src/net/transport.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { BatchOp, KvStore } from '../../src/storage/index.ts';

await initHashes();

/** The memory store, counting writes. */
class CountingStore extends MemoryStore implements KvStore {
  writes = 0;
  override async write(ops: readonly BatchOp[], options?: { readonly sync?: boolean }): Promise<void> {
    this.writes++;
    return super.write(ops, options);
  }
}

const T = 1_700_000_000_000;
const turn = () => new Promise((r) => setImmediate(r));

test('a new node starts from the clock; a restart starts from the stored reservation, whatever the clock says', async () => {
  const kv = new CountingStore();
  const first = await RequestCounter.open({ kv, now: () => T, block: 10_000 });
  assert.equal(first.next(), T * 1000);
  let last = 0;
  for (let i = 0; i < 7_000; i++) {
    last = first.next();
    if (i % 100 === 0) await turn();
  }
  await turn();
  assert.ok(first.reserved > last, 'the reservation stays ahead of what was handed out');
  // The node restarts with its clock stepped back a day: the clock would give numbers far below.
  const again = await RequestCounter.open({ kv, now: () => T - 86_400_000, block: 10_000 });
  const n = again.next();
  assert.ok(n > last, `${n} is above ${last}`);
  assert.equal(n, first.reserved);
});

test('one write per block of numbers, not one per request', async () => {
  const kv = new CountingStore();
  const c = await RequestCounter.open({ kv, now: () => T, block: 10_000 });
  assert.equal(kv.writes, 1, 'the first block is reserved before any number is used');
  for (let i = 0; i < 25_000; i++) {
    c.next();
    if (i % 1_000 === 0) await turn();
  }
  await turn();
  assert.ok(kv.writes <= 6, `${kv.writes} writes for 25,000 numbers`);
  assert.equal(c.overrun, 0);
});

test('never below what the replicas report executed for this client', async () => {
  const c = await RequestCounter.open({ kv: new MemoryStore(), now: () => T });
  c.raise(T * 1000 + 50_000);
  const n = c.next();
  assert.equal(n, T * 1000 + 50_001);
  await turn();
  assert.ok(c.reserved > n, 'and the reservation follows');
  c.raise(5);
  assert.equal(c.next(), n + 1, 'a lower report changes nothing');
});

test('a failed reservation is reported and tried again; the numbers still go up', async () => {
  const errors: unknown[] = [];
  const store = new MemoryStore();
  const c = await RequestCounter.open({ kv: store, now: () => T, block: 10, onError: (e) => errors.push(e) });
  // The disk fills after opening: every reservation from here is refused.
  store.write = async () => {
    throw new Error('ENOSPC');
  };
  const seen: number[] = [];
  for (let i = 0; i < 20; i++) {
    seen.push(c.next());
    await turn();
  }
  assert.ok(errors.length >= 2, 'reported, and tried again');
  assert.ok(c.overrun > 0, 'numbers beyond the reservation are counted');
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
});

test('the BFT client signs its requests with the counter: after a restart with the clock stepped back, the first request is above the last', async () => {
  const kv = new MemoryStore();
  const auth = generateNodeAuthKeyPair('ed25519');
  const keys = [0, 1, 2, 3].map(() => generateNodeAuthKeyPair('ed25519').publicKey);
  const sent: number[] = [];
  const transport = {
    self: 4,
    send: (_to, frame) => {
      const m = decodeMessage(frame);
      if (m.type === 'Request') sent.push(m.request.requestSeq);
      return true;
    },
    onFrame: () => undefined,
    onPeerStatus: () => undefined,
    penalize: () => undefined,
    start: async () => undefined,
    close: async () => undefined,
    stats: () => [],
  } as Transport;
  const run = async (now: number) => {
    const client = new BftClient({ transport, clientId: 4, authKey: auth.privateKey, executionKeys: keys, f: 1, requestSeqs: await RequestCounter.open({ kv, now: () => now }), retryMs: 60_000 });
    for (let i = 0; i < 3; i++) client.submit(new Uint8Array([i])).catch(() => undefined);
    client.close();
  };
  await run(T);
  await run(T - 3_600_000); // the clock went back an hour over the restart
  assert.equal(sent.length, 6);
  assert.ok(sent[3]! > sent[2]!, `after the restart ${sent[3]} > ${sent[2]}`);
  assert.deepEqual(sent, [...sent].sort((a, b) => a - b));
});
