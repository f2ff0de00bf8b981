/**
 * The JSON-RPC endpoint's gatekeeping, kept apart from the dispatcher: bearer tokens with per-token
 * method allow-lists (only SHA-256 digests are held, compared in constant time), the CORS origin
 * allow-list, and a token-bucket rate limit per client address. The server asks these parts and
 * turns their refusals into JSON-RPC errors; nothing here does I/O.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Error codes for refusals. -32001 for a missing or unknown token (the code the issue names;
 * go-ethereum answers 401 "missing token"/"invalid token" for its JWT auth), -32004 for a method
 * outside the token's allow-list (EIP-1474's "method not supported"), -32005 for limits and the
 * rate (EIP-1474's "limit exceeded", which the server also uses for oversized bodies; an oversized
 * batch gets go-ethereum's -32600 "batch too large").
 */
export const SECURITY_CODES = {
  unauthorized: -32001,
  methodNotAllowed: -32004,
  limitExceeded: -32005,
} as const;

/** Why a request was refused; the label of `bulwark_rpc_refused_total`. */
export type RefusalReason =
  | 'auth_missing'
  | 'auth_invalid'
  | 'method_not_allowed'
  | 'cors_origin'
  | 'rate_limit'
  | 'body_size'
  | 'batch_size'
  | 'ws_connections'
  | 'ws_slow_reader';

// ---------------------------------------------------------------------------------------------
// Bearer tokens

/** An exact method name (`eth_call`), a namespace wildcard (`eth_*`) or `*` (every method). */
const METHOD_PATTERN = /^(\*|[A-Za-z0-9]+_\*|[A-Za-z0-9]+_[A-Za-z0-9_]+)$/;

export const rpcAuthFileSchema = z
  .object({
    tokens: z
      .array(
        z
          .object({
            name: z.string().min(1, 'a token needs a name'),
            sha256: z
              .string()
              .regex(/^(0x)?[0-9a-fA-F]{64}$/, 'sha256 must be the 64 hex digits of the SHA-256 of the token (bulwark rpc-token prints it)'),
            methods: z.array(z.string().regex(METHOD_PATTERN, 'a method is an exact name (eth_call), a namespace wildcard (eth_*) or * for all')).min(1, 'a token needs at least one method'),
          })
          .strict(),
      )
      .min(1, 'the auth file lists no tokens: nobody could call the endpoint'),
  })
  .strict();

export type RpcAuthConfig = z.infer<typeof rpcAuthFileSchema>;
export type RpcAuthToken = RpcAuthConfig['tokens'][number];

/** Validates an auth file's parsed JSON; the error names the field that is wrong. */
export function parseRpcAuthConfig(json: unknown): RpcAuthConfig {
  const r = rpcAuthFileSchema.safeParse(json);
  if (r.success) {
    const names = new Set<string>();
    for (const t of r.data.tokens) {
      if (names.has(t.name)) throw new Error(`token name "${t.name}" appears twice`);
      names.add(t.name);
    }
    return r.data;
  }
  const issue = r.error.issues[0]!;
  const where = issue.path.length === 0 ? 'the file' : issue.path.join('.');
  throw new Error(`${where}: ${issue.message}`);
}

export function isMethodPattern(p: string): boolean {
  return METHOD_PATTERN.test(p);
}

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh token (32 random bytes, hex) and the entry to add to the auth file. */
export function newRpcToken(name: string, methods: readonly string[]): { token: string; entry: RpcAuthToken } {
  const token = randomBytes(32).toString('hex');
  return { token, entry: { name, sha256: sha256Hex(token), methods: [...methods] } };
}

/** A caller whose token checked out: its name and what it may call. */
export interface Grant {
  readonly name: string;
  allows(method: string): boolean;
}

export const OPEN_GRANT: Grant = { name: '', allows: () => true };

interface Held {
  readonly name: string;
  readonly digest: Buffer;
  readonly exact: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly all: boolean;
}

export class TokenAuthenticator {
  readonly #held: readonly Held[];

