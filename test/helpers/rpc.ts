/**
 * Raw JSON-RPC over fetch for end-to-end tests: no library in between, so a test sees exactly the
 * result or error object the client node sends. `call` returns the result and throws `RpcFailure`
 * on an error reply; `rejects` asserts an error's code and message (and data when given).
 */
import assert from 'node:assert/strict';
import type { TypedTransaction } from '@ethereumjs/tx';

export interface RpcErrorObject {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

export class RpcFailure extends Error {
  constructor(
    readonly method: string,
    readonly error: RpcErrorObject,
  ) {
    super(`${method}: ${error.code} ${error.message}`);
    this.name = 'RpcFailure';
  }
}

export interface Rpc {
  call<T = unknown>(method: string, params?: readonly unknown[]): Promise<T>;
  /** Asserts the call fails with `code` and a message equal to (string) or matching (RegExp) `message`. */
  rejects(method: string, params: readonly unknown[], code: number, message: string | RegExp, data?: unknown): Promise<RpcErrorObject>;
  /** Sends a signed transaction and waits for its receipt (at most `ms`). */
  send(tx: TypedTransaction | Uint8Array, ms?: number): Promise<Receipt>;
  /** Waits for the receipt of a transaction already sent (at most `ms`). */
  receipt(hash: string, ms?: number): Promise<Receipt>;
  /** Sends calls as one JSON-RPC batch; the replies, in order. */
  batch(calls: readonly { method: string; params: readonly unknown[] }[]): Promise<{ result?: unknown; error?: RpcErrorObject }[]>;
}

/** The receipt fields tests look at (the rest stays reachable as unknown). */
export interface Receipt {
  readonly transactionHash: string;
  readonly blockHash: string;
  readonly blockNumber: string;
  readonly transactionIndex: string;
  readonly status: string;
  readonly gasUsed: string;
  readonly cumulativeGasUsed: string;
  readonly effectiveGasPrice: string;
  readonly contractAddress: string | null;
  readonly logs: readonly RpcLog[];
  readonly [k: string]: unknown;
}

export interface RpcLog {
  readonly address: string;
  readonly topics: readonly string[];
  readonly data: string;
  readonly blockNumber: string;
  readonly blockHash: string;
  readonly transactionHash: string;
  readonly transactionIndex: string;
  readonly logIndex: string;
  readonly removed: boolean;
}

export const hex = (b: Uint8Array): `0x${string}` => `0x${Buffer.from(b).toString('hex')}`;
export const hexQ = (v: bigint | number): string => `0x${BigInt(v).toString(16)}`;
/** A 32-byte word of an address or number, as topics and storage values carry them. */
export const word = (v: string | bigint): string =>
  `0x${(typeof v === 'bigint' ? v.toString(16) : v.replace(/^0x/, '')).padStart(64, '0')}`;

export function rpcClient(url: string): Rpc {
  let id = 0;
  const request = async (method: string, params: readonly unknown[]) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    return (await res.json()) as { result?: unknown; error?: RpcErrorObject };
  };
  const call = async <T>(method: string, params: readonly unknown[] = []): Promise<T> => {
    const reply = await request(method, params);
    if (reply.error !== undefined) throw new RpcFailure(method, reply.error);
    return reply.result as T;
  };
  return {
    call,
    async rejects(method, params, code, message, data) {
      const reply = await request(method, params);
      assert.ok(reply.error !== undefined, `${method}(${JSON.stringify(params)}) should fail, answered ${JSON.stringify(reply.result)}`);
      const e = reply.error;
      assert.equal(e.code, code, `${method}: code of ${JSON.stringify(e)}`);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      if (data !== undefined) assert.deepEqual(e.data, data);
      return e;
    },
    async send(tx, ms = 10_000) {
      const raw = tx instanceof Uint8Array ? tx : tx.serialize();
      return this.receipt(await call<string>('eth_sendRawTransaction', [hex(raw)]), ms);
    },
    async receipt(hash, ms = 10_000) {
      const until = Date.now() + ms;
      for (;;) {
        const receipt = await call<Receipt | null>('eth_getTransactionReceipt', [hash]);
        if (receipt !== null) return receipt;
        if (Date.now() > until) throw new Error(`no receipt for ${hash} within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async batch(calls) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(calls.map((c, i) => ({ jsonrpc: '2.0', id: i, method: c.method, params: c.params }))),
      });
      const replies = (await res.json()) as { id: number; result?: unknown; error?: RpcErrorObject }[];
      return calls.map((_, i) => replies.find((r) => r.id === i)!);
    },
  };
}
