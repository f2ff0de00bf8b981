/**
 * The client node's transaction pool, with Ethereum semantics (go-ethereum's legacypool, where it
 * matters to wallets, libraries and to the node's memory): a transaction is checked as the
 * replicas will check it before it is accepted; one with a future nonce waits (queued) until the
 * gap before it fills; a burst of consecutive nonces from one sender, sent concurrently, all land;
 * `pendingNonce` counts waiting ones; a known transaction is refused as "already known"; replacing
 * one needs a fee higher by `priceBumpPercent` on both the fee cap and the tip, and only while it
 * has not been handed to consensus.
 *
 * What bounds it (`txpool-limits.ts`): pending transactions (consecutive nonces from the sender's
 * committed one) per sender and in total, with a few slots per sender guaranteed; queued ones per
 * sender (lower nonces kept first) and in total (the sender idle longest gives way), each sender's
 * dropped after a lifetime without progress; a nonce at most `maxNonceGap` above the sender's next
 * pending one; a sender's transactions together costing no more than its balance; and pending
 * transactions at most `maxWaitSeconds` of the rate at which this pool's transactions are being
 * included (a sender with none pending is still taken, so a flood from some does not lock others out).
 */
import type { Common } from '@ethereumjs/common';
import type { TypedTransaction } from '@ethereumjs/tx';
import { bytesToHex } from '../crypto/index.ts';
import type { ChainConfig } from '../execution/chain-config.ts';
import { TxRejection, decodeAndCheck } from '../execution/validation.ts';
import type { DecodedTxs } from '../execution/decoded-txs.ts';
import { TurnBudget } from './turn-budget.ts';
import { DEFAULT_POOL_LIMITS, DrainRate, PoolError, REJECTION_WORDING, refusals, type EvictionReason, type PoolErrorCode, type PoolLimits } from './txpool-limits.ts';

export { DEFAULT_POOL_LIMITS, PoolError, type PoolErrorCode, type PoolLimits } from './txpool-limits.ts';

/** The committed state the pool checks against (the client node's verified mirror in production). */
export interface AccountView {
  nonce(address: string): Promise<bigint>;
  balance(address: string): Promise<bigint>;
}

export interface PoolTx {
  readonly hash: string;
  readonly raw: Uint8Array;
  readonly tx: TypedTransaction;
  readonly sender: string;
  readonly nonce: bigint;
  readonly feeCap: bigint;
  readonly tip: bigint;
  /** gas limit × fee cap + value: what the sender must hold. */
  readonly cost: bigint;
  inFlight: boolean;
}

interface Account {
  readonly sender: string;
  /** The committed nonce: as last read, or one above the sender's last transaction seen included. */
  base: bigint;
  /**
   * The balance as last read, less the most each of the sender's transactions included since
   * could have cost: a lower bound unless another client node spends from the same account.
   */
  funds?: bigint;
  readonly byNonce: Map<bigint, PoolTx>;
  /** The first nonce from `base` up the pool lacks: transactions below it are pending, above it queued. */
  end: bigint;
  pending: number;
  queued: number;
  /**
   * When the sender last made progress (a transaction became pending or was included), or its
   * first queued transaction came: its queued transactions live `lifetimeMs` from there.
   */
  beat: number;
}

/**
 * Where the pool's content is kept across restarts (`txpool-journal.ts`): told of every
 * transaction that enters the pool and of every one that leaves it, however it leaves.
 */
export interface PoolJournal {
  added(t: PoolTx): void;
  removed(hash: string): void;
  /** Resolves once what was added so far is durable (or could not be made so, and was reported). */
  written(): Promise<void>;
}

/** Senders with nothing in the pool are remembered (their nonce and funds) up to this many. */
const MAX_IDLE_ACCOUNTS = 10_000;

