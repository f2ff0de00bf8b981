/**
 * The JSON-RPC 2.0 server: HTTP POST and WebSocket on one port, one dispatcher. Unparseable input
 * is -32700, a malformed request -32600, an unknown method -32601 ("the method X does not
 * exist/is not available"), bad parameters -32602 naming the parameter; batches are answered in
 * order (notifications get no entry) up to a size limit. Every refusal is counted by code; nothing
 * a caller sends can throw out of here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { RPC_CODES, RpcError } from './errors.ts';
import type { CallContext, MethodDef } from './method.ts';

export interface RpcLimits {
  readonly maxBodyBytes: number;
  readonly maxBatch: number;
}

export const DEFAULT_RPC_LIMITS: RpcLimits = { maxBodyBytes: 5 << 20, maxBatch: 1_000 };

export interface RpcServerOptions {
  readonly methods: ReadonlyMap<string, MethodDef>;
  readonly host?: string;
  readonly port: number;
  readonly limits?: Partial<RpcLimits>;
  /** Called on handler failures that are not RpcErrors (bugs): logged by the caller. */
  readonly onInternalError?: (method: string, err: unknown) => void;
  /** Called once per call naming a method: which (undefined if it does not exist), and the error code if it failed. */
  readonly onCall?: (method: string | undefined, errorCode: number | undefined) => void;
}

type Id = string | number | null;
type Response = { jsonrpc: '2.0'; id: Id; result: unknown } | { jsonrpc: '2.0'; id: Id; error: { code: number; message: string; data?: unknown } };

export class RpcServer {
  readonly #o: RpcServerOptions;
  readonly #limits: RpcLimits;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  /** Refusals and failures by JSON-RPC error code. */
  readonly errors = new Map<number, number>();

  private constructor(o: RpcServerOptions) {
    this.#o = o;
    this.#limits = { ...DEFAULT_RPC_LIMITS, ...o.limits };
    this.#http = createServer((req, res) => void this.#onHttp(req, res));
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: this.#limits.maxBodyBytes });
    this.#http.on('upgrade', (req, socket, head) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws));
    });
  }

  static async start(o: RpcServerOptions): Promise<RpcServer> {
    const s = new RpcServer(o);
    await new Promise<void>((resolve, reject) => {
      s.#http.once('error', reject);
      s.#http.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
    });
    return s;
  }

  get url(): string {
    const a = this.#http.address() as AddressInfo;
    return `http://${a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((r) => this.#wss.close(() => r()));
    this.#http.closeAllConnections();
    await new Promise<void>((r) => this.#http.close(() => r()));
  }

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.#limits.maxBodyBytes) {
        this.#count(RPC_CODES.limitExceeded);
        const body = JSON.stringify(this.#error(null, new RpcError(RPC_CODES.limitExceeded, `request body larger than ${this.#limits.maxBodyBytes} bytes`)));
        res.writeHead(413, { 'content-type': 'application/json', connection: 'close' }).end(body);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    }
    const out = await this.handle(Buffer.concat(chunks).toString('utf8'), { transport: 'http' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(out ?? '');
  }

  #onSocket(ws: WebSocket): void {
    ws.on('message', (raw, isBinary) => {
      const text = isBinary ? '' : raw.toString();
      void this.handle(text, { transport: 'ws' }).then((out) => {
        if (out !== null && ws.readyState === ws.OPEN) ws.send(out);
      });
    });
    ws.on('error', () => ws.terminate());
  }

  /** One HTTP body or WebSocket message in, the response text out (null: nothing to answer). */
  async handle(text: string, ctx: CallContext): Promise<string | null> {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      this.#count(RPC_CODES.parse);
      return JSON.stringify(this.#error(null, new RpcError(RPC_CODES.parse, 'parse error')));
    }
    if (!Array.isArray(body)) {
      const r = await this.#one(body, ctx);
      return r === null ? null : JSON.stringify(r);
    }
    if (body.length === 0) return JSON.stringify(this.#error(null, new RpcError(RPC_CODES.invalidRequest, 'empty batch')));
    if (body.length > this.#limits.maxBatch) {
      this.#count(RPC_CODES.limitExceeded);
      return JSON.stringify(this.#error(null, new RpcError(RPC_CODES.limitExceeded, `batch of ${body.length} requests exceeds the limit of ${this.#limits.maxBatch}`)));
    }
    const all = await Promise.all(body.map((b) => this.#one(b, ctx)));
    const answered = all.filter((r): r is Response => r !== null);
    return answered.length === 0 ? null : JSON.stringify(answered);
  }

  async #one(req: unknown, ctx: CallContext): Promise<Response | null> {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) return this.#error(null, new RpcError(RPC_CODES.invalidRequest, 'invalid request'));
    const r = req as Record<string, unknown>;
    const id = r.id;
    const validId = id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
    if (r.jsonrpc !== '2.0' || typeof r.method !== 'string' || !validId) {
      return this.#error(validId ? ((id ?? null) as Id) : null, new RpcError(RPC_CODES.invalidRequest, 'invalid request'));
    }
    const isNotification = !('id' in r);
    const def = this.#o.methods.get(r.method);
    let response: Response;
    if (def === undefined) {
      response = this.#error((id ?? null) as Id, new RpcError(RPC_CODES.methodNotFound, `the method ${r.method} does not exist/is not available`));
    } else {
      try {
        response = { jsonrpc: '2.0', id: (id ?? null) as Id, result: await def.call(r.params, ctx) };
      } catch (err) {
        if (!(err instanceof RpcError)) this.#o.onInternalError?.(r.method, err);
        response = this.#error((id ?? null) as Id, err instanceof RpcError ? err : new RpcError(RPC_CODES.internal, 'internal error'));
      }
    }
    this.#o.onCall?.(def === undefined ? undefined : r.method, 'error' in response ? response.error.code : undefined);
    return isNotification ? null : response;
  }

  #error(id: Id, e: RpcError): Response {
    this.#count(e.code);
    return { jsonrpc: '2.0', id, error: e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data } };
  }

  #count(code: number): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}
