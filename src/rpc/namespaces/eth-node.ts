/**
 * What the node and its chain are, in the execution-apis specification's shapes: `eth_coinbase`,
 * `eth_config` (EIP-7910) and `eth_capabilities`.
 *
 * - `eth_coinbase`: go-ethereum answers an error when it has no etherbase (it does not mine). Here
 *   every block's beneficiary is fixed by the chain config (`feeRecipient`, the coinbase every
 *   replica puts in the blocks it proposes), so that address is the honest answer: it is what the
 *   question asks, the account this chain's blocks pay.
 * - `eth_config`: the chain runs one fork, Cancun, from genesis, and schedules none: `current` is
 *   Cancun's configuration, `next` and `last` are null. The fork id is EIP-2124's: the CRC-32 of the
 *   genesis hash, with no fork past genesis to fold in.
 * - `eth_capabilities`: the node keeps every block, transaction, receipt and log since genesis, and
 *   every state (its own local state is never pruned), so every resource is available from block 0
 *   with no deletion strategy. (A client node run with `--no-local-state` in front of `--prune`
 *   replicas gets old state reads refused with STATE_PRUNED: it does not say so here.)
 */
import { crc32 } from 'node:zlib';
import type { Block } from '@ethereumjs/block';
import { hexD, hexQ } from '../format.ts';
import { method, type MethodDef } from '../method.ts';

export interface EthNodeBackend {
  readonly chainId: bigint;
  /** The chain config's fee recipient: every block's coinbase. */
  readonly feeRecipient: Uint8Array;
  readonly genesisHash: Uint8Array;
  head(): Block;
}

/** Cancun's precompiles (go-ethereum's names, as EIP-7910 lists them). */
const CANCUN_PRECOMPILES: Record<string, number> = {
  ECREC: 1,
  SHA256: 2,
  RIPEMD160: 3,
  ID: 4,
  MODEXP: 5,
  BN254_ADD: 6,
  BN254_MUL: 7,
  BN254_PAIRING: 8,
  BLAKE2F: 9,
  KZG_POINT_EVALUATION: 10,
};

/** EIP-4788's beacon roots contract: Cancun's one system contract. */
const BEACON_ROOTS_ADDRESS = '0x000f3df6d732807ef1319fb7b8bb8522d0beac02';

/** EIP-4844's blob schedule for Cancun (target 3, max 6 blobs). */
const CANCUN_BLOB_SCHEDULE = { baseFeeUpdateFraction: 3_338_477, max: 6, target: 3 };

const precompileAddress = (n: number) => `0x${n.toString(16).padStart(40, '0')}`;

/** EIP-2124's fork id with no fork after genesis: CRC-32 (IEEE) of the genesis hash. */
export function forkId(genesisHash: Uint8Array): string {
  return `0x${crc32(genesisHash).toString(16).padStart(8, '0')}`;
}

export function ethNodeMethods(b: EthNodeBackend): Map<string, MethodDef> {
  const config = {
    // Cancun is active from genesis: its activation time is 0, as go-ethereum reports a fork
    // scheduled at the chain's start.
    activationTime: 0,
    blobSchedule: CANCUN_BLOB_SCHEDULE,
    chainId: hexQ(b.chainId),
    forkId: forkId(b.genesisHash),
    precompiles: Object.fromEntries(Object.entries(CANCUN_PRECOMPILES).map(([name, n]) => [name, precompileAddress(n)])),
    systemContracts: { BEACON_ROOTS_ADDRESS },
  };
  const everything = { disabled: false, oldestBlock: '0x0' };
  return new Map<string, MethodDef>([
    ['eth_coinbase', method([], [], () => hexD(b.feeRecipient))],
    ['eth_config', method([], [], () => ({ current: config, next: null, last: null }))],
    [
      'eth_capabilities',
      method([], [], () => {
        const head = b.head();
        return {
          head: { number: hexQ(head.header.number), hash: hexD(head.hash()) },
          state: everything,
          tx: everything,
          logs: everything,
          receipts: everything,
          blocks: everything,
          stateproofs: everything,
        };
      }),
    ],
  ]);
}
