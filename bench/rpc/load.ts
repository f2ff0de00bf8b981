/**
 * The load itself: pre-signed transactions sent as JSON-RPC batches of `eth_sendRawTransaction`,
 * so many batches in flight, and a poller of new blocks that records when each is first seen in
 * one. Throughput is the transactions over the time from the first send until the last is seen.
 */
import type { Common } from '@ethereumjs/common';
import { ecsignForEthereumjs } from '../../src/crypto/secp256k1.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { signTx, type TxFields } from '../../test/helpers/chain.ts';
import { hex, quantile, sleep, type Rpc } from './client.ts';
import type { System } from './system.ts';

/** Watches new blocks and records when each transaction hash is first seen in one. */
export class InclusionWatcher {
  readonly seen = new Map<string, number>();
  #next = 0n;
  #stopped = false;
  #done: Promise<void> = Promise.resolve();
  /** Why the poller stopped on its own (the node failed to answer): the cell fails with it. */
  #error: Error | null = null;

  constructor(readonly rpc: Rpc) {}

  async start(): Promise<void> {
    this.#next = BigInt(await this.rpc.call<string>('eth_blockNumber')) + 1n;
    this.#done = this.#run().catch((err: unknown) => {
      this.#error = err as Error;
    });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const head = BigInt((await this.rpc.call<{ number: string }>('eth_getBlockByNumber', ['latest', false])).number);
      if (head < this.#next) {
        await sleep(5);
        continue;
      }
      const numbers: bigint[] = [];
      for (let n = this.#next; n <= head; n++) numbers.push(n);
      const now = performance.now();
      for (let i = 0; i < numbers.length; i += 100) {
        const blocks = await this.rpc.batch(numbers.slice(i, i + 100).map((n) => ['eth_getBlockByNumber', [`0x${n.toString(16)}`, false]]));
        for (const b of blocks) for (const h of (b.result as { transactions: string[] }).transactions) this.seen.set(h, now);
      }
      this.#next = head + 1n;
    }
  }

  async waitFor(hashes: readonly string[], timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (hashes.some((h) => !this.seen.has(h))) {
      if (this.#error !== null) throw new Error(`watching new blocks failed: ${this.#error.message}`);
      if (Date.now() > end) throw new Error(`${hashes.filter((h) => !this.seen.has(h)).length} of ${hashes.length} transactions not included after ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

export interface LoadResult {
  readonly perSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** From the first send until the last transaction was seen in a block. */
  readonly seconds: number;
  /** Sends refused with `txpool is full` (the node's pool bound) and sent again. */
  readonly busyRefusals: number;
}

export interface SignedLoad {
  readonly raws: readonly Uint8Array[];
  readonly hashes: readonly string[];
}

/** go-ethereum's refusal when its pool is full, which Bulwark's pool also gives past its bound in time: try again later. */
export const isBusy = (message: string) => message.startsWith('txpool is full');

/** How long a worker waits before sending again what the pool refused as full. */
const BUSY_PAUSE_MS = 100;

/**
 * Sends pre-signed transactions in batches of `batch`, `inFlight` at a time, and waits until all are
 * in blocks. A transaction refused with `txpool is full` is sent again after a pause, as a client
 * would (its latency counts from the first send); any other refusal fails the load.
 */
export async function drive(s: System, load: SignedLoad, batch: number, inFlight: number, timeoutMs = 300_000): Promise<LoadResult> {
  const { raws, hashes } = load;
  const watcher = new InclusionWatcher(s.rpc);
  await watcher.start();
  const sentAt = new Array<number>(raws.length);
  const t0 = performance.now();
  let nextBatch = 0;
  let failed = false;
  let busyRefusals = 0;
  const batches = Math.ceil(raws.length / batch);
  const worker = async () => {
    // After one refusal the other workers stop too: nothing of a failed cell runs into the next.
    for (let b = nextBatch++; b < batches && !failed; b = nextBatch++) {
      const from = b * batch;
      let todo = [...Array(Math.min(batch, raws.length - from)).keys()].map((i) => from + i);
      const now = performance.now();
      for (const i of todo) sentAt[i] = now;
      while (todo.length > 0 && !failed) {
        if (performance.now() - t0 > timeoutMs) throw new Error(`${s.name}: the pool still refused ${todo.length} transactions as full after ${timeoutMs} ms`);
        const answers = await s.rpc.batch(todo.map((i) => ['eth_sendRawTransaction', [hex(raws[i]!)]])).catch((err: unknown) => {
          failed = true;
          throw err;
        });
        const again: number[] = [];
        answers.forEach((a, k) => {
          if (a.error === undefined) return;
          if (!isBusy(a.error.message)) {
            failed = true;
            throw new Error(`${s.name} refused a transaction: ${a.error.message}`);
          }
          again.push(todo[k]!);
        });
        busyRefusals += again.length;
        todo = again;
        if (todo.length > 0) await sleep(BUSY_PAUSE_MS);
      }
    }
  };
  try {
    // allSettled: every worker has stopped before the cell ends, failed or not.
    const outcomes = await Promise.allSettled(Array.from({ length: inFlight }, worker));
    const rejected = outcomes.find((o) => o.status === 'rejected');
    if (rejected !== undefined) throw rejected.reason;
    await watcher.waitFor(hashes, timeoutMs);
  } finally {
    await watcher.stop();
  }
  const last = Math.max(...hashes.map((h) => watcher.seen.get(h)!));
  const lat = hashes.map((h, i) => watcher.seen.get(h)! - sentAt[i]!).sort((a, b) => a - b);
  return {
    perSec: Math.round(raws.length / ((last - t0) / 1000)),
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    seconds: Math.round((last - t0) / 100) / 10,
    busyRefusals,
  };
}

/**
 * `count` transactions from `keys`, in nonce-major order — every sender's first transaction, then
 * every sender's second, and so on — so that a burst of batches reaches the pool in nonce order
 * for each sender, as a load generator with many clients would send it.
 */
export function signLoad(common: Common, gasPrice: bigint, keys: readonly Uint8Array[], firstNonce: readonly bigint[], count: number, make: (sender: number, k: number) => Omit<TxFields, 'nonce' | 'gasPrice'>): SignedLoad {
  const raws: Uint8Array[] = [];
  const hashes: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = i % keys.length;
    const k = Math.floor(i / keys.length);
    const tx = signTx(common, keys[s]!, { nonce: firstNonce[s]! + BigInt(k), gasPrice, ...make(s, k) });
    raws.push(tx.serialize());
    hashes.push(hex(tx.hash()));
  }
  return { raws, hashes };
}

/** Each address's next nonce as the node sees it now. */
export async function noncesOf(rpc: Rpc, addresses: readonly string[]): Promise<bigint[]> {
  return (await rpc.all<string>(addresses.map((a) => ['eth_getTransactionCount', [a, 'pending']]))).map(BigInt);
}

/**
 * A Common for signing on `s`. ethereumjs signs with noble's pure-JS secp256k1 (~0.9 ms a
 * transaction); the native one (~0.15 ms) keeps signing a cell's load short.
 */
export function commonOf(s: System): Common {
  const common = buildCommon(s.chainId, 'cancun');
  common.customCrypto.ecsign = ecsignForEthereumjs;
  return common;
}
