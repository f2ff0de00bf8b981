/**
 * Stateless checks on a raw transaction, in a fixed order so every replica gives the same reason for
 * the same bytes. Stateful checks (nonce, funds, block gas) happen in the executor against the state
 * as earlier transactions of the block left it.
 */
import type { Common } from '@ethereumjs/common';
import { RLP } from '@ethereumjs/rlp';
import { createTxFromRLP, type TypedTransaction } from '@ethereumjs/tx';
import { bytesToBigInt } from '@ethereumjs/util';
import { keccak256 } from '../crypto/hash.ts';
import type { ChainConfig } from './chain-config.ts';
import { TX_OPTIONS_PARAMS } from './common.ts';

export type RejectReason =
  | 'TX_OVERSIZED'
  | 'TX_MALFORMED'
  | 'TX_UNSUPPORTED_TYPE'
  | 'TX_UNPROTECTED'
  | 'TX_WRONG_CHAIN'
  | 'TX_BAD_SIGNATURE'
  | 'TX_INTRINSIC_GAS_TOO_LOW'
  | 'TX_GAS_ABOVE_BLOCK_LIMIT'
  | 'TX_BLOCK_GAS_EXHAUSTED'
  | 'TX_FEE_BELOW_BASE_FEE'
  | 'TX_NONCE_TOO_LOW'
  | 'TX_NONCE_TOO_HIGH'
  | 'TX_INSUFFICIENT_FUNDS'
  | 'TX_SENDER_NOT_EOA'
  | 'TX_INVALID';

export class TxRejection extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
    this.name = 'TxRejection';
  }
}

/** Types a permissioned ledger accepts: legacy, EIP-2930 and EIP-1559 (no blobs: no sidecars here). */
const SUPPORTED_TYPES = new Set([0, 1, 2]);

/** Reads the chain id the signer committed to, before full decoding (which would only say "invalid"). */
function signedChainId(raw: Uint8Array): { type: number; chainId: bigint | undefined } {
  const first = raw[0];
  if (first === undefined) throw new TxRejection('TX_MALFORMED', 'empty transaction');
  if (first <= 0x7f) {
    if (!SUPPORTED_TYPES.has(first)) {
      throw new TxRejection('TX_UNSUPPORTED_TYPE', `transaction type ${first} is not accepted`);
    }
    const fields = RLP.decode(raw.subarray(1));
    if (!Array.isArray(fields) || !(fields[0] instanceof Uint8Array)) {
      throw new TxRejection('TX_MALFORMED', 'typed transaction is not an RLP list');
    }
    return { type: first, chainId: bytesToBigInt(fields[0]) };
  }
  const fields = RLP.decode(raw);
  if (!Array.isArray(fields) || fields.length !== 9 || !(fields[6] instanceof Uint8Array)) {
    throw new TxRejection('TX_MALFORMED', 'legacy transaction is not a 9-item RLP list');
  }
  const v = bytesToBigInt(fields[6]);
  return { type: 0, chainId: v >= 35n ? (v - 35n) / 2n : undefined };
}

/**
 * Decodes and checks everything that does not depend on state. The full decode comes first (one RLP
 * pass for the common, valid case); only bytes that fail it are looked at again, to tell a wrong
 * chain id or missing replay protection apart from plain malformation.
 */
export function decodeAndCheck(raw: Uint8Array, config: ChainConfig, common: Common, blockGasLimit: bigint): TypedTransaction {
  if (raw.length > config.maxTxBytes) {
    throw new TxRejection('TX_OVERSIZED', `transaction is ${raw.length} bytes, limit ${config.maxTxBytes}`);
  }
  const first = raw[0];
  if (first !== undefined && first <= 0x7f && !SUPPORTED_TYPES.has(first)) {
    throw new TxRejection('TX_UNSUPPORTED_TYPE', `transaction type ${first} is not accepted`);
  }
  let tx: TypedTransaction;
  try {
    tx = createTxFromRLP(raw, { common, params: TX_OPTIONS_PARAMS });
  } catch (e) {
    throw whyUndecodable(raw, config, e);
  }
  // ethereumjs decodes only canonical encodings, so the hash is that of the bytes as received: set
  // here, it spares `hash()` serialising the transaction again (it would cache the same value).
  if (Object.isFrozen(tx)) tx.cache.hash ??= keccak256(raw);
  // A decoded typed or EIP-155 transaction carries this chain's id (ethereumjs refuses any other).
  if (tx.type === 0 && (tx.v === 27n || tx.v === 28n)) checkReplayProtection(undefined, config);
  if (!tx.isSigned() || !tx.verifySignature()) {
    throw new TxRejection('TX_BAD_SIGNATURE', 'signature is missing, malformed or does not recover');
  }
  const intrinsic = tx.getIntrinsicGas();
  if (tx.gasLimit < intrinsic) {
    throw new TxRejection('TX_INTRINSIC_GAS_TOO_LOW', `gas limit ${tx.gasLimit} below intrinsic gas ${intrinsic}`);
  }
  if (tx.gasLimit > blockGasLimit) {
    throw new TxRejection('TX_GAS_ABOVE_BLOCK_LIMIT', `gas limit ${tx.gasLimit} above block limit ${blockGasLimit}`);
  }
  return tx;
}

function checkReplayProtection(chainId: bigint | undefined, config: ChainConfig): void {
  if (chainId === undefined) {
    if (!config.allowUnprotectedTxs) {
      throw new TxRejection('TX_UNPROTECTED', 'legacy transaction without EIP-155 replay protection');
    }
  } else if (chainId !== config.chainId) {
    throw new TxRejection('TX_WRONG_CHAIN', `signed for chain ${chainId}, this chain is ${config.chainId}`);
  }
}

function whyUndecodable(raw: Uint8Array, config: ChainConfig, cause: unknown): TxRejection {
  try {
    checkReplayProtection(signedChainId(raw).chainId, config);
  } catch (e) {
    if (e instanceof TxRejection) return e;
    return new TxRejection('TX_MALFORMED', `undecodable transaction: ${firstLine(e)}`);
  }
  return new TxRejection('TX_MALFORMED', `invalid transaction: ${firstLine(cause)}`);
}

export function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]?.replace(/ \(block number=.*$/, '').replace(/ \(.*-> .*\)$/, '') ?? msg;
}
