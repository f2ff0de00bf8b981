/**
 * Checks a block that came from someone else (a client node's mirror fetching from a replica)
 * before it is stored: the header hashes to the certified hash, the transactions and receipts are
 * the ones its roots commit to, and every stored receipt field is either covered by the receipt
 * root or derived here (gas used per transaction from the cumulative gas, the created contract's
 * address from the sender and nonce), never taken on trust.
 */
import { createBlockFromBytesArray, type Block } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { RLP } from '@ethereumjs/rlp';
import { createContractAddress } from '@ethereumjs/util';
import { equalBytes, toHex } from '../common/bytes.ts';
import { BulwarkError } from '../common/errors.ts';
import { decodeReceipts, encodeConsensusReceipt, type TxReceipt } from '../ledger/receipt.ts';
import { listRoot } from './assemble.ts';
import { TX_OPTIONS_PARAMS } from './common.ts';

export interface VerifiedBlock {
  readonly block: Block;
  readonly receipts: readonly TxReceipt[];
  /** The transactions' canonical encodings, as `BlockStore.putBlockOps` takes them. */
  readonly rawTxs: readonly Uint8Array[];
}

function invalid(message: string, details: Record<string, unknown> = {}): BulwarkError {
  return new BulwarkError('BLOCK_INVALID', message, details);
}

export async function verifyBlock(
  common: Common,
  parts: { header: Uint8Array; body: Uint8Array; receipts: Uint8Array },
  expectedHash: Uint8Array,
): Promise<VerifiedBlock> {
  let block: Block;
  let txItems: unknown[];
  try {
    const body = RLP.decode(parts.body) as unknown[];
    txItems = body[0] as unknown[];
    block = createBlockFromBytesArray([RLP.decode(parts.header), ...body] as Parameters<typeof createBlockFromBytesArray>[0], {
      common,
      setHardfork: false,
      params: TX_OPTIONS_PARAMS,
    });
  } catch (cause) {
    throw new BulwarkError('BLOCK_INVALID', 'block does not decode', {}, { cause });
  }
  if (!equalBytes(block.hash(), expectedHash)) {
    throw invalid(`block hash ${toHex(block.hash())} is not the certified ${toHex(expectedHash)}`);
  }
  const rawTxs = txItems.map((item) => (item instanceof Uint8Array ? item : RLP.encode(item as Uint8Array[])));
  if (!equalBytes(await listRoot(rawTxs), block.header.transactionsTrie)) throw invalid('transactions do not match the transactions root');
  let stored: TxReceipt[];
  try {
    stored = decodeReceipts(parts.receipts);
  } catch (cause) {
    throw new BulwarkError('BLOCK_INVALID', 'receipts do not decode', {}, { cause });
  }
  if (stored.length !== block.transactions.length) throw invalid(`${stored.length} receipts for ${block.transactions.length} transactions`);
  let previous = 0n;
  const receipts: TxReceipt[] = stored.map((r, i) => {
    const tx = block.transactions[i]!;
    if (r.txType !== tx.type) throw invalid(`receipt ${i} has type ${r.txType}, its transaction ${tx.type}`);
    const gasUsed = r.cumulativeGasUsed - previous;
    if (gasUsed < 0n) throw invalid(`receipt ${i}: cumulative gas goes down`);
    previous = r.cumulativeGasUsed;
    const contractAddress = tx.to === undefined && r.status === 1 ? createContractAddress(tx.getSenderAddress(), tx.nonce).bytes : undefined;
    return { ...r, gasUsed, contractAddress };
  });
  // Each receipt's type was checked against its transaction's above.
  const encodings = receipts.map(encodeConsensusReceipt);
  if (!equalBytes(await listRoot(encodings), block.header.receiptTrie)) throw invalid('receipts do not match the receipts root');
  if (previous !== block.header.gasUsed) throw invalid(`receipts use ${previous} gas, the header says ${block.header.gasUsed}`);
  return { block, receipts, rawTxs };
}
