/**
 * `eth_subscribe` / `eth_unsubscribe` over WebSocket, as go-ethereum offers them: `newHeads` (each
 * block the mirror stores, as a header), `logs` (with a filter object: address and topics) and
 * `newPendingTransactions` (hashes the pool accepted). Notifications go out as
 * `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":id,"result":…}}`.
 * Subscriptions belong to their connection and end with it; a connection may hold at most
 * `MAX_SUBSCRIPTIONS_PER_CONNECTION`.
 */
import type { Block } from '@ethereumjs/block';
import { logMatches, type ChainReader, type MatchedLog } from '../../execution/reader.ts';
import { RPC_CODES, RpcError, invalidParams } from '../errors.ts';
import { formatBlock, rpcId } from '../format.ts';
import { method, type CallContext, type Connection, type MethodDef } from '../method.ts';
import type { Param } from '../params.ts';
import { filterQuery, formatLog, type FilterQuery } from './eth-logs.ts';

export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;

type Subscription =
  | { readonly kind: 'newHeads'; readonly connection: Connection }
  | { readonly kind: 'logs'; readonly connection: Connection; readonly filter: FilterQuery }
  | { readonly kind: 'newPendingTransactions'; readonly connection: Connection };

type Request = { kind: 'newHeads' | 'newPendingTransactions' } | { kind: 'logs'; filter: FilterQuery };

const kindParam: Param<string> = (v, i) => {
  if (v !== 'newHeads' && v !== 'logs' && v !== 'newPendingTransactions') {
    throw invalidParams(i, `unsupported subscription type ${JSON.stringify(v)}: newHeads, logs or newPendingTransactions`);
  }
  return v;
};

/** A block header as `newHeads` sends it: the block's fields without its transactions. */
function headOf(block: Block): Record<string, unknown> {
  const { transactions: _t, uncles: _u, size: _s, totalDifficulty: _d, withdrawals: _w, ...head } = formatBlock(block, false);
  return head;
}

export class SubscriptionHub {
  readonly #subs = new Map<string, Subscription>();
  readonly #reader: ChainReader;
  /** Blocks are announced one at a time, in order. */
  #announcing: Promise<void> = Promise.resolve();

  constructor(reader: ChainReader) {
    this.#reader = reader;
  }

  get size(): number {
    return this.#subs.size;
  }

  /** The mirror stored block `number`: newHeads and logs subscribers hear of it. */
  onBlock(number: bigint): void {
    if (![...this.#subs.values()].some((s) => s.kind !== 'newPendingTransactions')) return;
    this.#announcing = this.#announcing.then(() => this.#announce(number)).catch(() => undefined);
  }

  /** The pool accepted a transaction. */
  onPending(hash: string): void {
    for (const [id, s] of this.#subs) if (s.kind === 'newPendingTransactions') this.#notify(id, s, hash);
  }

  async #announce(number: bigint): Promise<void> {
    const block = await this.#reader.block(number);
    const head = headOf(block);
    // The block's logs are read once, and each subscription's filter applied to them in memory.
    let logs: MatchedLog[] | undefined;
    for (const [id, s] of this.#subs) {
      if (s.kind === 'newHeads') this.#notify(id, s, head);
      else if (s.kind === 'logs') {
        logs ??= await this.#reader.logs({ fromBlock: number, toBlock: number });
        for (const l of logs) if (logMatches(l.log, s.filter)) this.#notify(id, s, formatLog(l));
      }
    }
  }

  #notify(id: string, s: Subscription, result: unknown): void {
    s.connection.push({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription: id, result } });
  }

  #subscribe(ctx: CallContext, r: Request): string {
    const connection = ctx.connection;
    if (ctx.transport !== 'ws' || connection === undefined) throw new RpcError(RPC_CODES.methodNotFound, 'notifications not supported');
    let mine = 0;
    for (const s of this.#subs.values()) if (s.connection === connection) mine++;
    if (mine >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      throw new RpcError(RPC_CODES.limitExceeded, `too many subscriptions on this connection (at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION})`);
    }
    const id = rpcId();
    this.#subs.set(id, r.kind === 'logs' ? { kind: 'logs', connection, filter: r.filter } : { kind: r.kind, connection });
    if (mine === 0) connection.onClose(() => this.#dropConnection(connection));
    return id;
  }

  #dropConnection(connection: Connection): void {
    for (const [id, s] of this.#subs) if (s.connection === connection) this.#subs.delete(id);
  }

  methods(): Map<string, MethodDef> {
    return new Map<string, MethodDef>([
      [
        'eth_subscribe',
        method([kindParam], [filterQuery], ([kind, filter], ctx) => {
          if (kind === 'logs') {
            const f = filter ?? { addresses: [], topics: [] };
            if (f.blockHash !== undefined || f.fromBlock !== undefined || f.toBlock !== undefined) {
              throw invalidParams(1, 'a logs subscription takes address and topics only');
            }
            return this.#subscribe(ctx, { kind, filter: f });
          }
          return this.#subscribe(ctx, { kind: kind as 'newHeads' | 'newPendingTransactions' });
        }),
      ],
      [
        'eth_unsubscribe',
        method([(v, i) => (typeof v === 'string' ? v.toLowerCase() : (() => { throw invalidParams(i, 'expected a subscription id'); })())], [], ([id], ctx) => {
          const s = this.#subs.get(id);
          if (s === undefined || s.connection !== ctx.connection) return false;
          return this.#subs.delete(id);
        }),
      ],
    ]);
  }
}
