// Snapshots (replica/snapshot-source.ts, replica/snapshot-sync.ts): a replica's store filled from
// its peers at a checkpoint — manifest agreed by f + 1, every item checked against its hash, a peer
// that serves a wrong item dropped — then executing on from there exactly as the peers do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { ClientRequest, SnapshotManifest, SnapshotRequest } from '../../src/codec/messages.ts';
import { decodeCheckpointImage, encodeCheckpointImage } from '../../src/codec/snapshot.ts';
import { encodeTxPayload } from '../../src/codec/tx-payload.ts';
import { createContractAddress, createAddressFromString } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { EthereumApp } from '../../src/replica/ethereum-app.ts';
import { SnapshotSync, type SnapshotOutcome } from '../../src/replica/snapshot-sync.ts';
import type { SnapshotServer } from '../../src/replica/application.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';
import { bytecode, encodeCall } from '../helpers/abi.ts';

await initHashes();
const log = pino({ level: 'silent' });
const INTERVAL = 5;

function req(clientId: number, requestSeq: number, payload: Uint8Array): ClientRequest {
  return { clientId, requestSeq, flags: 0, payload, signature: new Uint8Array(64) };
}

/** A replica's store after `seqs` batches: transfers to many accounts, a token, an Exerciser recording BLOCKHASH. */
async function source(seqs: number): Promise<{ kv: MemoryStore; ex: Executor; app: EthereumApp; batch: (seq: number) => ClientRequest[] }> {
  const kv = new MemoryStore();
  const ex = await Executor.open({ kv, config: testConfig() });
  const app = await EthereumApp.open(ex, kv, { checkpointInterval: INTERVAL });
  const key = testKey(0);
  const me = addressOf(key);
  const exerciser = createContractAddress(createAddressFromString(me), 1n).toString() as `0x${string}`;
  const batch = (seq: number): ClientRequest[] => {
    const c = ex.common;
    const nonce = BigInt(seq - 1);
    let tx;
    if (seq === 1) tx = signTx(c, key, { nonce, data: bytecode('Token', 1_000_000n), gasLimit: 3_000_000n });
    else if (seq === 2) tx = signTx(c, key, { nonce, data: bytecode('Exerciser'), gasLimit: 3_000_000n });
    else if (seq % 3 === 0) tx = signTx(c, key, { nonce, to: exerciser, data: encodeCall('recordPreviousHash()'), gasLimit: 200_000n });
    else if (seq % 3 === 1) tx = signTx(c, key, { nonce, to: exerciser, data: encodeCall('store(uint256,uint256)', BigInt(seq), BigInt(seq * 7)), gasLimit: 200_000n });
    else tx = signTx(c, key, { nonce, to: `0x${seq.toString(16).padStart(40, '0')}`, value: BigInt(seq), gasLimit: 21_000n });
    // Many recipients: a trie with branches below the root.
    const more = Array.from({ length: 20 }, (_, i) =>
      signTx(c, testKey(1), { nonce: BigInt((seq - 1) * 20 + i), to: `0x${(seq * 1000 + i).toString(16).padStart(40, '0')}`, value: 1n, gasLimit: 21_000n }).serialize(),
    );
    return [req(9, seq, encodeTxPayload([tx.serialize(), ...more]))];
  };
  const t0 = Number(ex.head.header.timestamp) + 10;
  for (let seq = 1; seq <= seqs; seq++) await app.execute(seq, t0 + seq, batch(seq));
  return { kv, ex, app, batch };
}

/** Peers over an in-memory "network": each answers through its `SnapshotServer`, a tick later. */
function wire(servers: Map<number, SnapshotServer>, stable: number): { sync: (s: SnapshotSync) => void; send: (peer: number, m: SnapshotRequest) => boolean; asked: Map<number, number> } {
  let target: SnapshotSync | null = null;
  const asked = new Map<number, number>();
  return {
    sync: (s) => (target = s),
    asked,
    send: (peer, m) => {
      asked.set(peer, (asked.get(peer) ?? 0) + 1);
      const server = servers.get(peer)!;
      setImmediate(() => {
        void (async () => {
          if (m.items.length === 0) target!.onManifest(peer, await server.manifest(m.id, m.seq, stable));
          else target!.onItems(peer, m.id, await server.items(m.items));
        })();
      });
      return true;
    },
  };
}

async function syncFrom(servers: Map<number, SnapshotServer>, stable: number, into: MemoryStore, minGain = 1, itemsPerRequest = 16): Promise<SnapshotOutcome> {
  const into_ex = await Executor.open({ kv: into, config: testConfig() });
  const w = wire(servers, stable);
  const sync = new SnapshotSync({ kv: into, common: into_ex.common, log, peers: [...servers.keys()], f: 1, send: w.send, lastExecuted: 0, minGain, manifestWaitMs: 500, requestTimeoutMs: 2_000, itemsPerRequest });
  w.sync(sync);
  return sync.run();
}

