/**
 * The pool's journal (go-ethereum's `txpool.journal` of local transactions): every transaction the
 * pool holds is kept in the client node's store, raw bytes by hash, so a transaction whose hash a
 * user got back is not lost when the node stops (an upgrade, a reconfiguration, a crash) before the
 * replicas ordered it. It mirrors the pool: a transaction is written when the pool accepts it —
 * before the RPC answer, which waits for `written()` — and deleted when it leaves the pool (ordered,
 * refused for good, replaced, evicted or dropped), so it never holds more than the pool's limits.
 *
 * The changes of one turn go out as one batch, without a synced write: RocksDB's write-ahead log
 * is in the operating system's hands once `write` returns, which survives the process being killed
 * (not the machine losing power, as go-ethereum's journal). A write that fails (a full disk) is
 * reported and tried again; the pool goes on from memory meanwhile.
 *
 * At start `restoreJournal` offers each journaled transaction to the pool again, through the
 * normal acceptance path: the ones already in a block, or now refused (nonce too low, funds), are
 * dropped from the journal; the rest are submitted as usual. A transaction the replicas ordered
 * but the mirror has not seen yet is accepted again and refused by the replicas (its nonce is
 * used), which settles it out of the pool like any refusal: it cannot execute twice.
 */
import { createTxFromRLP } from '@ethereumjs/tx';
import type { Common } from '@ethereumjs/common';
import { hexToBytes } from '../crypto/hex.ts';
import { bytesCodec, createRepository, fixedBytesCodec, type BatchOp, type KvStore, type Repository } from '../storage/index.ts';
import { PoolError, type PoolJournal, type PoolTx } from './txpool.ts';

export interface TxJournalOptions {
  readonly kv: KvStore;
  /** A write failed (it is tried again after `retryMs`). */
  readonly onError?: (err: unknown) => void;
  readonly retryMs?: number;
}

export class TxJournal implements PoolJournal {
  readonly #kv: KvStore;
  readonly #repo: Repository<Uint8Array, Uint8Array>;
  readonly #onError: (err: unknown) => void;
  readonly #retryMs: number;
  /** Hashes that are, or may be, on disk (written, being written, or whose delete failed). */
  readonly #stored = new Set<string>();
  /** Changes not yet written, by hash: the raw transaction to put, or null to delete it. */
  #changes = new Map<string, Uint8Array | null>();
  /** Counts changes; a waiter is released once a write covered its count. */
  #made = 0;
  #covered = 0;
  #waiters: { upTo: number; resolve: () => void }[] = [];
  /** The write under way. */
  #current: Promise<boolean> | null = null;
  #scheduled = false;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** Writes that failed (each is tried again). */
  failures = 0;

  constructor(o: TxJournalOptions) {
    this.#kv = o.kv;
    this.#repo = createRepository(o.kv, 'txPoolJournal', fixedBytesCodec(32), bytesCodec);
    this.#onError = o.onError ?? (() => undefined);
    this.#retryMs = o.retryMs ?? 1_000;
  }

  /** Every journaled transaction, as stored (read once, at start). */
  async load(): Promise<{ hash: string; raw: Uint8Array }[]> {
    const out: { hash: string; raw: Uint8Array }[] = [];
    for await (const [key, raw] of this.#repo.entries()) {
      const hash = `0x${Buffer.from(key).toString('hex')}`;
      this.#stored.add(hash);
      out.push({ hash, raw: raw.slice() });
    }
    return out;
  }

