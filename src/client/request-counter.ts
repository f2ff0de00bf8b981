/**
 * The client node's request sequence numbers, durable across restarts. Replicas execute a client's
 * requests in `requestSeq` order and drop, silently, any at or below the last they executed for it
 * (exactly-once), so a restarted node must never start below a number it already used. The wall
 * clock does not guarantee that (a clock stepped back across a restart made every new request look
 * old), so the counter lives in the node's store (`D/data`): numbers are reserved ahead in blocks —
 * the store says "everything below R may have been used", R written before any number near it is
 * handed out — and handed out from memory, one write per `block` numbers, not one per request. A
 * restart starts at the stored R.
 */
import { createRepository, uint64Codec, utf8Codec, type KvStore, type Repository } from '../storage/index.ts';

export interface RequestCounterOptions {
  readonly kv: KvStore;
  /** Numbers reserved per write (default 10,000); the next block is written when half of this one is used. */
  readonly block?: number;
  /** The first number of a node that has none stored (a new one, or one from before the counter): the clock's, as before. */
  readonly now?: () => number;
  /** A reservation could not be written (it is tried again at the next number handed out). */
  readonly onError?: (err: unknown) => void;
}

const KEY = 'requestSeq';

export class RequestCounter {
  readonly #kv: KvStore;
  readonly #repo: Repository<string, bigint>;
  readonly #block: number;
  readonly #onError: (err: unknown) => void;
  #next: number;
  /** Durably reserved: a restart starts here. */
  #reserved: number;
  #writing = false;
  /** Numbers handed out beyond the durable reservation (its write kept failing). */
  overrun = 0;
  /** Reservations that could not be written. */
  failures = 0;

  private constructor(repo: Repository<string, bigint>, next: number, o: RequestCounterOptions) {
    this.#kv = o.kv;
    this.#repo = repo;
    this.#block = o.block ?? 10_000;
    this.#onError = o.onError ?? (() => undefined);
    this.#next = next;
    this.#reserved = next;
  }

  /** Reads the stored reservation (or starts from the clock) and reserves the first block before any number is used. */
  static async open(o: RequestCounterOptions): Promise<RequestCounter> {
    const repo = createRepository(o.kv, 'clientNodeState', utf8Codec, uint64Codec);
    const stored = await repo.get(KEY);
    const counter = new RequestCounter(repo, stored === undefined ? (o.now ?? Date.now)() * 1000 : Number(stored), o);
    await counter.#reserve(counter.#next + counter.#block);
    return counter;
  }

  /** The next number to use: above every number used before, here or in an earlier run. */
  next(): number {
    const n = this.#next++;
    if (n >= this.#reserved) this.overrun++;
    this.#ensure();
    return n;
  }

  /**
   * What the replicas report as executed for this client (f + 1 of them): nothing at or below it
   * would be executed, so the counter moves above it.
   */
  raise(executed: number): void {
    if (executed < this.#next) return;
    this.#next = executed + 1;
    this.#ensure();
  }

  /** The number a restart would start from now. */
  get reserved(): number {
    return this.#reserved;
  }

  /** Reserves the next block once half of the current one is used. */
  #ensure(): void {
    if (this.#writing || this.#reserved - this.#next > this.#block / 2) return;
    this.#writing = true;
    this.#reserve(this.#next + this.#block)
      .catch((err: unknown) => {
        this.failures++;
        this.#onError(err);
      })
      .finally(() => (this.#writing = false));
  }

  async #reserve(upTo: number): Promise<void> {
    await this.#kv.write([this.#repo.putOp(KEY, BigInt(upTo))], { sync: true });
    if (upTo > this.#reserved) this.#reserved = upTo;
  }
}
