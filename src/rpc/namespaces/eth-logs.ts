/**
 * `eth_getLogs` over the client node's verified mirror, with go-ethereum's filter object
 * (`fromBlock`/`toBlock` or `blockHash`, `address` one or many, `topics` by position with null
 * wildcards and alternatives) and a cap on the block range a query may span. Filters and
 * subscriptions (#6) read logs the same way.
 */
import type { Block } from '@ethereumjs/block';
import { isBulwarkError } from '../../common/errors.ts';
import { MAX_LOG_RANGE, type ChainReader, type LogFilter, type MatchedLog } from '../../execution/reader.ts';
import { RPC_CODES, RpcError, invalidParams } from '../errors.ts';
import { hexD, hexQ } from '../format.ts';
import { method, type MethodDef } from '../method.ts';
import { address, hash32, quantity, type Param } from '../params.ts';
import { hexToBytes } from '../../crypto/hex.ts';

export interface EthLogsBackend {
  readonly reader: ChainReader;
  head(): Block;
}

/** A block bound of a filter: a number, or a tag resolved against the head when the query runs. */
type Bound = { readonly number: bigint } | { readonly tag: 'latest' | 'earliest' | 'pending' | 'safe' | 'finalized' };

/** A filter as given, before its tags are resolved. */
export interface FilterQuery {
  readonly fromBlock?: Bound;
  readonly toBlock?: Bound;
  readonly blockHash?: string;
  readonly addresses: readonly Uint8Array[];
  readonly topics: readonly (readonly Uint8Array[] | null)[];
}

/** go-ethereum allows four topic positions (LOG0–LOG4 carry at most four topics). */
const MAX_TOPICS = 4;
/** Addresses, and alternatives per topic position, one filter may list. */
const MAX_ALTERNATIVES = 1_000;

const bound = (v: unknown, i: number): Bound => {
  if (v === 'latest' || v === 'earliest' || v === 'pending' || v === 'safe' || v === 'finalized') return { tag: v };
  return { number: quantity(v, i) };
};

/** The filter object of eth_getLogs / eth_newFilter, checked as go-ethereum checks it. */
export const filterQuery: Param<FilterQuery> = (v, i) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidParams(i, 'expected a filter object');
  const o = v as Record<string, unknown>;
  const given = (k: string) => o[k] !== undefined && o[k] !== null;
  if (given('blockHash') && (given('fromBlock') || given('toBlock'))) {
    throw invalidParams(i, 'cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other');
  }
  let addresses: Uint8Array[] = [];
  if (given('address')) {
    const list = Array.isArray(o.address) ? o.address : [o.address];
    if (list.length > MAX_ALTERNATIVES) throw invalidParams(i, `more than ${MAX_ALTERNATIVES} addresses`);
    addresses = list.map((a) => hexToBytes(address(a, i)));
  }
  let topics: (Uint8Array[] | null)[] = [];
  if (given('topics')) {
    if (!Array.isArray(o.topics)) throw invalidParams(i, 'topics must be an array');
    if (o.topics.length > MAX_TOPICS) throw invalidParams(i, 'too many topics (at most 4 positions)');
    topics = o.topics.map((t: unknown) => {
      if (t === null) return null;
      if (Array.isArray(t)) {
        if (t.length > MAX_ALTERNATIVES) throw invalidParams(i, `more than ${MAX_ALTERNATIVES} topic alternatives`);
        // A null among the alternatives matches anything, as go-ethereum reads it.
        if (t.some((x) => x === null)) return null;
        return t.map((x) => hexToBytes(hash32(x, i)));
      }
      return [hexToBytes(hash32(t, i))];
    });
  }
  return {
    ...(given('fromBlock') ? { fromBlock: bound(o.fromBlock, i) } : {}),
    ...(given('toBlock') ? { toBlock: bound(o.toBlock, i) } : {}),
    ...(given('blockHash') ? { blockHash: hash32(o.blockHash, i) } : {}),
    addresses,
    topics,
  };
};

/** A log in go-ethereum's JSON shape. */
export function formatLog(m: MatchedLog): Record<string, unknown> {
  const [addr, topics, data] = m.log;
  return {
    address: hexD(addr),
    topics: topics.map(hexD),
    data: hexD(data),
    blockNumber: hexQ(m.blockNumber),
    blockHash: hexD(m.blockHash),
    transactionHash: hexD(m.txHash),
    transactionIndex: hexQ(m.txIndex),
    logIndex: hexQ(m.logIndex),
    removed: false,
  };
}

/** The logs a filter matches on the chain as it is now (tags resolved against the head). */
export async function queryLogs(b: EthLogsBackend, q: FilterQuery): Promise<MatchedLog[]> {
  const match = { addresses: q.addresses, topics: q.topics };
  if (q.blockHash !== undefined) {
    let block: Block;
    try {
      block = await b.reader.block(hexToBytes(q.blockHash));
    } catch (err) {
      if (isBulwarkError(err) && err.code === 'READ_UNKNOWN_BLOCK') throw new RpcError(RPC_CODES.server, 'unknown block');
      throw err;
    }
    const n = block.header.number;
    if (n > b.head().header.number) throw new RpcError(RPC_CODES.server, 'unknown block');
    return b.reader.logs({ fromBlock: n, toBlock: n, ...match });
  }
  const head = b.head().header.number;
  const resolve = (x: Bound | undefined) => (x === undefined ? head : 'number' in x ? x.number : x.tag === 'earliest' ? 0n : head);
  const from = resolve(q.fromBlock);
  const to = resolve(q.toBlock);
  if (from > to) throw new RpcError(RPC_CODES.server, 'invalid block range params');
  if (to - from >= MAX_LOG_RANGE) {
    throw new RpcError(RPC_CODES.limitExceeded, `query spans ${to - from + 1n} blocks, more than the limit of ${MAX_LOG_RANGE}`);
  }
  const filter: LogFilter = { fromBlock: from, toBlock: to, ...match };
  return b.reader.logs(filter);
}

export function ethLogsMethods(b: EthLogsBackend): Map<string, MethodDef> {
  return new Map<string, MethodDef>([['eth_getLogs', method([filterQuery], [], async ([q]) => (await queryLogs(b, q)).map(formatLog))]]);
}
