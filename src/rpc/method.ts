/**
 * One definition per JSON-RPC method: its parameters (parsers, trailing ones optional) and its
 * handler. The server checks the parameter list against the definition before the handler runs.
 */
import { RPC_CODES, RpcError, invalidParams } from './errors.ts';
import type { Param } from './params.ts';

type Parsed<P extends readonly Param<unknown>[]> = { [K in keyof P]: P[K] extends Param<infer T> ? T : never };

export interface MethodDef {
  readonly call: (params: unknown, ctx: CallContext) => Promise<unknown>;
}

export interface CallContext {
  /** The transport the call came on (subscriptions need WebSocket). */
  readonly transport: 'http' | 'ws';
  /** The WebSocket connection the call came on, which notifications go back over. */
  readonly connection?: Connection;
  /** Who is calling, for per-caller limits: `token <name>` with bearer tokens, else `address <remote address>`. */
  readonly caller?: string;
}

/** A WebSocket connection as subscriptions see it. */
export interface Connection {
  /** Sends a notification (dropped once the connection is closed). */
  push(message: unknown): void;
  /** Runs `fn` when the connection closes. */
  onClose(fn: () => void): void;
}

/**
 * `required` parameters must be present; `optional` ones may be missing or null (then undefined).
 * More parameters than declared is an error, as in go-ethereum.
 */
export function method<const R extends readonly Param<unknown>[], const O extends readonly Param<unknown>[]>(
  required: R,
  optional: O,
  handler: (args: [...Parsed<R>, ...Partial<Parsed<O>>], ctx: CallContext) => Promise<unknown> | unknown,
): MethodDef {
  const all = [...required, ...optional];
  return {
    async call(params, ctx) {
      const list = params === undefined ? [] : params;
      if (!Array.isArray(list)) throw new RpcError(RPC_CODES.invalidParams, 'non-array args');
      if (list.length > all.length) throw new RpcError(RPC_CODES.invalidParams, `too many arguments, want at most ${all.length}`);
      if (list.length < required.length) throw new RpcError(RPC_CODES.invalidParams, `missing value for required argument ${list.length}`);
      const args = all.map((parse, i) => {
        const v = list[i];
        if (i >= required.length && (v === undefined || v === null)) return undefined;
        if (v === undefined) throw invalidParams(i, 'missing value');
        return parse(v, i);
      });
      return await handler(args as [...Parsed<R>, ...Partial<Parsed<O>>], ctx);
    },
  };
}
