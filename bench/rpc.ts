/**
 * `npm run bench`: the network as `npm start` runs it — `bulwark dev`, four replica processes and a
 * client node on this machine, over TLS and RocksDB — driven through JSON-RPC the way a load
 * generator or an exchange would drive any Ethereum node; then the same load against a single-node
 * Hardhat network (`hardhat node` with interval mining) as the reference.
 *
 * Phases, on each network:
 *  1. (Bulwark only) lone transactions on the idle network: each sent, then its receipt asked for
 *     (the client node answers once the transaction is in a certified block) — p50/p99 inclusion
 *     latency as a wallet sees it.
 *  2. ETH transfers from SENDERS funded development accounts, pre-signed, sent as JSON-RPC batches of
 *     BATCH `eth_sendRawTransaction` calls with IN_FLIGHT batches outstanding; throughput is the
 *     transactions over the time from the first send until the last is seen in a block (a poller
 *     walks new blocks), and each transaction's latency under load is recorded the same way.
 *  4. (Bulwark only) reads: eth_getBalance and eth_call (the Token's balanceOf) per second, from
 *     BENCH_READ_CLIENTS loops each with one request outstanding.
 *  3. ERC-20: a Token (test/fixtures/contracts/Token.sol, compiled with solc) deployed, tokens
 *     given to every sender, then `transfer` calls the same way. At the end the recipients'
 *     balances must add up to the transfers made.
 *
 * Environment: BENCH_SENDERS (200), BENCH_TRANSFERS (10000), BENCH_ERC20 (4000), BENCH_BATCH (100),
 * BENCH_IN_FLIGHT (8), BENCH_LONE (100), BENCH_HARDHAT=0 to skip the reference, BENCH_ONLY=latency|reads|hardhat,
 * BENCH_READ_CLIENTS (32), BENCH_READ_SECONDS (5), BENCH_LOG_BLOCKS (10000: the chain is grown to this
 * many blocks, then eth_getLogs queries span the last that many; 0 skips it),
 * BENCH_LOG_LEVEL (the nodes' log level, warn).
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { Pool } from 'undici';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initHashes } from '../src/crypto/hash.ts';
import { buildCommon } from '../src/execution/common.ts';
import { DEV_MNEMONIC, devAccounts } from '../src/setup/dev-accounts.ts';
import { bytecode, encodeCall } from '../test/helpers/abi.ts';
import { signTx } from '../test/helpers/chain.ts';
import { freePorts } from '../test/helpers/net.ts';
import { sampleNode, type NodeHandle } from './soak/nodes.ts';

const SENDERS = Number(process.env.BENCH_SENDERS ?? 200);
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 10_000);
const ERC20 = Number(process.env.BENCH_ERC20 ?? 4_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 8);
const LONE = Number(process.env.BENCH_LONE ?? 100);
const READ_CLIENTS = Number(process.env.BENCH_READ_CLIENTS ?? 32);
const READ_SECONDS = Number(process.env.BENCH_READ_SECONDS ?? 5);
const LOG_BLOCKS = Number(process.env.BENCH_LOG_BLOCKS ?? 10_000);
const RECIPIENTS = 1_000;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);

type Hex = `0x${string}`;
/** keccak256("Transfer(address,address,uint256)") */
const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';
const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString('hex')}`;

interface RpcResponse {
  id: number;
  result?: unknown;
  error?: { code: number; message: string };
}

class Rpc {
  #id = 0;
  constructor(readonly url: string) {}

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const [r] = await this.batch([[method, params]]);
    if (r!.error !== undefined) throw new Error(`${method}: ${r!.error.message}`);
    return r!.result as T;
  }

  async batch(calls: [string, unknown[]][]): Promise<RpcResponse[]> {
    const body = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: ++this.#id, method, params }));
    const res = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${this.url}`);
    const out = (await res.json()) as RpcResponse[];
    const byId = new Map(out.map((r) => [r.id, r]));
    return body.map((b) => byId.get(b.id) ?? { id: b.id, error: { code: 0, message: 'no answer in the batch' } });
  }
}

