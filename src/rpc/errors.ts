/**
 * JSON-RPC errors with go-ethereum's codes and wording, so libraries that match on them (ethers,
 * viem, web3.js) behave as they do against geth.
 */
export const RPC_CODES = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  /** go-ethereum's generic server error: pool refusals, execution failures. */
  server: -32000,
  /** A limit (batch size, body size, rate) was exceeded. */
  limitExceeded: -32005,
  /** `execution reverted`, with the revert data. */
  revert: 3,
} as const;

export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
}

export function invalidParams(index: number, why: string): RpcError {
  return new RpcError(RPC_CODES.invalidParams, `invalid argument ${index}: ${why}`);
}
