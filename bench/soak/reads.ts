/**
 * The soak's read traffic beside the writes, open-loop at fixed rates: `eth_call` of the Token's
 * `balanceOf` for a random recipient, and `eth_getLogs` for a random recipient's incoming Transfer
 * events (the Transfer topic, that recipient as the indexed `to`) over the last 100 blocks — what a
 * wallet and an indexer ask while the chain grows. Latency and failures are kept per interval; at
 * most 16 reads are outstanding, more are skipped.
 */
import { encodeCall } from '../../test/helpers/abi.ts';
import { TRANSFER_TOPIC, hex, type Chain, type Hex } from './chain.ts';
import { sleep, type RpcCall, type SoakRpc } from './rpc.ts';

export interface ReadCounts {
  calls: number;
  logs: number;
  failed: number;
  skipped: number;
  lastError: string | null;
  /** Latencies (ms) of the reads answered in the interval. */
  readonly latencies: number[];
}

const empty = (): ReadCounts => ({ calls: 0, logs: 0, failed: 0, skipped: 0, lastError: null, latencies: [] });
const MAX_OUTSTANDING = 16;
const TICK_MS = 50;
const LOG_SPAN = 100n;

export class ReadLoad {
  failed = 0;
  lastError: string | null = null;
  #interval = empty();
  #outstanding = 0;
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(
    readonly rpc: SoakRpc,
    readonly chain: Chain,
    readonly token: Hex,
    readonly head: () => bigint,
    readonly callRate: number,
    readonly logsRate: number,
  ) {}

  start(): void {
    if (this.callRate > 0 || this.logsRate > 0) this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    while (this.#outstanding > 0) await sleep(20);
  }

  take(): ReadCounts {
    const out = this.#interval;
    this.#interval = empty();
    return out;
  }

  async #run(): Promise<void> {
    const t0 = performance.now();
    let calls = 0;
    let logs = 0;
    while (!this.#stopped) {
      const elapsed = (performance.now() - t0) / 1000;
      for (; calls < Math.floor(elapsed * this.callRate); calls++) this.#issue('call');
      for (; logs < Math.floor(elapsed * this.logsRate); logs++) this.#issue('logs');
      await sleep(TICK_MS);
    }
  }

  #issue(kind: 'call' | 'logs'): void {
    if (this.#outstanding >= MAX_OUTSTANDING) {
      this.#interval.skipped++;
      return;
    }
    const who = this.chain.recipients[Math.floor(Math.random() * this.chain.recipients.length)]!;
    const head = this.head();
    const from = head > LOG_SPAN ? head - LOG_SPAN : 0n;
    const call: RpcCall =
      kind === 'call'
        ? ['eth_call', [{ to: this.token, data: hex(encodeCall('balanceOf(address)', who)) }, 'latest']]
        : ['eth_getLogs', [{ fromBlock: `0x${from.toString(16)}`, toBlock: `0x${head.toString(16)}`, address: this.token, topics: [TRANSFER_TOPIC, null, `0x${who.slice(2).padStart(64, '0')}`] }]];
    this.#outstanding++;
    const t0 = performance.now();
    void this.rpc
      .batch([call])
      .then(
        ([a]) => {
          if (a!.error !== undefined) throw new Error(`${call[0]}: ${a!.error.message}`);
          this.#interval.latencies.push(performance.now() - t0);
          if (kind === 'call') this.#interval.calls++;
          else this.#interval.logs++;
        },
      )
      .catch((err: unknown) => {
        this.failed++;
        this.#interval.failed++;
        this.lastError = this.#interval.lastError = (err as Error).message;
      })
      .finally(() => this.#outstanding--);
  }
}