  constructor(config: RpcAuthConfig) {
    this.#held = config.tokens.map((t) => ({
      name: t.name,
      digest: Buffer.from(t.sha256.replace(/^0x/, '').toLowerCase(), 'hex'),
      exact: new Set(t.methods.filter((m) => !m.endsWith('*'))),
      prefixes: t.methods.filter((m) => m.endsWith('_*')).map((m) => m.slice(0, -1)),
      all: t.methods.includes('*'),
    }));
  }

  /**
   * Checks an `Authorization` header. The presented token is hashed and its digest compared with
   * every held digest in constant time (all of them, whatever matches), so timing tells nothing
   * about how close a guess was nor which entry matched.
   */
  check(header: string | undefined): { readonly ok: true; readonly grant: Grant } | { readonly ok: false; readonly reason: 'auth_missing' | 'auth_invalid'; readonly message: string } {
    if (header === undefined || header.trim() === '') return { ok: false, reason: 'auth_missing', message: 'missing token' };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
    if (m === null) return { ok: false, reason: 'auth_invalid', message: 'invalid token' };
    const digest = createHash('sha256').update(m[1]!, 'utf8').digest();
    let found: Held | undefined;
    for (const h of this.#held) {
      if (timingSafeEqual(digest, h.digest) && found === undefined) found = h;
    }
    if (found === undefined) return { ok: false, reason: 'auth_invalid', message: 'invalid token' };
    const h = found;
    return { ok: true, grant: { name: h.name, allows: (method) => h.all || h.exact.has(method) || h.prefixes.some((p) => method.startsWith(p)) } };
  }
}

// ---------------------------------------------------------------------------------------------
// CORS

/**
 * The origins browsers may call from. Empty (the default, as go-ethereum's `--http.corsdomain`):
 * no CORS headers at all, so browsers neither send preflighted requests (JSON, Authorization) nor
 * let pages read answers; requests with an Origin header are still served, as geth serves them
 * (browser extensions such as wallets send one). Non-empty: a listed origin (or `*`) gets the CORS
 * headers, any other Origin is refused with 403. A request without Origin (not from a browser) is
 * always let through.
 */
export class CorsPolicy {
  readonly #origins: ReadonlySet<string>;
  readonly #any: boolean;

  constructor(origins: readonly string[]) {
    this.#origins = new Set(origins.map((o) => normalizeOrigin(o)).filter((o) => o !== '' && o !== '*'));
    this.#any = origins.some((o) => o.trim() === '*');
  }

  get enabled(): boolean {
    return this.#any || this.#origins.size > 0;
  }

  /** The Access-Control-Allow-Origin value for this Origin, null if it is refused, undefined if no header is due. */
  allowOrigin(origin: string | undefined): string | null | undefined {
    if (origin === undefined || !this.enabled) return undefined;
    if (this.#any) return '*';
    return this.#origins.has(normalizeOrigin(origin)) ? origin : null;
  }

  /**
   * WebSocket upgrades: browsers apply no CORS to them, so the server checks the Origin itself
   * (cross-site WebSocket hijacking). Listed origins pass; with no list, only localhost pages do,
   * as in go-ethereum's default `--ws.origins`.
   */
  allowsWebSocket(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.enabled) return this.allowOrigin(origin) !== null;
    try {
      const host = new URL(origin).hostname;
      return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
    } catch {
      return false;
    }
  }
}

function normalizeOrigin(o: string): string {
  return o.trim().replace(/\/+$/, '').toLowerCase();
}

export const CORS_ALLOW_METHODS = 'POST, OPTIONS';
export const CORS_ALLOW_HEADERS = 'Authorization, Content-Type';

// ---------------------------------------------------------------------------------------------
// Rate limit

export interface RateLimit {
  /** Calls per second per client address (each call of a batch counts); 0 = unlimited. */
  readonly perSecond: number;
  /** Bucket size: calls allowed at once after a quiet spell (default: one second's worth). */
  readonly burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per client address; idle addresses are forgotten once their bucket is full. */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;
  #sinceSweep = 0;

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    this.#rate = limit.perSecond;
    this.#burst = Math.max(1, limit.burst ?? limit.perSecond);
    this.#now = now;
  }

  get burst(): number {
    return this.#burst;
  }

  get perSecond(): number {
    return this.#rate;
  }

  /** Takes `n` tokens for `address`; false (and nothing taken) if the bucket does not hold them. */
  take(address: string, n: number): boolean {
    if (this.#rate <= 0) return true;
    const now = this.#now();
    if (++this.#sinceSweep >= 1_000) this.#sweep(now);
    let b = this.#buckets.get(address);
    if (b === undefined) {
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(address, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
      b.at = now;
    }
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  }

  #sweep(now: number): void {
    this.#sinceSweep = 0;
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#rate >= this.#burst) this.#buckets.delete(k);
    }
  }
}
