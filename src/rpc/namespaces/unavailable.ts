/**
 * Methods of the execution-apis specification that mean nothing on this chain, each answering an
 * error that says why (after checking its parameters, as go-ethereum does), rather than "method
 * not found", which would suggest a node that merely lacks them:
 *
 * - signing (`eth_sign`, `eth_signTransaction`): a client node holds no Ethereum keys
 *   (`eth_accounts` is empty); go-ethereum's answer for an account it does not manage is
 *   "unknown account" (as `eth_sendTransaction` answers here). Wallets sign, and send with
 *   `eth_sendRawTransaction`.
 * - block access lists (`eth_getBlockAccessList`, `debug_getRawBlockAccessList`): EIP-7928 lists
 *   come with the Amsterdam fork; this chain runs Cancun, whose blocks have none. The code is the
 *   specification's for a resource that does not exist (-32001).
 */
import { RPC_CODES, RpcError } from '../errors.ts';
import { method, type MethodDef } from '../method.ts';
import { address, blockRef, data, type Param } from '../params.ts';

/** The specification's "Resource not found" (eth_getBlockAccessList, debug_getRawBlockAccessList). */
export const RESOURCE_NOT_FOUND = -32001;

const NO_KEYS = 'unknown account: a client node holds no Ethereum keys (eth_accounts is empty); sign in the wallet and send with eth_sendRawTransaction';
const NO_ACCESS_LISTS = 'block access lists (EIP-7928) do not exist on this chain: its blocks follow Cancun, which has none';

/** Any JSON object (the transaction of eth_signTransaction, checked no further: nothing is signed). */
const object: Param<object> = (v, i) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RpcError(RPC_CODES.invalidParams, `invalid argument ${i}: expected a transaction object`);
  return v;
};

export function unavailableMethods(): Map<string, MethodDef> {
  const noKeys = () => {
    throw new RpcError(RPC_CODES.server, NO_KEYS);
  };
  const noAccessLists = () => {
    throw new RpcError(RESOURCE_NOT_FOUND, NO_ACCESS_LISTS);
  };
  return new Map<string, MethodDef>([
    ['eth_sign', method([address, data()], [], noKeys)],
    ['eth_signTransaction', method([object], [], noKeys)],
    ['eth_getBlockAccessList', method([blockRef], [], noAccessLists)],
    ['debug_getRawBlockAccessList', method([blockRef], [], noAccessLists)],
  ]);
}
