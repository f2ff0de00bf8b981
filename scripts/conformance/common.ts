/** What both runners (ours and the ethereumjs baseline) share: the block, BLOCKHASH, logs hash, verdict. */
import type { HeaderData } from '@ethereumjs/block';
import type { EVMMockBlockchainInterface } from '@ethereumjs/evm';
import { RLP } from '@ethereumjs/rlp';
import { bytesToHex, createAddressFromString, hexToBytes, utf8ToBytes } from '@ethereumjs/util';
import { keccak256 } from '../../src/crypto/hash.ts';
import { parseChainConfig, type ChainConfig } from '../../src/execution/chain-config.ts';
import type { LogEntry } from '../../src/ledger/receipt.ts';
import type { VectorAccount, VectorCase, VectorEnv } from './vectors.ts';

export interface CaseResult {
  readonly id: string;
  readonly passed: boolean;
  readonly expectedRoot: string;
  readonly gotRoot: string;
  readonly expectedLogs: string;
  readonly gotLogs: string;
  /** Why the transaction was refused, when it was. */
  readonly rejection?: string;
  /** Our executor's rejection code (`TX_NONCE_TOO_LOW`, ...), when it refused the transaction. */
  readonly rejectReason?: string;
  /** The vector's own exception name, when it expects the transaction to be invalid. */
  readonly expectException?: string;
}

const ZERO32 = new Uint8Array(32);

/** The vector's block: post-merge (difficulty 0, prevRandao in mixHash), Cancun fields. */
export function headerData(env: VectorEnv): HeaderData {
  return {
    coinbase: createAddressFromString(env.currentCoinbase),
    number: BigInt(env.currentNumber),
    timestamp: BigInt(env.currentTimestamp),
    gasLimit: BigInt(env.currentGasLimit),
    baseFeePerGas: BigInt(env.currentBaseFee),
    mixHash: hexToBytes(env.currentRandom as `0x${string}`),
    difficulty: 0n,
    excessBlobGas: BigInt(env.currentExcessBlobGas),
    blobGasUsed: 0n,
    parentBeaconBlockRoot: ZERO32,
  };
}

/**
 * The chain the vectors assume: chain id 1, unprotected legacy transactions allowed, the largest
 * transaction size our schema accepts, EIP-1559 fees; the pre-state as genesis alloc.
 */
export function vectorChainConfig(pre: Readonly<Record<string, VectorAccount>>): ChainConfig {
  return parseChainConfig({ chainId: 1, allowUnprotectedTxs: true, maxTxBytes: 4 * 1024 * 1024, gasMode: 'market', alloc: pre });
}

/** BLOCKHASH as the test fillers define it (go-ethereum's `vmTestBlockHash`): keccak256 of the decimal number. */
export const vectorBlockHashes: EVMMockBlockchainInterface = {
  async getBlock(n: number) {
    const hash = keccak256(utf8ToBytes(String(n)));
    return { hash: () => hash };
  },
  async putBlock() {},
  shallowCopy() {
    return vectorBlockHashes;
  },
};

export function logsHash(logs: readonly LogEntry[]): string {
  return bytesToHex(keccak256(RLP.encode(logs.map(([address, topics, data]) => [address, [...topics], data]))));
}

export interface Rejection {
  readonly message: string;
  readonly reason?: string;
}

export function verdict(c: VectorCase, root: Uint8Array, logs: string, rejection?: Rejection): CaseResult {
  const gotRoot = bytesToHex(root);
  const expectedRoot = c.post.hash.toLowerCase();
  const expectedLogs = c.post.logs.toLowerCase();
  return {
    id: c.id,
    passed: gotRoot === expectedRoot && logs === expectedLogs,
    expectedRoot,
    gotRoot,
    expectedLogs,
    gotLogs: logs,
    ...(rejection !== undefined ? { rejection: rejection.message } : {}),
    ...(rejection?.reason !== undefined ? { rejectReason: rejection.reason } : {}),
    ...(c.post.expectException !== undefined ? { expectException: c.post.expectException } : {}),
  };
}