interface Target {
  readonly name: string;
  readonly rpc: Rpc;
  readonly chainId: bigint;
  readonly gasPrice: bigint;
  /** Bulwark: its nodes' health over the run. */
  readonly health?: NetworkHealth;
  diagnose?(): Promise<void>;
  stop(): Promise<void>;
}

/** What a figure is worth depends on what the nodes went through: view changes and memory. */
interface HealthSummary {
  /** View changes each node counted during the run. */
  viewChanges: Record<string, number>;
  maxRssMb: Record<string, number>;
}

/** Every node's metrics, sampled every 2 s while the benchmark runs. */
class NetworkHealth {
  readonly #first = new Map<string, number>();
  readonly #last = new Map<string, number>();
  readonly #maxRss = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(readonly nodes: readonly NodeHandle[]) {
    this.#timer = setInterval(() => void this.sample(), 2_000).unref();
  }

  async sample(): Promise<void> {
    for (const s of await Promise.all(this.nodes.map(sampleNode))) {
      if (s.viewChanges !== null) {
        if (!this.#first.has(s.name)) this.#first.set(s.name, s.viewChanges);
        this.#last.set(s.name, s.viewChanges);
      }
      if (s.rssMb !== null) this.#maxRss.set(s.name, Math.max(this.#maxRss.get(s.name) ?? 0, s.rssMb));
    }
  }

  async stop(): Promise<HealthSummary> {
    clearInterval(this.#timer);
    await this.sample();
    const viewChanges: Record<string, number> = {};
    for (const [name, last] of this.#last) viewChanges[name] = last - this.#first.get(name)!;
    return { viewChanges, maxRssMb: Object.fromEntries(this.#maxRss) };
  }
}

const accounts = devAccounts(SENDERS + 1);
const keys = accounts.map((a) => new Uint8Array(Buffer.from(a.privateKey.slice(2), 'hex')));
const recipients = Array.from({ length: RECIPIENTS }, (_, i): Hex => `0x${(0xbe00_0000 + i).toString(16).padStart(40, "0")}`);

function waitForExit(p: ChildProcess): Promise<void> {
  return new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
}

async function waitForRpc(rpc: Rpc, procs: ChildProcess[]): Promise<void> {
  const end = Date.now() + 120_000;
  for (;;) {
    try {
      await rpc.call('eth_blockNumber');
      return;
    } catch {
      if (procs.some((p) => p.exitCode !== null)) throw new Error('a node exited during start-up');
      if (Date.now() > end) throw new Error(`no JSON-RPC at ${rpc.url}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * A new network first replaces its bootstrap consensus keys (issue #7): the exchange, then empty
 * batches up to the agreed checkpoint boundary. That start-up cost is reported on its own and not
 * mixed into the measurements that follow.
 */
async function keysInEffect(rpc: Rpc): Promise<void> {
  const t0 = performance.now();
  const end = Date.now() + 120_000;
  for (;;) {
    const status = await rpc.call<{ nodes: { keyEpoch?: number }[] }>('bft_status');
    if (status.nodes.every((n) => (n.keyEpoch ?? 0) >= 1)) break;
    if (Date.now() > end) throw new Error('the replicas did not switch to their own consensus keys within 2 minutes');
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`bulwark: consensus keys exchanged and in effect ${Math.round(performance.now() - t0)} ms after the endpoint answered`);
}

async function startBulwark(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-bench-'));
  const [basePort, , , , rpcPort, metricsPort] = await freePorts(10);
  const proc = spawn(
    process.execPath,
    [
      ...['--import', 'tsx', 'src/cli/main.ts', 'dev', '--dir', dir, '--accounts', String(SENDERS + 1)],
      ...['--base-port', String(basePort), '--rpc-port', String(rpcPort), '--metrics-port', String(metricsPort), '--log-level', process.env.BENCH_LOG_LEVEL ?? 'warn'],
    ],
    { cwd: ROOT, stdio: ['ignore', process.stderr, 'inherit'] },
  );
  const rpc = new Rpc(`http://127.0.0.1:${rpcPort}`);
  await waitForRpc(rpc, [proc]);
  await keysInEffect(rpc);
  const nodes = [0, 1, 2, 3, 4].map(
    (i): NodeHandle => ({ name: i === 4 ? 'client' : `replica${i}`, replica: i === 4 ? null : i, metricsUrl: `http://127.0.0.1:${metricsPort! + i}/metrics`, pid: () => undefined, running: () => proc.exitCode === null }),
  );
  const health = new NetworkHealth(nodes);
  await health.sample();
  return {
    name: 'bulwark',
    rpc,
    health,
    // What each node reports, for a run that goes wrong.
    diagnose: async () => {
      for (let i = 0; i < 5; i++) {
        const health = await fetch(`http://127.0.0.1:${metricsPort! + i}/health`).then((r) => r.text(), (e: unknown) => String(e));
        log(`node ${i}: ${health}`);
      }
    },
    chainId: BigInt(await rpc.call<string>('eth_chainId')),
    gasPrice: BigInt(await rpc.call<string>('eth_gasPrice')),
    stop: async () => {
      proc.kill('SIGINT');
      await waitForExit(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startHardhat(): Promise<Target> {
  // Hardhat runs only from a project that has it installed: the directory sits inside ours.
  mkdirSync(join(ROOT, 'tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'tmp', 'bench-hardhat-'));
  const [port] = await freePorts(1);
  const config = join(dir, 'hardhat.config.cjs');
  writeFileSync(
    config,
    `module.exports = { networks: { hardhat: {
      chainId: 31337, hardfork: 'cancun', initialBaseFeePerGas: 0, blockGasLimit: 30000000,
      mining: { auto: false, interval: 200 },
      accounts: { mnemonic: ${JSON.stringify(DEV_MNEMONIC)}, count: ${SENDERS + 1}, accountsBalance: '10000000000000000000000' },
    } } };\n`,
  );
  const proc = spawn(process.execPath, [join(ROOT, 'node_modules/hardhat/internal/cli/cli.js'), 'node', '--config', config, '--hostname', '127.0.0.1', '--port', String(port)], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true' },
  });
  const rpc = new Rpc(`http://127.0.0.1:${port}`);
  await waitForRpc(rpc, [proc]);
  return {
    name: 'hardhat',
    rpc,
    chainId: BigInt(await rpc.call<string>('eth_chainId')),
    // Full blocks raise the base fee from 0 by 12.5 % each: a fixed 10 gwei stays above it for the run.
    gasPrice: 10n ** 10n,
    stop: async () => {
      proc.kill('SIGTERM');
      await waitForExit(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Watches new blocks and records when each transaction hash is first seen in one. */
class InclusionWatcher {
  readonly seen = new Map<string, number>();
  #next = 0n;
  #stopped = false;
  #done: Promise<void> = Promise.resolve();

  constructor(readonly rpc: Rpc) {}

  async start(): Promise<void> {
    this.#next = BigInt(await this.rpc.call<string>('eth_blockNumber')) + 1n;
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      // The head as it is (eth_blockNumber on Bulwark first lets this node's landing transactions land).
      const head = BigInt((await this.rpc.call<{ number: string }>('eth_getBlockByNumber', ['latest', false])).number);
      if (head < this.#next) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const numbers: bigint[] = [];
      for (let n = this.#next; n <= head; n++) numbers.push(n);
      const blocks = await this.rpc.batch(numbers.map((n) => ['eth_getBlockByNumber', [`0x${n.toString(16)}`, false]]));
      const now = performance.now();
      for (const b of blocks) for (const h of (b.result as { transactions: string[] }).transactions) this.seen.set(h, now);
      this.#next = head + 1n;
    }
  }

  async waitFor(hashes: readonly string[], timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (hashes.some((h) => !this.seen.has(h))) {
      if (Date.now() > end) throw new Error(`${hashes.filter((h) => !this.seen.has(h)).length} of ${hashes.length} transactions not included after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

interface LoadResult {
  readonly perSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const quantile = (sorted: readonly number[], q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]! * 10) / 10;

/** Sends pre-signed transactions in batches, IN_FLIGHT at a time, and waits until all are in blocks. */
async function drive(t: Target, raws: readonly Uint8Array[], hashes: readonly string[]): Promise<LoadResult> {
  const watcher = new InclusionWatcher(t.rpc);
  await watcher.start();
  const sentAt = new Array<number>(raws.length);
  const t0 = performance.now();
  let nextBatch = 0;
  const batches = Math.ceil(raws.length / BATCH);
  const worker = async () => {
    for (let b = nextBatch++; b < batches; b = nextBatch++) {
      const from = b * BATCH;
      const slice = raws.slice(from, from + BATCH);
      const now = performance.now();
      for (let i = 0; i < slice.length; i++) sentAt[from + i] = now;
      const answers = await t.rpc.batch(slice.map((raw) => ['eth_sendRawTransaction', [hex(raw)]]));
      const failed = answers.find((a) => a.error !== undefined);
      if (failed !== undefined) throw new Error(`${t.name} refused a transaction: ${failed.error!.message}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    await watcher.waitFor(hashes, 120_000);
  } finally {
    await watcher.stop();
  }
  const last = Math.max(...hashes.map((h) => watcher.seen.get(h)!));
  const lat = hashes.map((h, i) => watcher.seen.get(h)! - sentAt[i]!).sort((a, b) => a - b);
  return { perSec: Math.round(raws.length / ((last - t0) / 1000)), p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) };
}

const common = (t: Target) => buildCommon(t.chainId, 'cancun');

/** Nonce-major order: every sender's first transaction, then every sender's second, and so on. */
function signLoad(t: Target, count: number, firstNonce: bigint[], make: (sender: number, k: number) => { to: Hex; value?: bigint; data?: Uint8Array; gasLimit: bigint }) {
  const c = common(t);
  const raws: Uint8Array[] = [];
  const hashes: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = 1 + (i % SENDERS);
    const k = Math.floor(i / SENDERS);
    const tx = signTx(c, keys[s]!, { nonce: firstNonce[s]! + BigInt(k), gasPrice: t.gasPrice, ...make(s, k) });
    raws.push(tx.serialize());
    hashes.push(hex(tx.hash()));
  }
  return { raws, hashes };
}

async function nonces(t: Target): Promise<bigint[]> {
  const answers = await t.rpc.batch(accounts.map((a) => ['eth_getTransactionCount', [a.address, 'latest']]));
  return answers.map((a) => BigInt(a.result as string));
}

/** Polls for a transaction's receipt every `pollMs` (a wallet polls every few seconds; a latency probe every 2 ms). */
async function receipt(t: Target, hash: string, pollMs = 50): Promise<{ status: string; contractAddress: Hex | null }> {
  const end = Date.now() + 60_000;
  for (;;) {
    const r = await t.rpc.call<{ status: string; contractAddress: Hex | null } | null>('eth_getTransactionReceipt', [hash]);
    if (r !== null) return r;
    if (Date.now() > end) throw new Error(`no receipt for ${hash}`);
    await new Promise((res) => setTimeout(res, pollMs));
  }
}

async function loneLatency(t: Target): Promise<{ p50Ms: number; p99Ms: number }> {
  const c = common(t);
  let nonce = (await nonces(t))[0]!;
  const lat: number[] = [];
  for (let i = 0; i < LONE + 5; i++) {
    const raw = signTx(c, keys[0]!, { nonce: nonce++, to: recipients[i % RECIPIENTS]!, value: 1n, gasLimit: 21_000n, gasPrice: t.gasPrice }).serialize();
    const t0 = performance.now();
    const hash = await t.rpc.call<string>('eth_sendRawTransaction', [hex(raw)]);
    // Polled every 2 ms: the figure is the network's, not the poll interval's.
    await receipt(t, hash, 2);
    if (i >= 5) lat.push(performance.now() - t0); // the first few warm the processes up
    await new Promise((r) => setTimeout(r, 30)); // an idle network between transactions
  }
  lat.sort((a, b) => a - b);
  return { p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) };
}

async function transfers(t: Target): Promise<LoadResult> {
  const { raws, hashes } = signLoad(t, TRANSFERS, await nonces(t), (s, k) => ({ to: recipients[(s * 7 + k) % RECIPIENTS]!, value: 1n, gasLimit: 21_000n }));
  log(`${t.name}: ${TRANSFERS} transfers from ${SENDERS} senders, batches of ${BATCH}, ${IN_FLIGHT} in flight`);
  return drive(t, raws, hashes);
}

async function erc20(t: Target): Promise<LoadResult & { token: Hex }> {
  const c = common(t);
  const deployer = keys[0]!;
  let nonce = (await nonces(t))[0]!;
  const deploy = signTx(c, deployer, { nonce: nonce++, data: bytecode('Token', 10n ** 30n), gasLimit: 2_000_000n, gasPrice: t.gasPrice });
  await t.rpc.call('eth_sendRawTransaction', [hex(deploy.serialize())]);
  const token = (await receipt(t, hex(deploy.hash()))).contractAddress!;
  // Tokens for every sender, in runs the pool takes at once (it holds at most 64 nonces ahead).
  for (let s = 1; s <= SENDERS; s += 50) {
    const run = Array.from({ length: Math.min(50, SENDERS + 1 - s) }, (_, i) =>
      signTx(c, deployer, { nonce: nonce++, to: token, data: encodeCall('transfer(address,uint256)', accounts[s + i]!.address, 10n ** 24n), gasLimit: 100_000n, gasPrice: t.gasPrice }),
    );
    await t.rpc.batch(run.map((tx) => ['eth_sendRawTransaction', [hex(tx.serialize())]]));
    const r = await receipt(t, hex(run[run.length - 1]!.hash()));
    if (r.status !== '0x1') throw new Error(`${t.name}: giving tokens failed`);
  }
  const before = await recipientTotal(t, token);
  const { raws, hashes } = signLoad(t, ERC20, await nonces(t), (s, k) => ({
    to: token,
    data: encodeCall('transfer(address,uint256)', recipients[(s * 13 + k) % RECIPIENTS]!, 1n),
    gasLimit: 60_000n,
  }));
  log(`${t.name}: ${ERC20} ERC-20 transfers from ${SENDERS} senders`);
  const result = await drive(t, raws, hashes);
  const moved = (await recipientTotal(t, token)) - before;
  if (moved !== BigInt(ERC20)) throw new Error(`${t.name}: the recipients received ${moved} tokens, not ${ERC20}`);
  return { ...result, token };
}

/**
 * Read requests per second: READ_CLIENTS loops, each sending one JSON-RPC request at a time (no
 * batching) for READ_SECONDS, after a short warm-up.
 */
async function readRate(t: Target, make: (i: number) => [string, unknown[]]): Promise<number> {
  // undici's request on kept-alive connections, one per loop: global fetch costs the load
  // generator (which shares the machine's two cores with the node) several times more per request.
  const pool = new Pool(t.rpc.url, { connections: READ_CLIENTS, pipelining: 1 });
  const path = new URL(t.rpc.url).pathname;
  let failed = 0;
  const one = async (method: string, params: unknown[]) => {
    const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
    const answer = (await res.body.json()) as RpcResponse;
    if (res.statusCode !== 200 || answer.error !== undefined) failed++;
  };
  const run = async (ms: number) => {
    let done = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: READ_CLIENTS }, async (_, c) => {
        for (let i = c; performance.now() < end; i += READ_CLIENTS) {
          const [method, params] = make(i);
          await one(method, params);
          done++;
        }
      }),
    );
    return done;
  };
  try {
    await run(1_000);
    const t0 = performance.now();
    const done = await run(READ_SECONDS * 1_000);
    if (failed > 0) throw new Error(`${t.name}: ${failed} of the read requests failed`);
    return Math.round(done / ((performance.now() - t0) / 1000));
  } finally {
    await pool.close();
  }
}

async function reads(t: Target, token: Hex | null): Promise<{ getBalancePerSec: number; callPerSec: number | null; getLogsPerSec: number | null }> {
  const getBalancePerSec = await readRate(t, (i) => ['eth_getBalance', [accounts[i % accounts.length]!.address, 'latest']]);
  log(`${t.name}: ${getBalancePerSec} eth_getBalance/s (${READ_CLIENTS} clients, one request each at a time)`);
  if (token === null) return { getBalancePerSec, callPerSec: null, getLogsPerSec: null };
  const callPerSec = await readRate(t, (i) => ['eth_call', [{ to: token, data: hex(encodeCall('balanceOf(address)', recipients[i % RECIPIENTS]!)) }, 'latest']]);
  log(`${t.name}: ${callPerSec} eth_call/s (ERC-20 balanceOf)`);
  if (LOG_BLOCKS <= 0) return { getBalancePerSec, callPerSec, getLogsPerSec: null };
  const head = await growChain(t, token, LOG_BLOCKS);
  const from = head - BigInt(LOG_BLOCKS) + 1n;
  // An indexer's question: one recipient's incoming Transfers over the last LOG_BLOCKS blocks (the
  // recipients sender 1 paid first while the chain grew).
  const query = (i: number) => ({
    fromBlock: `0x${from.toString(16)}`,
    toBlock: `0x${head.toString(16)}`,
    address: token,
    topics: [TRANSFER_TOPIC, null, `0x${recipients[(31 + (i % 64)) % RECIPIENTS]!.slice(2).padStart(64, '0')}`],
  });
  const sample = await t.rpc.call<unknown[]>('eth_getLogs', [query(0)]);
  const getLogsPerSec = await readRate(t, (i) => ['eth_getLogs', [query(i)]]);
  log(`${t.name}: ${getLogsPerSec} eth_getLogs/s over blocks ${from}..${head} (one recipient's Transfers: ${sample.length} logs for the first)`);
  return { getBalancePerSec, callPerSec, getLogsPerSec };
}

/**
 * Grows the chain to `blocks` blocks: token transfers from 16 senders, each waiting for its
 * receipt before the next, so most blocks hold one or a few transactions (and Transfer logs).
 */
async function growChain(t: Target, token: Hex, blocks: number): Promise<bigint> {
  const c = common(t);
  const start = BigInt(await t.rpc.call<string>('eth_blockNumber'));
  if (start >= BigInt(blocks)) return start;
  const t0 = performance.now();
  const all = await nonces(t);
  let head = start;
  await Promise.all(
    Array.from({ length: Math.min(16, SENDERS) }, async (_, k) => {
      const s = k + 1;
      let nonce = all[s]!;
      let i = 0;
      while (head < BigInt(blocks)) {
        const tx = signTx(c, keys[s]!, { nonce: nonce++, to: token, data: encodeCall('transfer(address,uint256)', recipients[(s * 31 + i++) % RECIPIENTS]!, 1n), gasLimit: 60_000n, gasPrice: t.gasPrice });
        await t.rpc.call('eth_sendRawTransaction', [hex(tx.serialize())]);
        await receipt(t, hex(tx.hash()));
        const n = BigInt(await t.rpc.call<string>('eth_blockNumber'));
        if (n > head) head = n;
      }
    }),
  );
  log(`${t.name}: chain grown from ${start} to ${head} blocks in ${Math.round((performance.now() - t0) / 1000)} s`);
  return head;
}

async function recipientTotal(t: Target, token: Hex): Promise<bigint> {
  let total = 0n;
  for (let i = 0; i < recipients.length; i += 100) {
    const calls = recipients.slice(i, i + 100).map((r): [string, unknown[]] => ['eth_call', [{ to: token, data: hex(encodeCall('balanceOf(address)', r)) }, 'latest']]);
    for (const a of await t.rpc.batch(calls)) {
      if (a.error !== undefined) throw new Error(`${t.name}: balanceOf failed: ${a.error.message}`);
      total += BigInt(a.result as string);
    }
  }
  return total;
}

async function run<T>(start: () => Promise<Target>, body: (t: Target) => Promise<T>): Promise<T> {
  const t = await start();
  try {
    return await body(t);
  } catch (err) {
    await t.diagnose?.();
    throw err;
  } finally {
    await t.stop();
  }
}

await initHashes();
const only = process.env.BENCH_ONLY;
const skipOurs = only === 'hardhat';
interface Ours {
  lone: { p50Ms: number | null; p99Ms: number | null };
  eth: LoadResult | null;
  token: LoadResult | null;
  reads: { getBalancePerSec: number; callPerSec: number | null; getLogsPerSec: number | null } | null;
  health: HealthSummary | null;
}
const none: Ours = { lone: { p50Ms: null, p99Ms: null }, eth: null, token: null, reads: null, health: null };
const ours: Ours = skipOurs
  ? none
  : await run(startBulwark, async (t) => {
      const out: Ours = { ...none };
      if (only === undefined || only === 'latency') {
        out.lone = await loneLatency(t);
        log(`bulwark: lone transaction p50 ${out.lone.p50Ms} ms, p99 ${out.lone.p99Ms} ms (${LONE} samples)`);
        if (only === 'latency') return out;
      }
      if (only === undefined) {
        out.eth = await transfers(t);
        log(`bulwark: ${out.eth.perSec} transfers/s; under load p50 ${out.eth.p50Ms} ms, p99 ${out.eth.p99Ms} ms`);
      }
      const token = ERC20 > 0 ? await erc20(t) : null;
      out.token = token;
      if (token !== null) log(`bulwark: ${token.perSec} ERC-20 transfers/s; under load p50 ${token.p50Ms} ms, p99 ${token.p99Ms} ms`);
      out.reads = await reads(t, token?.token ?? null);
      out.health = (await t.health?.stop()) ?? null;
      log(`bulwark: view changes ${JSON.stringify(out.health?.viewChanges)}, max RSS (MB) ${JSON.stringify(out.health?.maxRssMb)}`);
      return out;
    });
let hardhat: { eth: LoadResult; token: LoadResult | null } | null = null;
if ((only === undefined || only === 'hardhat') && process.env.BENCH_HARDHAT !== '0') {
  hardhat = await run(startHardhat, async (t) => {
    const eth = await transfers(t);
    log(`hardhat: ${eth.perSec} transfers/s`);
    const token = ERC20 > 0 ? await erc20(t) : null;
    if (token !== null) log(`hardhat: ${token.perSec} ERC-20 transfers/s`);
    return { eth, token };
  });
}
console.log(
  JSON.stringify({
    transfersPerSec: ours.eth?.perSec ?? null,
    erc20PerSec: ours.token?.perSec ?? null,
    p50Ms: ours.lone.p50Ms,
    p99Ms: ours.lone.p99Ms,
    hardhatTransfersPerSec: hardhat?.eth.perSec ?? null,
    hardhatErc20PerSec: hardhat?.token?.perSec ?? null,
    loadP50Ms: ours.eth?.p50Ms ?? null,
    loadP99Ms: ours.eth?.p99Ms ?? null,
    getBalancePerSec: ours.reads?.getBalancePerSec ?? null,
    callPerSec: ours.reads?.callPerSec ?? null,
    getLogsPerSec: ours.reads?.getLogsPerSec ?? null,
    viewChanges: ours.health?.viewChanges ?? null,
    maxRssMb: ours.health?.maxRssMb ?? null,
  }),
);