test('a snapshot fetched from honest peers and a faulty one executes on exactly as the peers do', async () => {
  const src = await source(15);
  const honest = src.app.snapshots();
  // Peer 3 changes one byte of every item it serves, and lies about the timestamp in its manifest.
  const faulty: SnapshotServer = {
    manifest: async (id, seq, stable) => {
      const m = await honest.manifest(id, seq, stable);
      const image = decodeCheckpointImage(m.image);
      return { ...m, image: encodeCheckpointImage({ ...image, lastTimestamp: image.lastTimestamp + 1 }) } satisfies SnapshotManifest;
    },
    items: async (refs) => (await honest.items(refs)).map((v) => (v.length === 0 ? v : Uint8Array.from(v, (b, i) => (i === v.length - 1 ? b ^ 1 : b)))),
  };
  const into = new MemoryStore();
  const outcome = await syncFrom(
    new Map([
      [1, honest],
      [2, honest],
      [3, faulty],
    ]),
    15,
    into,
  );
  assert.ok(outcome.installed, `installed (${outcome.installed ? '' : outcome.reason})`);
  assert.equal(outcome.seq, 15);
  assert.equal(outcome.blockNumber, 15);
  assert.ok(outcome.fetched > 50, `${outcome.fetched} items fetched`);
  assert.deepEqual(outcome.faulty, [3], 'the peer that served wrong items is named');

  // The replica opens on the snapshot: the same head, state and reserved pages as the source at 15.
  const ex = await Executor.open({ kv: into });
  assert.deepEqual(ex.head.hash(), (await src.ex.blocks.blockByNumber(15n))!.hash());
  const app = await EthereumApp.open(ex, into, { checkpointInterval: INTERVAL });
  const at15 = (await src.app.snapshots().manifest(1, 15, 15)).image;
  assert.equal(app.state().lastExecuted, 15);
  assert.deepEqual(app.state().summary, decodeCheckpointImage(at15).summary);
  assert.equal(app.state().lastTimestamp, decodeCheckpointImage(at15).lastTimestamp);

  // Both execute the next batches (BLOCKHASH of blocks from the headers alone among them): the same summaries.
  const t = src.app.state().lastTimestamp;
  for (let seq = 16; seq <= 21; seq++) {
    const a = await src.app.execute(seq, t + seq, src.batch(seq));
    const b = await app.execute(seq, t + seq, src.batch(seq));
    assert.deepEqual(b.summary, a.summary, `seq ${seq}`);
  }
  // Blocks below the snapshot are not served (headers only), the snapshot's block is.
  assert.equal(await ex.blocks.rawByNumber(14n), undefined);
  assert.ok((await ex.blocks.rawByNumber(15n)) !== undefined);
  assert.ok((await ex.blocks.headerByNumber(3n)) !== undefined, 'the headers BLOCKHASH reads are there');
  // And it serves the checkpoint it was installed from, in turn.
  const served = await app.snapshots().manifest(7, 0, 15);
  assert.deepEqual(served.image, at15);
});

test('no snapshot without f + 1 peers agreeing, nor when it gains too little', async () => {
  const src = await source(10);
  const honest = src.app.snapshots();
  const silent: SnapshotServer = {
    manifest: async (id) => ({ type: 'SnapshotManifest', id, image: new Uint8Array(), headers: [], block: null }),
    items: async (refs) => refs.map(() => new Uint8Array()),
  };
  const alone = await syncFrom(new Map([[1, honest], [2, silent], [3, silent]]), 10, new MemoryStore());
  assert.equal(alone.installed, false);
  assert.match(alone.installed ? '' : alone.reason, /fewer than f \+ 1/);

  const near = await syncFrom(new Map([[1, honest], [2, honest], [3, silent]]), 10, new MemoryStore(), 50);
  assert.equal(near.installed, false);
  assert.match(near.installed ? '' : near.reason, /fewer than 50 batches ahead/);
});

test('peers at different checkpoints are asked again for the newest f + 1 of them reached', async () => {
  const src = await source(15);
  const honest = src.app.snapshots();
  // Peer 1 is stable at 15, peers 2 and 3 at 10: the newest f + 1 share is 10, which all three keep.
  const at = (stable: number): SnapshotServer => ({ manifest: (id, seq) => honest.manifest(id, seq, stable), items: (refs) => honest.items(refs) });
  const into = new MemoryStore();
  const outcome = await syncFrom(new Map([[1, at(15)], [2, at(10)], [3, at(10)]]), 0, into);
  assert.ok(outcome.installed);
  assert.equal(outcome.seq, 10);
  assert.deepEqual((await Executor.open({ kv: into })).head.hash(), (await src.ex.blocks.blockByNumber(10n))!.hash());
});

test('a peer that answers nothing is asked no more, and the items come from the others', async () => {
  const src = await source(10);
  const honest = src.app.snapshots();
  const mute: SnapshotServer = { manifest: (id, seq, stable) => honest.manifest(id, seq, stable), items: () => new Promise(() => undefined) };
  const into = new MemoryStore();
  const started = Date.now();
  const outcome = await syncFrom(new Map([[1, mute], [2, honest], [3, honest]]), 10, into);
  assert.ok(outcome.installed);
  assert.ok(Date.now() - started < 30_000);
});
