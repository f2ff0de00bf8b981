/**
 * The soak harness's JSON-RPC client: batches over kept-alive undici connections, every request
 * with a deadline. Two kinds of failure are kept apart because the harness treats them apart:
 * an answer with a JSON-RPC `error` is the node's verdict (a refused transaction is counted, not
 * retried), while a transport failure — connection refused or reset, a timeout, a non-200 status —
 * says nothing about what the node did, and is retried with back-off.
 */
import { Pool } from 'undici';

export interface RpcAnswer {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: { readonly code: number; readonly message: string };
}

export type RpcCall = readonly [method: string, params: readonly unknown[]];

/** The request did not get an answer (the node may or may not have acted on it). */
export class TransportError extends Error {}

/** The node answered with a JSON-RPC error. */
export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(`${method}: ${message}`);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SoakRpc {
  readonly #pool: Pool;
  readonly #path: string;
  #id = 0;

  constructor(
    readonly url: string,
    connections = 16,
    readonly timeoutMs = 30_000,
  ) {
    const u = new URL(url);
    this.#pool = new Pool(u.origin, { connections, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: 5_000 });
    this.#path = u.pathname;
  }

  /** One attempt: the answers in call order, or a TransportError. */
  async batch(calls: readonly RpcCall[]): Promise<RpcAnswer[]> {
    const body = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: ++this.#id, method, params }));
    let answers: RpcAnswer[];
    try {
      const res = await this.#pool.request({ path: this.#path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new TransportError(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
      const parsed = JSON.parse(text) as RpcAnswer[] | RpcAnswer;
      // A whole batch refused (too large, unparseable) comes back as one error object.
      if (!Array.isArray(parsed)) throw new TransportError(`batch refused: ${parsed.error?.message ?? text.slice(0, 200)}`);
      answers = parsed;
    } catch (err) {
      if (err instanceof TransportError) throw err;
      const e = err as Error & { code?: string };
      throw new TransportError(`${e.code ?? e.name}: ${e.message}`, { cause: err });
    }
    const byId = new Map(answers.map((a) => [a.id, a]));
    return body.map((b) => byId.get(b.id) ?? { id: b.id, error: { code: 0, message: 'no answer in the batch' } });
  }

  /**
   * `batch`, with transport failures retried (back-off from 100 ms doubling to 5 s) until
   * `deadlineMs` has passed; then the last TransportError is thrown.
   */
  async batchRetrying(calls: readonly RpcCall[], deadlineMs = 30_000, stopped: () => boolean = () => false): Promise<RpcAnswer[]> {
    const end = performance.now() + deadlineMs;
    for (let backoff = 100; ; backoff = Math.min(backoff * 2, 5_000)) {
      try {
        return await this.batch(calls);
      } catch (err) {
        if (!(err instanceof TransportError) || performance.now() + backoff > end || stopped()) throw err;
        await sleep(backoff);
      }
    }
  }

  /** One call, transport failures retried; a JSON-RPC error is thrown as RpcError. */
  async call<T>(method: string, params: readonly unknown[] = [], deadlineMs = 30_000): Promise<T> {
    const [a] = await this.batchRetrying([[method, params]], deadlineMs);
    if (a!.error !== undefined) throw new RpcError(method, a!.error.code, a!.error.message);
    return a!.result as T;
  }

  /**
   * Many calls, in batches of `size`, `parallel` batches at a time. A call answered with a JSON-RPC
   * error is asked again (with back-off) for up to `errorRetryMs`, then the error is thrown: a
   * node that is changing views may fail a state read it will answer a moment later.
   */
  async all<T>(calls: readonly RpcCall[], size = 100, parallel = 2, errorRetryMs = 0): Promise<T[]> {
    const out = new Array<T>(calls.length);
    let todo = calls.map((_, i) => i);
    const end = performance.now() + errorRetryMs;
    for (let backoff = 250; ; backoff = Math.min(backoff * 2, 5_000)) {
      const failed: { index: number; error: RpcError }[] = [];
      let next = 0;
      const worker = async () => {
        for (let from = next; from < todo.length; from = next) {
          next += size;
          const indexes = todo.slice(from, from + size);
          const slice = indexes.map((i) => calls[i]!);
          const answers = await this.batchRetrying(slice).catch((err: unknown) => {
            throw err instanceof TransportError ? new TransportError(`${slice.length} × ${slice[0]![0]}: ${err.message}`, { cause: err }) : err;
          });
          answers.forEach((a, k) => {
            const index = indexes[k]!;
            if (a.error === undefined) out[index] = a.result as T;
            else failed.push({ index, error: new RpcError(calls[index]![0], a.error.code, a.error.message) });
          });
        }
      };
      await Promise.all(Array.from({ length: parallel }, worker));
      if (failed.length === 0) return out;
      if (performance.now() + backoff > end) throw failed[0]!.error;
      await sleep(backoff);
      todo = failed.map((f) => f.index);
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
