/**
 * The benchmark's JSON-RPC client: plain JSON-RPC batches over HTTP, as a load generator or an
 * exchange would send them to any Ethereum node.
 */
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

export class Rpc {
  #id = 0;
  constructor(readonly url: string) {}

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const [r] = await this.batch([[method, params]]);
    if (r!.error !== undefined) throw new Error(`${method}: ${r!.error.message}`);
    return r!.result as T;
  }

  async batch(calls: readonly RpcCall[]): Promise<RpcResponse[]> {
    const body = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: ++this.#id, method, params }));
    const res = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${this.url}`);
    const out = (await res.json()) as RpcResponse[];
    const byId = new Map(out.map((r) => [r.id, r]));
    return body.map((b) => byId.get(b.id) ?? { id: b.id, error: { code: 0, message: 'no answer in the batch' } });
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
