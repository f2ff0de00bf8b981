/**
 * The benchmark's JSON-RPC client: plain JSON-RPC batches over HTTP, as a load generator or an
 * exchange would send them to any Ethereum node.
 */
import { Pool } from 'undici';

export type Hex = `0x${string}`;

export const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString('hex')}`;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Progress goes to stderr: stdout's last line is the result. */
export const log = (s: string) => process.stderr.write(`${s}\n`);

export interface RpcResponse {
  id: number;
  result?: unknown;
  error?: { code: number; message: string };
}

export type RpcCall = [method: string, params: unknown[]];

/**
 * One undici pool of kept-alive connections per endpoint: global fetch costs the load generator
 * (which shares the machine's two cores with the nodes under test) several times more per
 * request, which the cells of one transaction per request would measure instead of the node.
 */
export class Rpc {
  #id = 0;
  readonly #pool: Pool;
  readonly #path: string;

  constructor(readonly url: string, connections = 32) {
    const u = new URL(url);
    this.#pool = new Pool(u.origin, { connections, pipelining: 1, headersTimeout: 300_000, bodyTimeout: 300_000 });
    this.#path = u.pathname;
  }

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const [r] = await this.batch([[method, params]]);
    if (r!.error !== undefined) throw new Error(`${method}: ${r!.error.message}`);
    return r!.result as T;
  }

  async batch(calls: readonly RpcCall[]): Promise<RpcResponse[]> {
    const body = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: ++this.#id, method, params }));
    const res = await this.#pool.request({ path: this.#path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} from ${this.url}: ${text.slice(0, 200)}`);
    const parsed = JSON.parse(text) as RpcResponse[] | RpcResponse;
    // A whole batch refused (too large, unparseable) comes back as one error object.
    if (!Array.isArray(parsed)) throw new Error(`batch refused by ${this.url}: ${parsed.error?.message ?? text.slice(0, 200)}`);
    const byId = new Map(parsed.map((r) => [r.id, r]));
    return body.map((b) => byId.get(b.id) ?? { id: b.id, error: { code: 0, message: 'no answer in the batch' } });
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Many calls in batches of `size` (a node caps a batch's length), every answer a result. */
  async all<T>(calls: readonly RpcCall[], size = 100): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < calls.length; i += size) {
      for (const a of await this.batch(calls.slice(i, i + size))) {
        if (a.error !== undefined) throw new Error(`${calls[i]![0]}: ${a.error.message}`);
        out.push(a.result as T);
      }
    }
    return out;
  }
}

/** Polls for a transaction's receipt every `pollMs` (a wallet polls every few seconds; a latency probe every 2 ms). */
export async function receipt(rpc: Rpc, hash: string, pollMs = 50, timeoutMs = 120_000): Promise<{ status: string; contractAddress: Hex | null }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await rpc.call<{ status: string; contractAddress: Hex | null } | null>('eth_getTransactionReceipt', [hash]);
    if (r !== null) return r;
    if (Date.now() > end) throw new Error(`no receipt for ${hash} after ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

export const quantile = (sorted: readonly number[], q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]! * 10) / 10;
