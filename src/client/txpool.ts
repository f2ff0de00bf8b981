/**
 * The client node's transaction pool, with Ethereum semantics (go-ethereum's, where it matters to
 * wallets and libraries): a transaction is checked as the replicas will check it before it is
 * accepted; one with a future nonce waits until the gap before it fills; a burst of consecutive
 * nonces from one sender, sent concurrently, all land; `pendingNonce` counts waiting ones; a known
 * transaction is refused as "already known"; replacing one needs a fee higher by `priceBumpPercent`
 * on both the fee cap and the tip, and only while it has not been handed to consensus. Refusals
 * carry go-ethereum's wording, which JSON-RPC returns as error -32000.
 */
import type { Common } from '@ethereumjs/common';
import type { TypedTransaction } from '@ethereumjs/tx';
import { BulwarkError } from '../common/errors.ts';
import { bytesToHex } from '../crypto/index.ts';
import type { ChainConfig } from '../execution/chain-config.ts';
import { TxRejection, decodeAndCheck, type RejectReason } from '../execution/validation.ts';

/** The committed state the pool checks against (the client node's verified mirror in production). */
export interface AccountView {
  nonce(address: string): Promise<bigint>;
  balance(address: string): Promise<bigint>;
}

export interface PoolLimits {
  /** Transactions one sender may have in the pool, ready, waiting and in flight together. */
  readonly perSender: number;
  readonly total: number;
  /** How far above the next nonce a transaction may wait for the gap to fill. */
  readonly maxNonceGap: number;
  readonly priceBumpPercent: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = { perSender: 256, total: 16_384, maxNonceGap: 64, priceBumpPercent: 10 };

export type PoolErrorCode =
  | 'TXPOOL_ALREADY_KNOWN'
  | 'TXPOOL_NONCE_TOO_LOW'
  | 'TXPOOL_NONCE_TOO_HIGH'
  | 'TXPOOL_INSUFFICIENT_FUNDS'
  | 'TXPOOL_UNDERPRICED_REPLACEMENT'
  | 'TXPOOL_REPLACING_IN_FLIGHT'
  | 'TXPOOL_FULL'
  | 'TXPOOL_INVALID';

/** A refusal: `message` is what JSON-RPC returns (code -32000). */
export class PoolError extends BulwarkError<PoolErrorCode> {}

const REJECTION_WORDING: Partial<Record<RejectReason, string>> = {
  TX_OVERSIZED: 'oversized data',
  TX_MALFORMED: 'rlp: invalid transaction encoding',
  TX_UNSUPPORTED_TYPE: 'transaction type not supported',
  TX_UNPROTECTED: 'only replay-protected (EIP-155) transactions allowed over RPC',
  TX_WRONG_CHAIN: 'invalid chain id for signer',
  TX_BAD_SIGNATURE: 'invalid sender',
  TX_INTRINSIC_GAS_TOO_LOW: 'intrinsic gas too low',
  TX_GAS_ABOVE_BLOCK_LIMIT: 'exceeds block gas limit',
};

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
  /** The committed nonce: as last read, or one above the sender's last transaction seen included. */
  base: bigint;
  /**
   * The balance as last read, less the most each of the sender's transactions included since
   * could have cost: a lower bound unless another client node spends from the same account.
   */
  funds?: bigint;
  readonly byNonce: Map<bigint, PoolTx>;
}

/** Senders with nothing in the pool are remembered (their nonce and funds) up to this many. */
const MAX_IDLE_ACCOUNTS = 10_000;

export class TxPool {
  readonly #config: ChainConfig;
  readonly #common: Common;
  readonly #state: AccountView;
  readonly #limits: PoolLimits;
  readonly #accounts = new Map<string, Account>();
  readonly #byHash = new Map<string, PoolTx>();
  /** Hashes ordered in the last few seconds, which the mirror may not have received yet. */
  readonly #recent = new Map<string, number>();

  constructor(o: { config: ChainConfig; common: Common; state: AccountView; limits?: Partial<PoolLimits> }) {
    this.#config = o.config;
    this.#common = o.common;
    this.#state = o.state;
    this.#limits = { ...DEFAULT_POOL_LIMITS, ...o.limits };
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
    for (const a of this.#accounts.values()) for (let n = a.base; ; n++) {
      const t = a.byNonce.get(n);
      if (t === undefined) break;
      out.push(t.hash);
    }
    return out;
  }

  /** A transaction waiting or in flight, by hash (eth_getTransactionByHash before inclusion). */
  get(hash: string): PoolTx | undefined {
    return this.#byHash.get(hash.toLowerCase());
  }

