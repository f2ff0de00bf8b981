/**
 * Watches the client node's head and reads every new block's transaction hashes, telling its
 * listeners when each block was first seen: the harness's clock for inclusion latency, tps and
 * commit resumption after a kill. It keeps going through transport failures (a restarting node),
 * backing off, and counts them; `eth_getBlockByNumber('latest')` rather than `eth_blockNumber`,
 * which on Bulwark waits a moment for transactions the node just accepted to land.
 */
import { sleep, type RpcCall, type SoakRpc } from './rpc.ts';

export type BlockListener = (number: bigint, hashes: readonly string[], seenAt: number) => void;

interface BlockJson {
  readonly number: string;
  readonly transactions: readonly string[];
}

/** Blocks read per batch when catching up. */
const CHUNK = 50;

export class InclusionWatcher {
  /** The highest block read so far (-1 before the first). */
  head = -1n;
  /** When the head last moved (performance.now()). */
  headMovedAt = 0;
  transportErrors = 0;
  lastError: string | null = null;
  readonly #listeners: BlockListener[] = [];
  #next = 0n;
  #stopped = false;
  #done: Promise<void> = Promise.resolve();

  constructor(
    readonly rpc: SoakRpc,
    readonly pollMs = 50,
  ) {}

  onBlock(listener: BlockListener): void {
    this.#listeners.push(listener);
  }

  /** Starts after the current head: transactions already in blocks are not reported. */
  async start(): Promise<void> {
    const latest = await this.rpc.call<BlockJson>('eth_getBlockByNumber', ['latest', false]);
    this.head = BigInt(latest.number);
    this.headMovedAt = performance.now();
    this.#next = this.head + 1n;
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    let backoff = 100;
    while (!this.#stopped) {
      try {
        await this.#poll();
        backoff = 100;
      } catch (err) {
        this.transportErrors++;
        this.lastError = (err as Error).message;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2_000);
      }
    }
  }

  async #poll(): Promise<void> {
    const latest = await this.rpc.call<BlockJson>('eth_getBlockByNumber', ['latest', false], 5_000);
    const top = BigInt(latest.number);
    if (top < this.#next) {
      await sleep(this.pollMs);
      return;
    }
    const numbers: bigint[] = [];
    for (let n = this.#next; n <= top && numbers.length < CHUNK; n++) numbers.push(n);
    const answers = await this.rpc.batchRetrying(
      numbers.map((n): RpcCall => ['eth_getBlockByNumber', [`0x${n.toString(16)}`, false]]),
      5_000,
    );
    const now = performance.now();
    for (const a of answers) {
      const block = a.result as BlockJson | null | undefined;
      if (block === null || block === undefined) return; // not there (yet): read again from here
      const number = BigInt(block.number);
      for (const l of this.#listeners) l(number, block.transactions, now);
      this.#next = number + 1n;
      this.head = number;
      this.headMovedAt = now;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}
