/**
 * The JSON-RPC 2.0 server: HTTP POST and WebSocket on one port, one dispatcher. Unparseable input
 * is -32700, a malformed request -32600, an unknown method -32601 ("the method X does not
 * exist/is not available"), bad parameters -32602 naming the parameter; batches are answered in
 * order (notifications get no entry) up to a size limit (beyond it, go-ethereum's -32600 "batch
 * too large"); JSON nested deeper than go-ethereum decodes is -32700. Every refusal is counted by
 * code; nothing a caller sends can throw out of here.
 *
 * Optional gatekeeping (`security.ts`): TLS 1.3 only (HTTPS/WSS), bearer tokens with per-token
 * method allow-lists (401 without a valid token, on WebSocket at the upgrade; -32004 per call
 * outside the list), a CORS origin allow-list (403 for other origins), and a per-address rate limit
 * (429). Each refusal is a JSON-RPC error and is reported through `onRefused`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { RPC_CODES, RpcError } from './errors.ts';
import type { CallContext, Connection, MethodDef } from './method.ts';
import {
  CORS_ALLOW_HEADERS,
  CORS_ALLOW_METHODS,
  CorsPolicy,
  OPEN_GRANT,
  RateLimiter,
  SECURITY_CODES,
  TokenAuthenticator,
  type Grant,
  type RateLimit,
  type RefusalReason,
  type RpcAuthConfig,
} from './security.ts';
import { staticHeaders, type StaticSite } from './static-site.ts';

export interface RpcLimits {
  readonly maxBodyBytes: number;
  readonly maxBatch: number;
  /** Open WebSocket connections at once (0: unlimited); beyond it an upgrade is HTTP 503. */
  readonly maxWsConnections: number;
  /** Open WebSocket connections from one remote address (0: unlimited). */
  readonly maxWsConnectionsPerAddress: number;
  /**
   * Bytes a WebSocket connection may have waiting to be sent (answers and notifications its
   * reader has not taken yet); beyond it the connection is closed (1008) rather than let the
   * node's memory grow with a slow reader.
   */
  readonly maxWsBufferedBytes: number;
}

export const DEFAULT_RPC_LIMITS: RpcLimits = {
  maxBodyBytes: 5 << 20,
  maxBatch: 1_000,
  maxWsConnections: 1_000,
  maxWsConnectionsPerAddress: 100,
  maxWsBufferedBytes: 16 << 20,
};

/** The WebSocket close code for a reader too slow to keep up (1008, policy violation). */
export const WS_CLOSE_SLOW_READER = 1008;
/** Messages of one WebSocket connection handled at once; the rest wait their turn. */
const WS_IN_FLIGHT = 16;
/** Bytes of a connection's messages waiting their turn beyond which its socket is not read. */
const WS_QUEUE_BYTES = 1 << 20;
/** How long a slow reader's connection may take to close before it is cut (its buffers freed). */
const SLOW_READER_CLOSE_MS = 2_000;

export interface RpcServerOptions {
  readonly methods: ReadonlyMap<string, MethodDef>;
  readonly host?: string;
  readonly port: number;
  readonly limits?: Partial<RpcLimits>;
  /** Serve HTTPS and WSS (TLS 1.3 only) with this PEM certificate (chain) and key. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Bearer tokens and what each may call; absent: no authentication. */
  readonly auth?: RpcAuthConfig;
  /** Origins browsers may call from (`*` for any); absent or empty: no CORS headers. */
  readonly cors?: readonly string[];
  /** Calls per second per client address; absent or 0: unlimited. */
  readonly rateLimit?: RateLimit;
  /**
   * Static files answered to GET (the explorer, `static-site.ts`): public, so served without a
   * token, CORS or rate limit; an unknown path is 404. Absent: GET is 405, as any method but POST.
   */
  readonly site?: StaticSite;
  /** Called on handler failures that are not RpcErrors (bugs): logged by the caller. */
  readonly onInternalError?: (method: string, err: unknown) => void;
  /**
   * Called once per call naming a method: which (undefined if it does not exist), the error code if
   * it failed, and how long it took from parsing to its answer, in seconds.
   */
  readonly onCall?: (method: string | undefined, errorCode: number | undefined, seconds: number) => void;
  /** Called once per refused request or call: why, the client's address, and the message it was sent. */
  readonly onRefused?: (reason: RefusalReason, remote: string, message: string) => void;
}

