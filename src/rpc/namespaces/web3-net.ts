/** `web3_*`, `net_*` and `eth_chainId`: what identifies the node and its chain. */
import { keccak256 } from '../../crypto/index.ts';
import type { MethodDef } from '../method.ts';
import { method } from '../method.ts';
import { data } from '../params.ts';

export interface IdentityContext {
  readonly chainId: bigint;
  readonly clientVersion: string;
  /** Replica links currently up, for net_peerCount. */
  readonly peerCount: () => number;
}

const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

export function identityMethods(ctx: IdentityContext): Map<string, MethodDef> {
  return new Map<string, MethodDef>([
    ['web3_clientVersion', method([], [], () => ctx.clientVersion)],
    ['web3_sha3', method([data()], [], ([input]) => hex(keccak256(input)))],
    ['net_version', method([], [], () => ctx.chainId.toString())],
    ['net_listening', method([], [], () => true)],
    ['net_peerCount', method([], [], () => `0x${ctx.peerCount().toString(16)}`)],
    ['eth_chainId', method([], [], () => `0x${ctx.chainId.toString(16)}`)],
  ]);
}