  /** How many transactions the journal holds or is about to (for tests and diagnosis). */
  get size(): number {
    let n = this.#stored.size;
    for (const [h, raw] of this.#changes) {
      if (raw !== null && !this.#stored.has(h)) n++;
      else if (raw === null && this.#stored.has(h)) n--;
    }
    return n;
  }

  added(t: PoolTx): void {
    this.#change(t.hash, t.raw);
  }

  removed(hash: string): void {
    // A put never written needs no delete; anything that may be on disk does.
    if (this.#stored.has(hash)) this.#change(hash, null);
    else if (this.#changes.delete(hash) && this.#changes.size === 0 && this.#current === null) this.#release(this.#made);
  }

  /** Resolves once every change made so far was written (or its write failed and was reported). */
  written(): Promise<void> {
    // Closed: nothing more is written, and nobody waits for it (the node is stopping).
    if (this.#covered >= this.#made || (this.#closed && this.#current === null)) return Promise.resolve();
    const upTo = this.#made;
    return new Promise((resolve) => this.#waiters.push({ upTo, resolve }));
  }

  /** Writes what is waiting (one attempt) and stops; the store may be closed after. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    while (this.#current !== null) await this.#current;
    if (this.#changes.size > 0) await this.#write();
    this.#release(this.#made);
  }

  #change(hash: string, raw: Uint8Array | null): void {
    this.#changes.set(hash, raw);
    this.#made++;
    if (this.#scheduled || this.#current !== null || this.#timer !== null || this.#closed) return;
    // The changes of one turn (a burst of adds, a request's settlement) go out as one batch.
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#current !== null || this.#closed || this.#changes.size === 0) return;
    const ok = await this.#write();
    if (this.#closed) return;
    if (!ok) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        void this.#flush();
      }, this.#retryMs);
      this.#timer.unref();
    } else if (this.#changes.size > 0) void this.#flush();
  }

  #write(): Promise<boolean> {
    const current = this.#writeChanges().finally(() => (this.#current = null));
    this.#current = current;
    return current;
  }

  async #writeChanges(): Promise<boolean> {
    const changes = this.#changes;
    const upTo = this.#made;
    this.#changes = new Map();
    const ops: BatchOp[] = [];
    for (const [hash, raw] of changes) {
      if (raw === null) ops.push(this.#repo.delOp(hexToBytes(hash)));
      else {
        this.#stored.add(hash);
        ops.push(this.#repo.putOp(hexToBytes(hash), raw));
      }
    }
    let ok = true;
    try {
      await this.#kv.write(ops);
      for (const [hash, raw] of changes) if (raw === null && !this.#changes.has(hash)) this.#stored.delete(hash);
    } catch (err) {
      ok = false;
      this.failures++;
      this.#onError(err);
      // Tried again with the next batch, unless a later change of the same hash supersedes it.
      for (const [hash, raw] of changes) if (!this.#changes.has(hash)) this.#changes.set(hash, raw);
    }
    // Changes made meanwhile and all cancelled (a put removed before it was written) need no write.
    this.#release(this.#changes.size === 0 ? this.#made : upTo);
    return ok;
  }

  #release(upTo: number): void {
    this.#covered = Math.max(this.#covered, upTo);
    const ready = this.#waiters.filter((w) => w.upTo <= this.#covered);
    this.#waiters = this.#waiters.filter((w) => w.upTo > this.#covered);
    for (const w of ready) w.resolve();
  }
}

export interface RestoreOptions {
  readonly journal: Pick<TxJournal, 'load' | 'removed'>;
  readonly pool: { add(raw: Uint8Array): Promise<string> };
  readonly common: Common;
  /** Waited for before the first transaction is offered (only if there is one): the mirror catching up. */
  readonly ready?: () => Promise<void>;
  /** Whether the verified chain already holds the transaction. */
  readonly included: (hash: string) => Promise<boolean>;
  /** Ends the restoring early (the node stops); what was not offered yet stays journaled. */
  readonly signal?: AbortSignal;
  /** A check that failed for a passing reason (a state read the replicas did not answer) is tried again after this long. */
  readonly retryMs?: number;
  readonly onRetry?: (err: unknown) => void;
  /** Each transaction dropped, with why (an error code or "included"). */
  readonly onDrop?: (hash: string, why: string) => void;
}

export interface RestoreCounts {
  /** Accepted by the pool again (and submitted as usual). */
  readonly restored: number;
  /** Already in a block, or refused now: removed from the journal. */
  readonly dropped: number;
}

/**
 * Offers every journaled transaction to the pool again, lowest nonce first (so each sender's
 * transactions come in nonce order and none is refused for a gap the order made).
 */
export async function restoreJournal(o: RestoreOptions): Promise<RestoreCounts> {
  const entries = (await o.journal.load()).map((e) => ({ ...e, nonce: nonceOf(e.raw, o.common) }));
  entries.sort((a, b) => (a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0));
  if (entries.length > 0) await o.ready?.();
  let restored = 0;
  let dropped = 0;
  const drop = (hash: string, why: string) => {
    o.journal.removed(hash);
    o.onDrop?.(hash, why);
    dropped++;
  };
  for (const { hash, raw } of entries) {
    for (;;) {
      if (o.signal?.aborted === true) return { restored, dropped };
      try {
        if (await o.included(hash)) drop(hash, 'included');
        else {
          await o.pool.add(raw);
          restored++;
        }
        break;
      } catch (err) {
        // Sent again meanwhile (the endpoint serves while this runs): the pool holds it, and journals it.
        if (err instanceof PoolError && err.code === 'TXPOOL_ALREADY_KNOWN') {
          restored++;
          break;
        }
        // A refusal is for good (the pool removes nothing it did not hold: the journal is told here).
        if (err instanceof PoolError) {
          drop(hash, err.code);
          break;
        }
        o.onRetry?.(err);
        await sleep(o.retryMs ?? 2_000, o.signal);
      }
    }
  }
  return { restored, dropped };
}

/** The nonce, for the order of restoring; an undecodable entry sorts first and is refused by the pool. */
function nonceOf(raw: Uint8Array, common: Common): bigint {
  try {
    return createTxFromRLP(raw, { common }).nonce;
  } catch {
    return -1n;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