type Id = string | number | null;
type Response = { jsonrpc: '2.0'; id: Id; result: unknown } | { jsonrpc: '2.0'; id: Id; error: { code: number; message: string; data?: unknown } };

/** Who is calling: their address (for the rate limit and logs) and what their token lets them call. */
interface Caller {
  readonly remote: string;
  readonly grant: Grant;
}

export class RpcServer {
  readonly #o: RpcServerOptions;
  readonly #limits: RpcLimits;
  readonly #http: Server | HttpsServer;
  readonly #wss: WebSocketServer;
  readonly #auth: TokenAuthenticator | null;
  readonly #cors: CorsPolicy;
  readonly #rate: RateLimiter | null;
  /** Refusals and failures by JSON-RPC error code. */
  readonly errors = new Map<number, number>();
  /** Open WebSocket connections, by remote address. */
  readonly #wsByAddress = new Map<string, number>();
  #wsOpen = 0;
  /** WebSocket connections closed because their reader fell too far behind. */
  slowReadersClosed = 0;

  private constructor(o: RpcServerOptions) {
    this.#o = o;
    this.#limits = { ...DEFAULT_RPC_LIMITS, ...o.limits };
    this.#auth = o.auth === undefined ? null : new TokenAuthenticator(o.auth);
    this.#cors = new CorsPolicy(o.cors ?? []);
    this.#rate = o.rateLimit === undefined || o.rateLimit.perSecond <= 0 ? null : new RateLimiter(o.rateLimit);
    const onRequest = (req: IncomingMessage, res: ServerResponse) => void this.#onHttp(req, res);
    this.#http = o.tls === undefined ? createServer(onRequest) : createHttpsServer({ cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.3' }, onRequest);
    // Idle keep-alive connections stay open longer than clients keep theirs (undici 4 s, browsers
    // and proxies up to 60 s): a server that closes first races a client reusing the connection,
    // and the request in flight fails with "other side closed" (seen with Node's 5 s default).
    this.#http.keepAliveTimeout = 65_000;
    this.#http.headersTimeout = 66_000;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: this.#limits.maxBodyBytes, handleProtocols: chooseProtocol });
    this.#http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
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
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${this.#o.tls === undefined ? 'http' : 'https'}://${host}:${a.port}`;
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((r) => this.#wss.close(() => r()));
    this.#http.closeAllConnections();
    await new Promise<void>((r) => this.#http.close(() => r()));
  }

  #refuse(reason: RefusalReason, remote: string, e: RpcError): Response {
    this.#o.onRefused?.(reason, remote, e.message);
    return this.#error(null, e);
  }

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && this.#o.site !== undefined) return this.#onGet(req, res, this.#o.site);
    const remote = remoteOf(req.socket);
    const origin = this.#crossOrigin(req);
    const allowOrigin = this.#cors.allowOrigin(origin);
    const send = (status: number, body: string, extra: Record<string, string> = {}) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
      if (typeof allowOrigin === 'string') Object.assign(headers, { 'access-control-allow-origin': allowOrigin, vary: 'Origin' });
      res.writeHead(status, headers).end(body);
    };
    if (allowOrigin === null) {
      const r = this.#refuse('cors_origin', remote, new RpcError(SECURITY_CODES.unauthorized, `origin ${origin} is not allowed`));
      res.writeHead(403, { 'content-type': 'application/json', vary: 'Origin' }).end(JSON.stringify(r));
      req.resume();
      return;
    }
    if (req.method === 'OPTIONS') {
      const headers: Record<string, string> = { allow: CORS_ALLOW_METHODS };
      if (typeof allowOrigin === 'string') {
        Object.assign(headers, {
          'access-control-allow-origin': allowOrigin,
          'access-control-allow-methods': CORS_ALLOW_METHODS,
          'access-control-allow-headers': CORS_ALLOW_HEADERS,
          'access-control-max-age': '600',
          vary: 'Origin',
        });
      }
      res.writeHead(204, headers).end();
      req.resume();
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: this.#o.site === undefined ? CORS_ALLOW_METHODS : `GET, ${CORS_ALLOW_METHODS}` }).end();
      req.resume();
      return;
    }
    let grant = OPEN_GRANT;
    if (this.#auth !== null) {
      const a = this.#auth.check(headerOf(req, 'authorization'));
      if (!a.ok) {
        // Failed attempts spend the rate limit too, so guessing is as slow as calling.
        if (this.#rate !== null && !this.#rate.take(remote, 1)) {
          send(429, JSON.stringify(this.#rateRefusal(remote, 1)), { connection: 'close' });
        } else {
          send(401, JSON.stringify(this.#refuse(a.reason, remote, new RpcError(SECURITY_CODES.unauthorized, a.message))), { 'www-authenticate': 'Bearer', connection: 'close' });
        }
        req.resume();
        return;
      }
      grant = a.grant;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.#limits.maxBodyBytes) {
        const body = JSON.stringify(this.#refuse('body_size', remote, new RpcError(RPC_CODES.limitExceeded, `request body larger than ${this.#limits.maxBodyBytes} bytes`)));
        send(413, body, { connection: 'close' });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    }
    const { out, status } = await this.#handle(Buffer.concat(chunks).toString('utf8'), { transport: 'http' }, { remote, grant });
    send(status, out ?? '');
  }

  /** A static file, or 404; the request body (a GET has none worth reading) is drained. */
  #onGet(req: IncomingMessage, res: ServerResponse, site: StaticSite): void {
    req.resume();
    const f = site.lookup(req.url ?? '/');
    if (f === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'" }).end('not found\n');
      return;
    }
    res.writeHead(200, staticHeaders(f)).end(f.body);
  }

  /**
   * The request's Origin, or undefined when it is this server's own origin: a page this server
   * served (the explorer) calling back is not a cross-origin request, so neither the CORS list nor
   * the WebSocket origin rule applies to it (tokens still do). Only when the page was addressed by
   * an IP address or `localhost`: under a host name the "same origin" could be an attacker's name
   * rebound to this address (DNS rebinding), so such a page needs its origin in the CORS list.
   */
  #crossOrigin(req: IncomingMessage): string | undefined {
    const origin = headerOf(req, 'origin');
    const host = headerOf(req, 'host');
    if (origin === undefined || host === undefined) return origin;
    const own = `${this.#o.tls === undefined ? 'http' : 'https'}://${host}`.toLowerCase();
    if (origin.toLowerCase() !== own) return origin;
    let hostname: string;
    try {
      hostname = new URL(own).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return origin;
    }
    return hostname === 'localhost' || isIP(hostname) !== 0 ? undefined : origin;
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const remote = remoteOf(req.socket);
    const reject = (status: string, r: Response, extra = '') => {
      const body = JSON.stringify(r);
      socket.on('error', () => undefined);
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`);
    };
    const origin = this.#crossOrigin(req);
    if (!this.#cors.allowsWebSocket(origin)) {
      reject('403 Forbidden', this.#refuse('cors_origin', remote, new RpcError(SECURITY_CODES.unauthorized, `origin ${origin} is not allowed`)));
      return;
    }
    let grant = OPEN_GRANT;
    if (this.#auth !== null) {
      const a = this.#auth.check(headerOf(req, 'authorization') ?? protocolToken(headerOf(req, 'sec-websocket-protocol')));
      if (!a.ok) {
        if (this.#rate !== null && !this.#rate.take(remote, 1)) reject('429 Too Many Requests', this.#rateRefusal(remote, 1));
        else reject('401 Unauthorized', this.#refuse(a.reason, remote, new RpcError(SECURITY_CODES.unauthorized, a.message)), 'WWW-Authenticate: Bearer\r\n');
        return;
      }
      grant = a.grant;
    }
    const full = this.#wsFull(remote);
    if (full !== null) {
      reject('503 Service Unavailable', this.#refuse('ws_connections', remote, new RpcError(SECURITY_CODES.limitExceeded, full)));
      return;
    }
    // The upgrade completes synchronously (no verifyClient), so the count cannot be overtaken.
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws, { remote, grant }));
  }

  /** Why one more WebSocket connection from `remote` is refused, or null. */
  #wsFull(remote: string): string | null {
    const { maxWsConnections: total, maxWsConnectionsPerAddress: perAddress } = this.#limits;
    if (total > 0 && this.#wsOpen >= total) return `too many WebSocket connections: at most ${total} (--rpc-ws-max-connections)`;
    if (perAddress > 0 && (this.#wsByAddress.get(remote) ?? 0) >= perAddress) {
      return `too many WebSocket connections from ${remote}: at most ${perAddress} per address (--rpc-ws-max-per-address)`;
    }
    return null;
  }

  /** Open WebSocket connections (for tests and metrics). */
  get wsConnections(): number {
    return this.#wsOpen;
  }

  #onSocket(ws: WebSocket, caller: Caller): void {
    this.#wsOpen++;
    this.#wsByAddress.set(caller.remote, (this.#wsByAddress.get(caller.remote) ?? 0) + 1);
    const closing: (() => void)[] = [];
    const send = (text: string) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount + text.length > this.#limits.maxWsBufferedBytes) return this.#closeSlowReader(ws, caller.remote);
      ws.send(text);
    };
    const connection: Connection = {
      push: (message) => send(JSON.stringify(message)),
      onClose: (fn) => void closing.push(fn),
    };
    // A connection's messages are handled at most WS_IN_FLIGHT at a time, the rest in arrival
    // order; past WS_QUEUE_BYTES waiting, the socket is not read until they are taken: one
    // connection pipelining thousands of requests neither takes the whole node nor queues without
    // bound, and one that stops reading its answers has little left to be done for it.
    const waiting: string[] = [];
    let waitingBytes = 0;
    let running = 0;
    const run = (text: string) => {
      running++;
      void this.#handle(text, { transport: 'ws', connection }, caller)
        .then(({ out }) => {
          if (out !== null) send(out);
        })
        .finally(() => {
          running--;
          const next = waiting.shift();
          if (next === undefined) return;
          waitingBytes -= next.length;
          if (ws.isPaused && waitingBytes < WS_QUEUE_BYTES / 2) ws.resume();
          // A connection being closed (a slow reader) gets no more work done for it.
          if (ws.readyState === ws.OPEN) run(next);
        });
    };
    ws.on('message', (raw, isBinary) => {
      if (ws.readyState !== ws.OPEN) return;
      const text = isBinary ? '' : raw.toString();
      if (running < WS_IN_FLIGHT) return run(text);
      waiting.push(text);
      waitingBytes += text.length;
      if (waitingBytes >= WS_QUEUE_BYTES) ws.pause();
    });
    ws.on('close', () => {
      this.#wsOpen--;
      const left = (this.#wsByAddress.get(caller.remote) ?? 1) - 1;
      if (left > 0) this.#wsByAddress.set(caller.remote, left);
      else this.#wsByAddress.delete(caller.remote);
      for (const fn of closing.splice(0)) fn();
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // A message over the size limit: the socket library closes with 1009; counted as HTTP's 413 is.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.#count(RPC_CODES.limitExceeded);
        this.#o.onRefused?.('body_size', caller.remote, `WebSocket message larger than ${this.#limits.maxBodyBytes} bytes`);
      }
      ws.terminate();
    });
  }

  /**
   * A reader that does not take what it is sent would make the node hold it all: it is told why
   * (close 1008) and, if the close cannot get through its backlog in time, cut off.
   */
  #closeSlowReader(ws: WebSocket, remote: string): void {
    const limit = this.#limits.maxWsBufferedBytes;
    this.slowReadersClosed++;
    this.#count(RPC_CODES.limitExceeded);
    this.#o.onRefused?.('ws_slow_reader', remote, `WebSocket reader too slow: more than ${limit} bytes waiting to be sent; connection closed`);
    ws.close(WS_CLOSE_SLOW_READER, `slow reader: over ${limit} bytes buffered (--rpc-ws-max-buffered)`);
    setTimeout(() => ws.terminate(), SLOW_READER_CLOSE_MS).unref();
  }

  #rateRefusal(remote: string, calls: number): Response {
    const r = this.#rate!;
    const why = calls > r.burst ? `a batch of ${calls} calls exceeds the rate limit's burst of ${r.burst}` : `rate limit exceeded: ${r.perSecond} requests per second`;
    return this.#refuse('rate_limit', remote, new RpcError(SECURITY_CODES.limitExceeded, why));
  }

