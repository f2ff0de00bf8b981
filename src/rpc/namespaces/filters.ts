/**
 * Polling filters, as go-ethereum keeps them: `eth_newFilter` (logs), `eth_newBlockFilter`,
 * `eth_newPendingTransactionFilter`, polled with `eth_getFilterChanges` (what is new since the last
 * poll), `eth_getFilterLogs` (everything a log filter matches now) and removed with
 * `eth_uninstallFilter` — or on their own after `FILTER_TIMEOUT_MS` without a poll. Filters belong
 * to the node, not to a connection (HTTP clients poll over fresh connections); ids are random. Each
 * caller (its token with bearer tokens, else its address) may hold at most `maxPerCaller` of the
 * node's `MAX_FILTERS`, so no one caller can take them all.
 */
import { RPC_CODES, RpcError, invalidParams } from '../errors.ts';
import { hexD, rpcId } from '../format.ts';
import { method, type CallContext, type MethodDef } from '../method.ts';
import type { Param } from '../params.ts';
import { MAX_LOG_RANGE } from '../../execution/reader.ts';
import { filterQuery, formatLog, queryLogs, type EthLogsBackend, type FilterQuery } from './eth-logs.ts';

/** A filter not polled for this long is removed (go-ethereum: 5 minutes). */
export const FILTER_TIMEOUT_MS = 5 * 60_000;
/** Filters the node keeps at once; creating one more is refused. */
export const MAX_FILTERS = 10_000;
/** Filters one caller may hold at once, by default. */
export const MAX_FILTERS_PER_CALLER = 1_000;
/** Pending transaction hashes a filter holds between polls; the oldest give way. */
const MAX_PENDING_PER_FILTER = 10_000;

type FilterBody =
  | { kind: 'logs'; query: FilterQuery; next: bigint; polledAt: number }
  | { kind: 'blocks'; next: bigint; polledAt: number }
  | { kind: 'pending'; hashes: string[]; polledAt: number };

/** A filter and the caller holding it. */
type Filter = FilterBody & { readonly owner: string };

const filterId: Param<string> = (v, i) => {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(v)) throw invalidParams(i, 'expected a filter id');
  return v.toLowerCase();
};

export class FilterRegistry {
  readonly #filters = new Map<string, Filter>();
  /** Filters held, by caller. */
  readonly #owned = new Map<string, number>();
  readonly #b: EthLogsBackend;
  readonly #now: () => number;
  readonly #maxPerCaller: number;

  constructor(b: EthLogsBackend, now: () => number = Date.now, o: { readonly maxPerCaller?: number } = {}) {
    this.#b = b;
    this.#now = now;
    this.#maxPerCaller = o.maxPerCaller ?? MAX_FILTERS_PER_CALLER;
  }

  get size(): number {
    return this.#filters.size;
  }

  /** A transaction entered the pool: pending-transaction filters see its hash at their next poll. */
  notePending(hash: string): void {
    for (const f of this.#filters.values()) {
      if (f.kind !== 'pending') continue;
      f.hashes.push(hash);
      if (f.hashes.length > MAX_PENDING_PER_FILTER) f.hashes.shift();
    }
  }

  /** Removes filters nobody polled for `FILTER_TIMEOUT_MS`. */
  expire(): void {
    const now = this.#now();
    for (const [id, f] of this.#filters) if (now - f.polledAt > FILTER_TIMEOUT_MS) this.#remove(id);
  }

  #add(f: FilterBody, ctx: CallContext): string {
    this.expire();
    const owner = ctx.caller ?? 'local';
    const held = this.#owned.get(owner) ?? 0;
    if (held >= this.#maxPerCaller) {
      throw new RpcError(RPC_CODES.limitExceeded, `too many filters for ${owner} (at most ${this.#maxPerCaller} per caller, --rpc-max-filters-per-caller)`);
    }
    if (this.#filters.size >= MAX_FILTERS) throw new RpcError(RPC_CODES.limitExceeded, `too many filters (at most ${MAX_FILTERS})`);
    const id = rpcId();
    this.#filters.set(id, { ...f, owner });
    this.#owned.set(owner, held + 1);
    return id;
  }

  #remove(id: string): boolean {
    const f = this.#filters.get(id);
    if (f === undefined) return false;
    this.#filters.delete(id);
    const left = (this.#owned.get(f.owner) ?? 1) - 1;
    if (left > 0) this.#owned.set(f.owner, left);
    else this.#owned.delete(f.owner);
    return true;
  }

  #get(id: string): Filter {
    const f = this.#filters.get(id);
    if (f === undefined || this.#now() - f.polledAt > FILTER_TIMEOUT_MS) {
      this.#remove(id);
      throw new RpcError(RPC_CODES.server, 'filter not found');
    }
    f.polledAt = this.#now();
    return f;
  }

  #head(): bigint {
    return this.#b.head().header.number;
  }

  methods(): Map<string, MethodDef> {
    return new Map<string, MethodDef>([
      [
        'eth_newFilter',
        method([filterQuery], [], ([query], ctx) => {
          if (query.blockHash !== undefined) throw invalidParams(0, 'a filter cannot name a block hash');
          return this.#add({ kind: 'logs', query, next: this.#head() + 1n, polledAt: this.#now() }, ctx);
        }),
      ],
      ['eth_newBlockFilter', method([], [], (_a, ctx) => this.#add({ kind: 'blocks', next: this.#head() + 1n, polledAt: this.#now() }, ctx))],
      ['eth_newPendingTransactionFilter', method([], [], (_a, ctx) => this.#add({ kind: 'pending', hashes: [], polledAt: this.#now() }, ctx))],
      ['eth_uninstallFilter', method([filterId], [], ([id]) => this.#remove(id))],
      ['eth_getFilterChanges', method([filterId], [], ([id]) => this.#changes(this.#get(id)))],
      [
        'eth_getFilterLogs',
        method([filterId], [], async ([id]) => {
          const f = this.#get(id);
          if (f.kind !== 'logs') throw new RpcError(RPC_CODES.server, 'filter not found');
          return (await queryLogs(this.#b, f.query)).map(formatLog);
        }),
      ],
    ]);
  }

  async #changes(f: Filter): Promise<unknown[]> {
    if (f.kind === 'pending') return f.hashes.splice(0);
    const head = this.#head();
    if (f.kind === 'blocks') {
      const out: string[] = [];
      // At most one range's worth per poll; the rest comes with the next.
      const to = head < f.next + MAX_LOG_RANGE - 1n ? head : f.next + MAX_LOG_RANGE - 1n;
      for (let n = f.next; n <= to; n++) out.push(hexD((await this.#b.reader.block(n)).hash()));
      f.next = to + 1n;
      return out;
    }
    // New blocks since the last poll, within the filter's own bounds.
    const q = f.query;
    const upper = q.toBlock !== undefined && 'number' in q.toBlock && q.toBlock.number < head ? q.toBlock.number : head;
    const lower = q.fromBlock !== undefined && 'number' in q.fromBlock && q.fromBlock.number > f.next ? q.fromBlock.number : f.next;
    if (lower > upper) return [];
    const to = upper < lower + MAX_LOG_RANGE - 1n ? upper : lower + MAX_LOG_RANGE - 1n;
    const logs = await queryLogs(this.#b, { ...q, fromBlock: { number: lower }, toBlock: { number: to } });
    f.next = to + 1n;
    return logs.map(formatLog);
  }
}