export class TxPool {
  readonly #config: ChainConfig;
  readonly #common: Common;
  readonly #state: AccountView;
  readonly #limits: PoolLimits;
  readonly #now: () => number;
  readonly #journal: PoolJournal | undefined;
  readonly #decoded: DecodedTxs | undefined;
  readonly #turns = new TurnBudget();
  readonly #accounts = new Map<string, Account>();
  readonly #byHash = new Map<string, PoolTx>();
  /** Senders with queued transactions (where the queue's evictions look). */
  readonly #queuedSenders = new Set<string>();
  #pending = 0;
  #queued = 0;
  /** Hashes ordered in the last few seconds, which the mirror may not have received yet. */
  readonly #recent = new Map<string, number>();
  /** Transactions dropped without being ordered, by why. */
  readonly evicted: Record<EvictionReason, number> = { lifetime: 0, account_queue: 0, global_queue: 0, global_pending: 0 };
  /** Transactions refused, by the refusal's code (`bulwark_txpool_refused_total`). */
  readonly refused: Partial<Record<PoolErrorCode, number>> = {};
  /** How fast this pool's transactions are being included (the bound in time). */
  readonly #drain = new DrainRate();

  /** `decoded`: where each admitted transaction is left for the local state's executor, decoded. */
  constructor(o: { config: ChainConfig; common: Common; state: AccountView; limits?: Partial<PoolLimits>; now?: () => number; journal?: PoolJournal; decoded?: DecodedTxs }) {
    this.#config = o.config;
    this.#common = o.common;
    this.#state = o.state;
    this.#limits = { ...DEFAULT_POOL_LIMITS, ...o.limits };
    this.#now = o.now ?? Date.now;
    this.#journal = o.journal;
    this.#decoded = o.decoded;
  }

  get limits(): PoolLimits {
    return this.#limits;
  }

  get size(): number {
    return this.#byHash.size;
  }

  has(hash: string): boolean {
    return this.#byHash.has(hash);
  }

