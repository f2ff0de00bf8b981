/**
 * `npm run bench:snapshot`: how long a replica with an empty store takes to install a snapshot, as
 * the chain grows (issue #19: the time must not grow with the chain's length), against replaying.
 *
 * The source is a replica's store as `bulwark replica` keeps it (RocksDB, `EthereumApp` on the
 * executor, a checkpoint image every 150 sequence numbers), grown in this process batch by batch:
 * each batch a block of BENCH_SNAPSHOT_TXS ETH transfers from 64 senders to 1,000 recipients, so the
 * state stays about the same size while the chain grows. At each length of BENCH_SNAPSHOT_BLOCKS
 * (default 10000,100000) a fresh RocksDB store is filled by `SnapshotSync` from three peers that
 * serve the source through `SnapshotSource` (in this process, one event-loop turn apart: no TLS, no
 * other processes — the protocol, verification and storage as a joining replica runs them), and the
 * replica's store then opens at the checkpoint. Reported per length: the snapshot's time, items and
 * bytes, the process's peak RSS (source and joiner together), and the time executing the same chain
 * took here without a sync per block (a lower bound of replaying it, the alternative a joining
 * replica had before). `test/e2e/replica-snapshot.test.ts` runs the
 * same on real processes over TLS.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ClientRequest, SnapshotRequest } from '../src/codec/messages.ts';
import { encodeTxPayload } from '../src/codec/tx-payload.ts';
import { initHashes } from '../src/crypto/hash.ts';
import { Executor } from '../src/execution/executor.ts';
import { EthereumApp } from '../src/replica/ethereum-app.ts';
import { SnapshotSync } from '../src/replica/snapshot-sync.ts';
import { openRocksStore } from '../src/storage/index.ts';
import { signTx, testConfig, testKey } from '../test/helpers/chain.ts';

const LENGTHS = (process.env.BENCH_SNAPSHOT_BLOCKS ?? '10000,100000').split(',').map(Number);
const TXS = Number(process.env.BENCH_SNAPSHOT_TXS ?? 4);
const SENDERS = 64;
const RECIPIENTS = 1_000;
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

function rssMb(): number {
  const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  return Math.round(kb / 102.4) / 10;
}

async function main(): Promise<void> {
  await initHashes();
  const root = mkdtempSync(join(tmpdir(), 'bulwark-bench-snapshot-'));
  const quiet = pino({ level: 'silent' });
  const config = testConfig({}, SENDERS);
  const kv = await openRocksStore(join(root, 'source'), { createIfMissing: true });
  // The source's blocks are not synced one by one (it is not what is measured): a replica replaying
  // syncs each, so `replayedMs` is a lower bound of what replaying the chain costs a joining replica.
  const ex = await Executor.open({ kv, config, durable: false });
  const app = await EthereumApp.open(ex, kv, { checkpointInterval: 150 });
  const keys = Array.from({ length: SENDERS }, (_, i) => testKey(i));
  const nonces = keys.map(() => 0n);
  let next = 0;
  const batch = (seq: number): ClientRequest[] => {
    const txs = Array.from({ length: TXS }, () => {
      const i = next++ % SENDERS;
      const to = `0x${(0x1000 + ((next * 7919) % RECIPIENTS)).toString(16).padStart(40, '0')}` as `0x${string}`;
      return signTx(ex.common, keys[i]!, { nonce: nonces[i]!++, to, value: 1n, gasLimit: 21_000n }).serialize();
    });
    return [{ clientId: 9, requestSeq: seq, flags: 0, payload: encodeTxPayload(txs), signature: new Uint8Array(64) }];
  };
  const figures = [];
  const t0 = Number(ex.head.header.timestamp) + 1;
  let seq = 0;
  let buildMs = 0;
  try {
    for (const length of LENGTHS) {
      const started = performance.now();
      while (seq < length) {
        seq++;
        await app.execute(seq, t0 + seq, batch(seq));
        if (seq % 10_000 === 0) log(`source at block ${seq} (${Math.round((seq * 1000) / (buildMs + performance.now() - started))} blocks/s replayed)`);
      }
      buildMs += performance.now() - started;
      // The newest checkpoint at or below the head: what the peers would agree on.
      const stable = Math.floor(seq / 150) * 150;
      const dir = join(root, `joiner-${length}`);
      const into = await openRocksStore(dir, { createIfMissing: true });
      const intoEx = await Executor.open({ kv: into, config });
      const source = app.snapshots();
      let sync: SnapshotSync | null = null;
      const send = (peer: number, m: SnapshotRequest) => {
        setImmediate(() => {
          void (async () => {
            if (m.items.length === 0) sync!.onManifest(peer, await source.manifest(m.id, m.seq, stable));
            else sync!.onItems(peer, m.id, await source.items(m.items));
          })();
        });
        return true;
      };
      sync = new SnapshotSync({ kv: into, common: intoEx.common, log: quiet, peers: [1, 2, 3], f: 1, send, lastExecuted: 0, minGain: 1, manifestWaitMs: 1_000 });
      const s0 = performance.now();
      const outcome = await sync.run();
      const snapshotMs = Math.round(performance.now() - s0);
      if (!outcome.installed) throw new Error(`no snapshot: ${outcome.reason}`);
      // The joiner executes on from the checkpoint exactly as its source did.
      const joined = await EthereumApp.open(await Executor.open({ kv: into }), into, { checkpointInterval: 150 });
      await into.close();
      rmSync(dir, { recursive: true, force: true });
      const f = {
        blocks: length,
        snapshotSeq: outcome.seq,
        itemsFetched: outcome.fetched,
        mbFetched: Math.round(outcome.bytes / 1e5) / 10,
        snapshotMs,
        replayedMs: Math.round(buildMs),
        peakRssMb: rssMb(),
        joinedAt: joined.state().lastExecuted,
      };
      figures.push(f);
      log(JSON.stringify(f));
    }
  } finally {
    await kv.close();
    rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ txsPerBlock: TXS, senders: SENDERS, recipients: RECIPIENTS, joins: figures })}\n`);
}

await main();