  /** Checks and admits a raw transaction; resolves to its hash or rejects with a `PoolError`. */
  async add(raw: Uint8Array): Promise<string> {
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
    const entry: PoolTx = { hash, raw, tx, sender, nonce: tx.nonce, feeCap, tip, cost: tx.gasLimit * feeCap + tx.value, inFlight: false };
    const gap = BigInt(this.#limits.maxNonceGap);
    const knew = this.#accounts.get(sender);
    let nonce: bigint;
    let balance: bigint | undefined;
    if (knew?.funds !== undefined && entry.nonce >= knew.base && entry.nonce <= knew.base + gap && knew.funds >= entry.cost) {
      // What the pool already knows of this sender admits the transaction without asking the
      // replicas (a refusal is never decided this way: it is always read first).
      nonce = knew.base;
    } else {
      const [read, funds] = await Promise.all([this.#state.nonce(sender), this.#state.balance(sender)]);
      // Other adds ran while the state was read: every check below looks at the pool as it is now.
      if (this.#byHash.has(hash)) throw new PoolError('TXPOOL_ALREADY_KNOWN', 'already known', { hash });
      // The state read may predate a block whose result this pool has already seen.
      const known = this.#accounts.get(sender)?.base ?? 0n;
      nonce = read > known ? read : known;
      balance = funds;
      if (entry.nonce < nonce) throw new PoolError('TXPOOL_NONCE_TOO_LOW', 'nonce too low', { next: nonce.toString(), got: entry.nonce.toString() });
      if (entry.nonce > nonce + gap) throw new PoolError('TXPOOL_NONCE_TOO_HIGH', 'nonce too high', { next: nonce.toString(), got: entry.nonce.toString() });
      if (funds < entry.cost) throw new PoolError('TXPOOL_INSUFFICIENT_FUNDS', 'insufficient funds for gas * price + value', { sender });
    }
    const account = this.#account(sender, nonce);
    if (balance !== undefined) account.funds = balance;
    const prior = account.byNonce.get(entry.nonce);
    if (prior !== undefined) {
      this.#checkReplacement(prior, entry);
    } else if (account.byNonce.size >= this.#limits.perSender || this.#byHash.size >= this.#limits.total) {
      throw new PoolError('TXPOOL_FULL', 'txpool is full', { sender });
    }
    if (prior !== undefined) this.#byHash.delete(prior.hash);
    account.byNonce.set(entry.nonce, entry);
    this.#byHash.set(hash, entry);
    return hash;
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

  #account(sender: string, nonce: bigint): Account {
    let a = this.#accounts.get(sender);
    if (a === undefined) this.#accounts.set(sender, (a = { base: nonce, byNonce: new Map() }));
    else if (nonce > a.base) {
      // The sender's nonce moved on without this pool (another client node): what is below it
      // can never be included.
      a.base = nonce;
      for (const [n, t] of a.byNonce) {
        if (n < nonce && !t.inFlight) {
          a.byNonce.delete(n);
          this.#byHash.delete(t.hash);
        }
      }
    }
    return a;
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
      for (let n = a.base; ; n++) {
        const t = a.byNonce.get(n);
        if (t === undefined) break;
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
      const a = this.#accounts.get(t.sender);
      if (a === undefined) continue;
      a.byNonce.delete(t.nonce);
      touched.add(t.sender);
      if (!included) reread.add(t.sender);
      else {
        if (t.nonce + 1n > a.base) a.base = t.nonce + 1n;
        if (a.funds !== undefined) a.funds -= t.cost;
      }
    }
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
      for (const [n, t] of a.byNonce) {
        if (n < a.base) {
          a.byNonce.delete(n);
          this.#byHash.delete(t.hash);
        }
      }
    }
    if (this.#accounts.size > MAX_IDLE_ACCOUNTS) for (const [sender, a] of this.#accounts) if (a.byNonce.size === 0) this.#accounts.delete(sender);
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
   * (ready or in flight: consecutive nonces from the committed one) and as queued (the rest).
   * Senders with nothing in a group are left out of it.
   */
  content(): { pending: Map<string, PoolTx[]>; queued: Map<string, PoolTx[]> } {
    const pending = new Map<string, PoolTx[]>();
    const queued = new Map<string, PoolTx[]>();
    for (const [sender, a] of this.#accounts) {
      let n = a.base;
      while (a.byNonce.has(n)) n++;
      const txs = [...a.byNonce.values()].sort((x, y) => (x.nonce < y.nonce ? -1 : 1));
      const ready = txs.filter((t) => t.nonce >= a.base && t.nonce < n);
      const waiting = txs.filter((t) => t.nonce < a.base || t.nonce >= n);
      if (ready.length > 0) pending.set(sender, ready);
      if (waiting.length > 0) queued.set(sender, waiting);
    }
    return { pending, queued };
  }

  /** For `txpool_status`: ready-or-in-flight versus waiting behind a gap. */
  status(): { pending: number; queued: number } {
    let pending = 0;
    for (const a of this.#accounts.values()) for (let n = a.base; a.byNonce.has(n); n++) pending++;
    return { pending, queued: this.#byHash.size - pending };
  }
}