  /** Waiting, in flight, or ordered in the last 10 s (so a receipt is worth waiting for). */
  landing(hash: string): boolean {
    const h = hash.toLowerCase();
    if (this.#byHash.has(h)) return true;
    const at = this.#recent.get(h);
    return at !== undefined && Date.now() - at < 10_000;
  }

  /** Transactions on their way into a block: handed to consensus, or ready to be (no nonce gap before them). */
  landingHashes(): string[] {
    const out: string[] = [];
    for (const a of this.#accounts.values()) for (let n = a.base; n < a.end; n++) out.push(a.byNonce.get(n)!.hash);
    return out;
  }

  /** A transaction waiting or in flight, by hash (eth_getTransactionByHash before inclusion). */
  get(hash: string): PoolTx | undefined {
    return this.#byHash.get(hash.toLowerCase());
  }

  /** Checks and admits a raw transaction; resolves to its hash or rejects with a `PoolError` (counted by code). */
  async add(raw: Uint8Array): Promise<string> {
    try {
      return await this.#add(raw);
    } catch (e) {
      if (e instanceof PoolError) this.refused[e.code] = (this.refused[e.code] ?? 0) + 1;
      throw e;
    }
  }

  /**
   * How many pending transactions the pool takes now: `maxWaitSeconds` of the measured inclusion
   * rate, within `waitFloor` … `globalPending` (`globalPending` when there is no bound in time).
   */
  pendingBound(): number {
    const { maxWaitSeconds, waitFloor, globalPending } = this.#limits;
    if (maxWaitSeconds <= 0) return globalPending;
    return Math.min(globalPending, Math.max(waitFloor, Math.ceil(this.#drain.perSecond(this.#now()) * maxWaitSeconds)));
  }

  /** The rate (transactions/s) at which this pool's transactions were included over the last 20 whole seconds. */
  drainRate(): number {
    return this.#drain.perSecond(this.#now());
  }

  async #add(raw: Uint8Array): Promise<string> {
    // Recovering the sender is the costly step: a big batch of them leaves room for other callers.
    await this.#turns.take();
    const entry = this.#decode(raw);
    const { hash, sender } = entry;
    const gap = BigInt(this.#limits.maxNonceGap);
    const knew = this.#accounts.get(sender);
    let nonce: bigint;
    let balance: bigint | undefined;
    if (knew?.funds !== undefined && entry.nonce >= knew.base && entry.nonce <= knew.end + gap && knew.funds >= this.#costFrom(knew, knew.base, entry)) {
      // What the pool already knows of this sender admits the transaction without asking the
      // replicas (a refusal is never decided this way: it is always read first).
      nonce = knew.base;
    } else {
      const [read, funds] = await Promise.all([this.#state.nonce(sender), this.#state.balance(sender)]);
      // Other adds ran while the state was read: every check below looks at the pool as it is now.
      if (this.#byHash.has(hash)) throw new PoolError('TXPOOL_ALREADY_KNOWN', 'already known', { hash });
      const known = this.#accounts.get(sender);
      // The state read may predate a block whose result this pool has already seen.
      nonce = known !== undefined && known.base > read ? known.base : read;
      balance = funds;
      // The gap is measured from the sender's next pending nonce: a burst of consecutive nonces
      // fits whatever its length (up to `accountPending`).
      let end = nonce;
      while (known?.byNonce.has(end) === true) end++;
      if (entry.nonce < nonce) throw new PoolError('TXPOOL_NONCE_TOO_LOW', 'nonce too low', { next: nonce.toString(), got: entry.nonce.toString() });
      if (entry.nonce > end + gap) throw new PoolError('TXPOOL_NONCE_TOO_HIGH', 'nonce too high', { next: end.toString(), got: entry.nonce.toString() });
      // As go-ethereum: the balance covers this transaction and every other of the sender's in the pool.
      const need = known === undefined ? entry.cost : this.#costFrom(known, nonce, entry);
      if (funds < need) throw refusals.funds(sender, funds, need - entry.cost, entry.cost);
    }
    const account = this.#account(sender, nonce);
    if (balance !== undefined) account.funds = balance;
    this.#admit(account, entry);
    this.#decoded?.remember(hash, raw, entry.tx);
    // The hash is answered only once the transaction is journaled: a restart does not lose it.
    await this.#journal?.written();
    return hash;
  }

  #decode(raw: Uint8Array): PoolTx {
    let tx: TypedTransaction;
    try {
      tx = decodeAndCheck(raw, this.#config, this.#common, this.#config.blockGasLimit);
    } catch (e) {
      if (e instanceof TxRejection) throw new PoolError('TXPOOL_INVALID', REJECTION_WORDING[e.reason] ?? e.message, { reason: e.reason });
      throw e;
    }
    const hash = `0x${bytesToHex(tx.hash())}`;
    if (this.#byHash.has(hash)) throw new PoolError('TXPOOL_ALREADY_KNOWN', 'already known', { hash });
    const sender = tx.getSenderAddress().toString();
    const feeCap = 'maxFeePerGas' in tx ? tx.maxFeePerGas : tx.gasPrice;
    const tip = 'maxPriorityFeePerGas' in tx ? tx.maxPriorityFeePerGas : tx.gasPrice;
    return { hash, raw, tx, sender, nonce: tx.nonce, feeCap, tip, cost: tx.gasLimit * feeCap + tx.value, inFlight: false };
  }

  /** What the sender's transactions from nonce `from` up would cost with `entry` added (or replacing its nonce's). */
  #costFrom(a: Account, from: bigint, entry: PoolTx): bigint {
    let total = entry.cost;
    for (const [n, t] of a.byNonce) if (n >= from && n !== entry.nonce) total += t.cost;
    return total;
  }

  /** Puts a checked transaction in the pool within the limits, evicting what gives way to it. */
  #admit(a: Account, entry: PoolTx): void {
    const prior = a.byNonce.get(entry.nonce);
    if (prior !== undefined) {
      this.#checkReplacement(prior, entry);
      this.#byHash.delete(prior.hash);
      this.#journal?.removed(prior.hash);
    } else if (entry.nonce === a.end) {
      if (a.pending >= this.#limits.accountPending) throw refusals.accountPending(this.#limits.accountPending, a.sender);
      // The bound in time refuses without evicting: what was accepted stays accepted.
      if (a.pending > 0 && this.#pending >= this.pendingBound() && this.#pending < this.#limits.globalPending) {
        throw refusals.wait(this.#pending, this.#limits.maxWaitSeconds, this.drainRate());
      }
      if (this.#pending >= this.#limits.globalPending && !(a.pending < this.#limits.accountSlots && this.#evictPending(a.sender))) {
        throw refusals.globalPending(this.#limits.globalPending);
      }
      a.beat = this.#now();
    } else {
      if (a.queued >= this.#limits.accountQueue) {
        // As go-ethereum's queue cap: the lowest nonces are kept, they are the first to become executable.
        const highest = this.#highestQueued(a);
        if (highest === undefined || highest.nonce < entry.nonce) throw refusals.accountQueue(this.#limits.accountQueue, a.sender);
        this.#evict(a, highest, 'account_queue');
      } else if (this.#queued >= this.#limits.globalQueue && !this.#evictQueued(a.sender)) {
        throw refusals.globalQueue(this.#limits.globalQueue);
      }
      if (a.queued === 0) a.beat = this.#now();
    }
    a.byNonce.set(entry.nonce, entry);
    this.#byHash.set(entry.hash, entry);
    this.#journal?.added(entry);
    this.#recount(a);
  }

  #checkReplacement(prior: PoolTx, next: PoolTx): void {
    if (prior.inFlight) {
      throw new PoolError('TXPOOL_REPLACING_IN_FLIGHT', 'replacement transaction underpriced: the original is already being ordered', {
        hash: prior.hash,
      });
    }
    const bump = (v: bigint) => v + (v * BigInt(this.#limits.priceBumpPercent)) / 100n;
    if (next.feeCap < bump(prior.feeCap) || next.tip < bump(prior.tip) || (next.feeCap === prior.feeCap && next.tip === prior.tip)) {
      throw new PoolError('TXPOOL_UNDERPRICED_REPLACEMENT', 'replacement transaction underpriced', { hash: prior.hash });
    }
  }

  /** The pool is full of pending transactions: the last of the sender with the most beyond its guaranteed slots gives way. */
  #evictPending(except: string): boolean {
    let victim: Account | undefined;
    for (const a of this.#accounts.values()) {
      if (a.sender !== except && a.pending > this.#limits.accountSlots && (victim === undefined || a.pending > victim.pending)) victim = a;
    }
    const last = victim?.byNonce.get(victim.end - 1n);
    if (victim === undefined || last === undefined || last.inFlight || last.nonce < victim.base) return false;
    this.#evict(victim, last, 'global_pending');
    return true;
  }

  /** The queue is full: the highest queued transaction of the sender idle longest gives way (go-ethereum's `truncateQueue`). */
  #evictQueued(except: string): boolean {
    let victim: Account | undefined;
    for (const s of this.#queuedSenders) {
      const a = this.#accounts.get(s)!;
      if (s !== except && (victim === undefined || a.beat < victim.beat)) victim = a;
    }
    const highest = victim === undefined ? undefined : this.#highestQueued(victim);
    if (victim === undefined || highest === undefined) return false;
    this.#evict(victim, highest, 'global_queue');
    return true;
  }

  #highestQueued(a: Account): PoolTx | undefined {
    let top: PoolTx | undefined;
    for (const [n, t] of a.byNonce) if (n > a.end && (top === undefined || n > top.nonce)) top = t;
    return top;
  }

  #evict(a: Account, t: PoolTx, why: EvictionReason): void {
    this.#drop(a, t);
    this.evicted[why]++;
    this.#recount(a);
  }

  #drop(a: Account, t: PoolTx): void {
    a.byNonce.delete(t.nonce);
    this.#byHash.delete(t.hash);
    this.#journal?.removed(t.hash);
  }

  /** After a sender's transactions or committed nonce changed: its pending and queued counts, and the totals. */
  #recount(a: Account): void {
    let end = a.base;
    while (a.byNonce.has(end)) end++;
    let queued = 0;
    for (const n of a.byNonce.keys()) if (n > end) queued++;
    const pending = a.byNonce.size - queued;
    this.#pending += pending - a.pending;
    this.#queued += queued - a.queued;
    a.end = end;
    a.pending = pending;
    a.queued = queued;
    if (queued > 0) this.#queuedSenders.add(a.sender);
    else this.#queuedSenders.delete(a.sender);
  }

  #account(sender: string, nonce: bigint): Account {
    let a = this.#accounts.get(sender);
    if (a === undefined) {
      a = { sender, base: nonce, byNonce: new Map(), end: nonce, pending: 0, queued: 0, beat: this.#now() };
      this.#accounts.set(sender, a);
    } else if (nonce > a.base) {
      // The sender's nonce moved on without this pool (another client node): what is below it
      // can never be included.
      a.base = nonce;
      for (const [n, t] of a.byNonce) if (n < nonce && !t.inFlight) this.#drop(a, t);
      this.#recount(a);
    }
    return a;
  }

  /**
   * Drops queued transactions of senders that made no progress for `lifetimeMs`, and forgets idle
   * senders beyond `MAX_IDLE_ACCOUNTS` (called every second). Returns how many were dropped.
   */
  expire(): number {
    const now = this.#now();
    let dropped = 0;
    for (const s of [...this.#queuedSenders]) {
      const a = this.#accounts.get(s)!;
      if (now - a.beat <= this.#limits.lifetimeMs) continue;
      for (const [n, t] of a.byNonce) {
        if (n <= a.end) continue;
        this.#drop(a, t);
        dropped++;
      }
      this.#recount(a);
    }
    this.evicted.lifetime += dropped;
    this.#forgetIdle();
    return dropped;
  }

  #forgetIdle(): void {
    if (this.#accounts.size > MAX_IDLE_ACCOUNTS) for (const [sender, a] of this.#accounts) if (a.byNonce.size === 0) this.#accounts.delete(sender);
  }

  /**
   * Transactions ready for ordering, marked in flight: per sender, consecutive nonces from the
   * committed one (a gap holds everything after it back), senders taken in turn.
   */
  takeReady(max: number, maxGas = Infinity): PoolTx[] {
    const out: PoolTx[] = [];
    let gas = 0;
    const lanes: PoolTx[][] = [];
    for (const a of this.#accounts.values()) {
      const lane: PoolTx[] = [];
      for (let n = a.base; n < a.end; n++) {
        const t = a.byNonce.get(n)!;
        if (!t.inFlight) lane.push(t);
      }
      if (lane.length > 0) lanes.push(lane);
    }
    const closed = new Set<PoolTx[]>();
    for (let i = 0; out.length < max; i++) {
      let took = false;
      for (const lane of lanes) {
        const t = lane[i];
        if (t === undefined || out.length >= max || closed.has(lane)) continue;
        // What would not fit in one block waits for the next request, and so does the rest of its lane.
        if (gas + Number(t.tx.gasLimit) > maxGas && out.length > 0) {
          closed.add(lane);
          continue;
        }
        gas += Number(t.tx.gasLimit);
        out.push(t);
        took = true;
      }
      if (!took) break;
    }
    // Each lane is in nonce order and taken front to back, so each sender's transactions stay in
    // nonce order in `out`, as the block must have them.
    for (const t of out) t.inFlight = true;
    return out;
  }

  /** The nonce `eth_getTransactionCount(addr, "pending")` reports: committed plus consecutive waiting ones. */
  async pendingNonce(address: string): Promise<bigint> {
    const sender = address.toLowerCase();
    const committed = await this.#state.nonce(sender);
    const a = this.#accounts.get(sender);
    let n = a !== undefined && a.base > committed ? a.base : committed;
    while (a?.byNonce.has(n)) n++;
    return n;
  }

  /**
   * After a request's result: drops what was ordered, included or refused for good, and
   * everything below the senders' new committed nonces. An included transaction tells its sender's
   * next nonce; a sender with a refused one has its nonce read again. A transaction refused only
   * because its block was full goes back to wait for the next one, and so do the sender's later
   * transactions in the same request (refused for the gap it left): nothing accepted is lost to a
   * full block.
   */
  async settle(ordered: readonly { readonly hash: string; readonly included: boolean; readonly reason?: string }[]): Promise<void> {
    const now = Date.now();
    if (this.#recent.size > 50_000) for (const [h, at] of this.#recent) if (now - at >= 10_000) this.#recent.delete(h);
    const touched = new Set<string>();
    const reread = new Set<string>();
    const deferred = new Set<string>();
    let includedHere = 0;
    for (const { hash, included, reason } of ordered) {
      const t = this.#byHash.get(hash);
      if (t === undefined) {
        this.#recent.set(hash, now);
        continue;
      }
      if (!included && (reason === 'TX_BLOCK_GAS_EXHAUSTED' || deferred.has(t.sender) || (reason === 'TX_NONCE_TOO_HIGH' && this.#waitsBehind(t)))) {
        deferred.add(t.sender);
        t.inFlight = false;
        continue;
      }
      this.#recent.set(hash, now);
      this.#byHash.delete(hash);
      this.#journal?.removed(hash);
      const a = this.#accounts.get(t.sender);
      if (a === undefined) continue;
      a.byNonce.delete(t.nonce);
      touched.add(t.sender);
      if (!included) reread.add(t.sender);
      else {
        includedHere++;
        if (t.nonce + 1n > a.base) a.base = t.nonce + 1n;
        if (a.funds !== undefined) a.funds -= t.cost;
        a.beat = this.#now();
      }
    }
    if (includedHere > 0) this.#drain.record(includedHere, this.#now());
    // Adds may run while nonces are read: they see the counts as they are now.
    for (const sender of touched) this.#recount(this.#accounts.get(sender)!);
    await Promise.all(
      [...reread].map(async (sender) => {
        const nonce = await this.#state.nonce(sender);
        const a = this.#accounts.get(sender);
        if (a !== undefined && nonce > a.base) a.base = nonce;
      }),
    );
    for (const sender of touched) {
      const a = this.#accounts.get(sender);
      if (a === undefined) continue;
      for (const [n, t] of a.byNonce) if (n < a.base) this.#drop(a, t);
      this.#recount(a);
    }
    this.#forgetIdle();
  }

  /** Whether a transaction of the same sender with a lower nonce is still in the pool. */
  #waitsBehind(t: PoolTx): boolean {
    const a = this.#accounts.get(t.sender);
    if (a === undefined) return false;
    for (const n of a.byNonce.keys()) if (n < t.nonce) return true;
    return false;
  }

  /** A request that could not be ordered (timeout): its transactions become ready again. */
  release(hashes: readonly string[]): void {
    for (const h of hashes) {
      const t = this.#byHash.get(h);
      if (t !== undefined) t.inFlight = false;
    }
  }

  /**
   * For `txpool_content`: per sender, in nonce order, the transactions `status()` counts as pending
   * (ready or in flight: below the sender's first missing nonce) and as queued (the rest).
   * Senders with nothing in a group are left out of it.
   */
  content(): { pending: Map<string, PoolTx[]>; queued: Map<string, PoolTx[]> } {
    const pending = new Map<string, PoolTx[]>();
    const queued = new Map<string, PoolTx[]>();
    for (const [sender, a] of this.#accounts) {
      const txs = [...a.byNonce.values()].sort((x, y) => (x.nonce < y.nonce ? -1 : 1));
      const ready = txs.filter((t) => t.nonce < a.end);
      const waiting = txs.filter((t) => t.nonce > a.end);
      if (ready.length > 0) pending.set(sender, ready);
      if (waiting.length > 0) queued.set(sender, waiting);
    }
    return { pending, queued };
  }

  /** For `txpool_status`: ready-or-in-flight versus waiting behind a gap. */
  status(): { pending: number; queued: number } {
    return { pending: this.#pending, queued: this.#queued };
  }
}