  /** One HTTP body or WebSocket message in, the response text out (null: nothing to answer); no authentication or rate limit. */
  async handle(text: string, ctx: CallContext): Promise<string | null> {
    return (await this.#handle(text, ctx, { remote: 'local', grant: OPEN_GRANT })).out;
  }

  /** The answer and the HTTP status it goes with (200 unless the rate limit refused it). */
  async #handle(text: string, ctx: CallContext, caller: Caller): Promise<{ out: string | null; status: number }> {
    let body: unknown;
    let parsed = !tooDeep(text);
    try {
      if (parsed) body = JSON.parse(text);
    } catch {
      parsed = false;
    }
    // Each call of a batch counts; a malformed or oversized request costs one.
    const calls = parsed && Array.isArray(body) && body.length <= this.#limits.maxBatch ? Math.max(1, body.length) : 1;
    if (this.#rate !== null && !this.#rate.take(caller.remote, calls)) {
      return { out: JSON.stringify(this.#rateRefusal(caller.remote, calls)), status: 429 };
    }
    if (!parsed) {
      return { out: JSON.stringify(this.#error(null, new RpcError(RPC_CODES.parse, 'parse error'))), status: 200 };
    }
    if (!Array.isArray(body)) {
      const r = await this.#one(body, ctx, caller);
      return { out: r === null ? null : JSON.stringify(r), status: 200 };
    }
    if (body.length === 0) return { out: JSON.stringify(this.#error(null, new RpcError(RPC_CODES.invalidRequest, 'empty batch'))), status: 200 };
    if (body.length > this.#limits.maxBatch) {
      // go-ethereum's answer: one -32600 "batch too large" in an array, with the first call's id
      // (the protocol has no way to report an error for a whole batch).
      this.#o.onRefused?.('batch_size', caller.remote, `batch of ${body.length} requests exceeds the limit of ${this.#limits.maxBatch}`);
      const r = this.#error(firstCallId(body), new RpcError(RPC_CODES.invalidRequest, 'batch too large'));
      return { out: JSON.stringify([r]), status: 200 };
    }
    const all = await Promise.all(body.map((b) => this.#one(b, ctx, caller)));
    const answered = all.filter((r): r is Response => r !== null);
    return { out: answered.length === 0 ? null : JSON.stringify(answered), status: 200 };
  }

  async #one(req: unknown, ctx: CallContext, caller: Caller): Promise<Response | null> {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) return this.#error(null, new RpcError(RPC_CODES.invalidRequest, 'invalid request'));
    const r = req as Record<string, unknown>;
    const id = r.id;
    const validId = id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
    if (r.jsonrpc !== '2.0' || typeof r.method !== 'string' || !validId) {
      return this.#error(validId ? ((id ?? null) as Id) : null, new RpcError(RPC_CODES.invalidRequest, 'invalid request'));
    }
    const isNotification = !('id' in r);
    const started = performance.now();
    const def = this.#o.methods.get(r.method);
    let response: Response;
    if (!caller.grant.allows(r.method)) {
      const e = new RpcError(SECURITY_CODES.methodNotAllowed, `method ${r.method} is not allowed for this token`);
      this.#o.onRefused?.('method_not_allowed', caller.remote, `${e.message} (${caller.grant.name})`);
      response = this.#error((id ?? null) as Id, e);
    } else if (def === undefined) {
      response = this.#error((id ?? null) as Id, new RpcError(RPC_CODES.methodNotFound, `the method ${r.method} does not exist/is not available`));
    } else {
      try {
        // Per-caller limits (filters) count by token when there are tokens, else by address.
        const who = this.#auth === null ? `address ${caller.remote}` : `token ${caller.grant.name}`;
        response = { jsonrpc: '2.0', id: (id ?? null) as Id, result: await def.call(r.params, { ...ctx, caller: who }) };
      } catch (err) {
        if (!(err instanceof RpcError)) this.#o.onInternalError?.(r.method, err);
        response = this.#error((id ?? null) as Id, err instanceof RpcError ? err : new RpcError(RPC_CODES.internal, 'internal error'));
      }
    }
    this.#o.onCall?.(def === undefined ? undefined : r.method, 'error' in response ? response.error.code : undefined, (performance.now() - started) / 1000);
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

/** The id of a batch's first call (an object with a method and an id), null if none has one. */
function firstCallId(batch: readonly unknown[]): Id {
  for (const m of batch) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) continue;
    const r = m as Record<string, unknown>;
    if (typeof r.method === 'string' && (typeof r.id === 'string' || typeof r.id === 'number' || r.id === null)) return r.id;
  }
  return null;
}

/** go-ethereum's JSON decoder refuses nesting deeper than this (a parse error). */
const MAX_JSON_DEPTH = 10_000;

/**
 * Whether `text` nests arrays and objects deeper than MAX_JSON_DEPTH (strings skipped). Text too
 * short to nest that deep is not scanned, so ordinary calls pay nothing.
 */
function tooDeep(text: string): boolean {
  if (text.length <= 2 * MAX_JSON_DEPTH) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string, escapes included.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * Browsers cannot set headers on a WebSocket: a page sends its bearer token as a subprotocol,
 * `bulwark-token.<token>`, beside `bulwark-rpc` (the one the server picks, so the token is never
 * echoed back).
 */
export const WS_TOKEN_PROTOCOL = 'bulwark-token.';
export const WS_RPC_PROTOCOL = 'bulwark-rpc';

/** The `Authorization` value a `Sec-WebSocket-Protocol` header's token stands for, or undefined. */
function protocolToken(header: string | undefined): string | undefined {
  const t = header
    ?.split(',')
    .map((p) => p.trim())
    .find((p) => p.startsWith(WS_TOKEN_PROTOCOL));
  return t === undefined || t.length === WS_TOKEN_PROTOCOL.length ? undefined : `Bearer ${t.slice(WS_TOKEN_PROTOCOL.length)}`;
}

/** The subprotocol answered: `bulwark-rpc` if offered, else the first offered that carries no token. */
function chooseProtocol(offered: Set<string>): string | false {
  if (offered.has(WS_RPC_PROTOCOL)) return WS_RPC_PROTOCOL;
  for (const p of offered) if (!p.startsWith(WS_TOKEN_PROTOCOL)) return p;
  return false;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function remoteOf(socket: Socket): string {
  return socket.remoteAddress ?? 'unknown';
}
