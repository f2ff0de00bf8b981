/**
 * Executor throughput on RocksDB, single thread: ETH transfers and ERC-20 transfers, in blocks of
 * BLOCK_TXS, through `Executor.execute` (decode, validate, EVM, state root, one atomic batch per block).
 * Signing happens before the clock starts: it is the wallet's work, not the executor's.
 *
 *   npm run bench:exec                        # defaults
 *   BENCH_TXS=20000 BENCH_BLOCK_TXS=500 npm run bench:exec
 *   BENCH_SYNC=1 npm run bench:exec           # each block's batch synced (replicas do not: ethereum-app.ts)
 *
 * Prints progress, then one JSON object as its last line.
 */
import { mkdirSync, mkdtempSync, rmSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHashes } from '../src/crypto/hash.ts';
import { assertNativeSecp256k1 } from '../src/crypto/secp256k1.ts';
import { openRocksStore } from '../src/storage/rocksdb.ts';
import { Executor } from '../src/execution/executor.ts';
import { addressOf, signTx, testConfig, testKey } from '../test/helpers/chain.ts';
import { bytecode, encodeCall } from '../test/helpers/abi.ts';

const TXS = Number(process.env.BENCH_TXS ?? 20_000);
const BLOCK_TXS = Number(process.env.BENCH_BLOCK_TXS ?? 500);
const SENDERS = Number(process.env.BENCH_SENDERS ?? 2_000);
/** As a replica executes (its block batches unsynced, made durable by the consensus records' next sync). */
const DURABLE = process.env.BENCH_SYNC === '1';

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => {
    const s = statSync(join(dir, f));
    return sum + (s.isDirectory() ? dirBytes(join(dir, f)) : s.size);
  }, 0);
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/** BENCH_PROFILE=dir writes a CPU profile of each timed phase (signing excluded) for DevTools. */
async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PROFILE;
  if (dir === undefined) return fn();
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) => session.post(method, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

async function runBlocks(ex: Executor, raws: Uint8Array[], t0: { ts: bigint }): Promise<number> {
  const marks: number[] = [];
  const start = performance.now();
  for (let i = 0; i < raws.length; i += BLOCK_TXS) {
    const r = await ex.execute(ex.head.hash(), raws.slice(i, i + BLOCK_TXS), ++t0.ts);
    if (r.rejected.length > 0) throw new Error(`bench tx rejected: ${r.rejected[0]?.reason} ${r.rejected[0]?.message}`);
    marks.push(performance.now());
  }
  if (process.env.BENCH_VERBOSE) log(`block ms: ${marks.map((m, i) => (m - (marks[i - 1] ?? start)).toFixed(0)).join(" ")}`);
  return performance.now() - start;
}

async function main(): Promise<void> {
  await initHashes();
  assertNativeSecp256k1();
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-bench-'));
  try {
    const keys = Array.from({ length: SENDERS }, (_, i) => testKey(i));
    const config = testConfig({}, SENDERS);
    let kv = await openRocksStore(dir);
    let ex = await Executor.open({ kv, config, durable: DURABLE });
    const nonces = new Map<number, bigint>();
    const next = (i: number) => {
      const n = nonces.get(i) ?? 0n;
      nonces.set(i, n + 1n);
      return n;
    };
    const ts = { ts: 1n };

    log(`signing ${TXS} ETH transfers from ${SENDERS} senders...`);
    const transfers = Array.from({ length: TXS }, (_, j) => {
      const s = j % SENDERS;
      const to = addressOf(testKey(SENDERS + (j % 5_000)));
      return signTx(ex.common, keys[s]!, { nonce: next(s), to, value: 1n, gasLimit: 21_000n }).serialize();
    });
    await kv.close();
    const before = dirBytes(dir);
    kv = await openRocksStore(dir);
    ex = await Executor.open({ kv, durable: DURABLE });
    const ethMs = await profiled('eth', () => runBlocks(ex, transfers, ts));
    await kv.close();
    const bytesPer10k = Math.round(((dirBytes(dir) - before) / TXS) * 10_000);
    kv = await openRocksStore(dir);
    ex = await Executor.open({ kv, durable: DURABLE });
    log(`ETH: ${TXS} in ${ethMs.toFixed(0)} ms`);

    // ERC-20: deploy, give every sender tokens (not timed), then time transfers between them.
    const deployer = 0;
    const deploy = signTx(ex.common, keys[deployer]!, {
      nonce: next(deployer),
      data: bytecode('Token', 10n ** 30n),
      gasLimit: 2_000_000n,
    });
    const dep = await ex.execute(ex.head.hash(), [deploy.serialize()], ++ts.ts);
    const token = dep.receipts[0]?.contractAddress;
    if (token === undefined) throw new Error('token deployment failed');
    const tokenHex = `0x${Buffer.from(token).toString('hex')}` as const;
    const seed = Array.from({ length: SENDERS }, (_, s) =>
      signTx(ex.common, keys[deployer]!, {
        nonce: next(deployer),
        to: tokenHex,
        data: encodeCall('transfer(address,uint256)', addressOf(keys[s]!), 10n ** 20n),
        gasLimit: 100_000n,
      }).serialize(),
    );
    await runBlocks(ex, seed, ts);
    log(`signing ${TXS} ERC-20 transfers...`);
    const erc20 = Array.from({ length: TXS }, (_, j) => {
      const s = j % SENDERS;
      const to = addressOf(testKey(SENDERS + (j % 5_000)));
      return signTx(ex.common, keys[s]!, {
        nonce: next(s),
        to: tokenHex,
        data: encodeCall('transfer(address,uint256)', to, 1n),
        gasLimit: 100_000n,
      }).serialize();
    });
    const ercMs = await profiled('erc20', () => runBlocks(ex, erc20, ts));
    log(`ERC-20: ${TXS} in ${ercMs.toFixed(0)} ms`);
    await kv.close();
    console.log(
      JSON.stringify({
        transfersPerSec: Math.round((TXS / ethMs) * 1000),
        erc20PerSec: Math.round((TXS / ercMs) * 1000),
        bytesOnDiskPer10kTx: bytesPer10k,
        txs: TXS,
        blockTxs: BLOCK_TXS,
        senders: SENDERS,
        synced: DURABLE,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
