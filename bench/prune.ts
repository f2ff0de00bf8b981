/**
 * `npm run bench:prune`: the same load on a network of archive replicas and on one of `--prune`
 * replicas (real processes, `test/helpers/network.ts`), then each replica's resident memory (while
 * running, after the load) and its store: the state entries (prefix `stateTrie`: trie nodes and
 * code, counted by iterating the stopped store) and the data directory's bytes on disk.
 *
 * The load turns state into garbage as a long-running chain does: ETH transfers among a fixed set
 * of RECIPIENTS accounts, so the live state stays about the same size while every block rewrites
 * the paths from the root to the accounts it touches.
 *
 * Environment: BENCH_PRUNE_TXS (4000 transfers), BENCH_PRUNE_BATCH (1: each of the four senders
 * waits for its transfer's receipt before the next, so blocks stay small and many), BENCH_PRUNE_RETAIN (128), BENCH_PRUNE_EVERY (128),
 * BENCH_PRUNE_ONLY=archive|prune. Progress on stderr; one JSON line per mode on stdout.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { initHashes } from '../src/crypto/hash.ts';
import { buildCommon } from '../src/execution/common.ts';
import { PREFIX } from '../src/storage/prefixes.ts';
import { openRocksStore } from '../src/storage/rocksdb.ts';
import { CHAIN_ID, signTx, testKey } from '../test/helpers/chain.ts';
import { startNetwork } from '../test/helpers/network.ts';
import { sampleValue } from '../test/helpers/promql.ts';
import { rpcClient } from '../test/helpers/rpc.ts';

await initHashes();

const TXS = Number(process.env.BENCH_PRUNE_TXS ?? 4_000);
const RETAIN = process.env.BENCH_PRUNE_RETAIN ?? '128';
const EVERY = process.env.BENCH_PRUNE_EVERY ?? '128';
const RECIPIENTS = 256;
/** Transfers each sender sends before waiting for the last one's receipt: few per block, so many blocks. */
const PER_BATCH = Number(process.env.BENCH_PRUNE_BATCH ?? 1);
const common = buildCommon(CHAIN_ID);
const recipient = (i: number) => `0x${(0xfeed0000 + (i % RECIPIENTS)).toString(16).padStart(40, '0')}` as const;

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Math.round(Number(m[1]) / 1024);
}

async function run(mode: 'archive' | 'prune'): Promise<Record<string, unknown>> {
  const started = Date.now();
  const net = await startNetwork(mode === 'prune' ? 0x71 : 0x70, {
    keep: true,
    ...(mode === 'prune' ? { replicaArgs: ['--prune', '--prune-retain', RETAIN, '--prune-every', EVERY] } : {}),
    clientArgs: ['--no-local-state'],
  });
  try {
    const rpc = rpcClient(net.url);
    const nonces = [0n, 0n, 0n, 0n];
    let sent = 0;
    while (sent < TXS) {
      // Each of the four senders: PER_BATCH transfers in one JSON-RPC batch, then the last one's receipt.
      await Promise.all(
        [0, 1, 2, 3].map(async (s) => {
          const txs = Array.from({ length: PER_BATCH }, (_, k) => signTx(common, testKey(s), { nonce: nonces[s]!++, to: recipient(sent + s * PER_BATCH + k), value: 1n, gasLimit: 21_000n }));
          const hex = txs.map((t) => `0x${Buffer.from(t.serialize()).toString('hex')}`);
          await rpc.batch(hex.map((h) => ({ method: 'eth_sendRawTransaction', params: [h] })));
          await rpc.receipt(`0x${Buffer.from(txs.at(-1)!.hash()).toString('hex')}`, 120_000);
        }),
      );
      sent += 4 * PER_BATCH;
      if (sent % 1_000 < 4 * PER_BATCH) process.stderr.write(`${mode}: ${sent} transfers\n`);
    }
    await new Promise((r) => setTimeout(r, 5_000)); // a prune in progress finishes
    const rss = net.replicas.map((id) => rssMb(net.pid(id)));
    const metrics = await (await fetch(net.metricsUrl(0))).text();
    const head = Number(BigInt(await rpc.call<string>('eth_blockNumber')));
    await net.stop();
    const stores: { stateEntries: number; stateBytes: number; dataDirBytes: number }[] = [];
    for (const id of net.replicas) {
      const dir = join(net.root, `replica-${id}`, 'data');
      const kv = await openRocksStore(dir, { createIfMissing: false });
      let entries = 0;
      let bytes = 0;
      for await (const [k, v] of kv.iterate({ gte: Uint8Array.of(PREFIX.stateTrie), lt: Uint8Array.of(PREFIX.stateTrie + 1) })) {
        entries++;
        bytes += k.length + v.length;
      }
      await kv.close();
      stores.push({ stateEntries: entries, stateBytes: bytes, dataDirBytes: dirBytes(dir) });
    }
    const mean = (f: (s: { stateEntries: number; stateBytes: number; dataDirBytes: number }) => number) => Math.round(stores.reduce((a, s) => a + f(s), 0) / stores.length);
    return {
      mode,
      transfers: TXS,
      head,
      stateFrom: sampleValue(metrics, 'bulwark_state_from_block') ?? 0,
      trieNodesDeleted: sampleValue(metrics, 'bulwark_prune_deleted_total', { kind: 'trie_node' }) ?? 0,
      pruneRuns: sampleValue(metrics, 'bulwark_prune_runs_total', { outcome: 'done' }) ?? 0,
      stateEntries: mean((s) => s.stateEntries),
      stateMb: Number((mean((s) => s.stateBytes) / 2 ** 20).toFixed(1)),
      dataDirMb: Number((mean((s) => s.dataDirBytes) / 2 ** 20).toFixed(1)),
      rssMb: rss,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await net.stop();
    rmSync(net.root, { recursive: true, force: true });
  }
}

const only = process.env.BENCH_PRUNE_ONLY;
for (const mode of ['archive', 'prune'] as const) {
  if (only !== undefined && only !== mode) continue;
  process.stdout.write(`${JSON.stringify(await run(mode))}\n`);
}
