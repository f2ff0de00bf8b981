/**
 * Blocks, transactions and receipts in the JSON shapes go-ethereum returns, which ethers, viem and
 * web3.js parse. Quantities are minimal hex; a permissioned chain has no proof of work, so
 * difficulty and nonce are zero and there are no uncles.
 */
import { randomBytes } from 'node:crypto';
import type { Block } from '@ethereumjs/block';
import type { TypedTransaction } from '@ethereumjs/tx';
import { createContractAddress } from '@ethereumjs/util';
import { keccak256 } from '../crypto/hash.ts';
import type { TxReceipt } from '../ledger/receipt.ts';
import { logsBloom } from '../ledger/receipt.ts';
import { blockSize } from '../ledger/block-store.ts';

export const hexQ = (v: bigint | number): string => `0x${BigInt(v).toString(16)}`;
export const hexD = (b: Uint8Array): string => `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`;

function effectiveGasPrice(tx: TypedTransaction, baseFee: bigint): bigint {
  if ('maxFeePerGas' in tx) {
    const tip = tx.maxPriorityFeePerGas < tx.maxFeePerGas - baseFee ? tx.maxPriorityFeePerGas : tx.maxFeePerGas - baseFee;
    return baseFee + tip;
  }
  return tx.gasPrice;
}

/**
 * A transaction's hash; an unsigned one's (eth_simulateV1's calls) is the hash of its encoding
 * with an empty signature, as go-ethereum hashes the transactions it simulates.
 */
export function txHash(tx: TypedTransaction): Uint8Array {
  return tx.isSigned() ? tx.hash() : keccak256(tx.serialize());
}

export function formatTx(tx: TypedTransaction, block: Block | null, index: number | null): Record<string, unknown> {
  const j = tx.toJSON();
  const baseFee = block?.header.baseFeePerGas ?? 0n;
  const out: Record<string, unknown> = {
    blockHash: block === null ? null : hexD(block.hash()),
    blockNumber: block === null ? null : hexQ(block.header.number),
    // Required by the execution-apis specification (TransactionInfo), as go-ethereum gives it.
    blockTimestamp: block === null ? null : hexQ(block.header.timestamp),
    from: tx.getSenderAddress().toString(),
    gas: hexQ(tx.gasLimit),
    gasPrice: hexQ(block === null && 'maxFeePerGas' in tx ? tx.maxFeePerGas : effectiveGasPrice(tx, baseFee)),
    hash: hexD(txHash(tx)),
    input: hexD(tx.data),
    nonce: hexQ(tx.nonce),
    to: tx.to === undefined ? null : tx.to.toString(),
    transactionIndex: index === null ? null : hexQ(index),
    value: hexQ(tx.value),
    type: hexQ(tx.type),
    // An unsigned (simulated) transaction's signature reads as zeros, as go-ethereum's do.
    v: j.v ?? '0x0',
    r: j.r ?? '0x0',
    s: j.s ?? '0x0',
  };
  if (tx.type !== 0 || tx.supports(155)) out.chainId = hexQ(tx.common.chainId());
  if ('maxFeePerGas' in tx) {
    out.maxFeePerGas = hexQ(tx.maxFeePerGas);
    out.maxPriorityFeePerGas = hexQ(tx.maxPriorityFeePerGas);
  }
  if (tx.type === 1 || tx.type === 2) {
    out.accessList = j.accessList ?? [];
    out.yParity = j.v ?? '0x0';
  }
  return out;
}

export function formatBlock(block: Block, fullTransactions: boolean): Record<string, unknown> {
  const h = block.header;
  return {
    number: hexQ(h.number),
    hash: hexD(block.hash()),
    parentHash: hexD(h.parentHash),
    nonce: '0x0000000000000000',
    mixHash: hexD(h.mixHash),
    sha3Uncles: hexD(h.uncleHash),
    logsBloom: hexD(h.logsBloom),
    transactionsRoot: hexD(h.transactionsTrie),
    stateRoot: hexD(h.stateRoot),
    receiptsRoot: hexD(h.receiptTrie),
    miner: h.coinbase.toString(),
    difficulty: '0x0',
    totalDifficulty: '0x0',
    extraData: hexD(h.extraData),
    size: hexQ(blockSize(block)),
    gasLimit: hexQ(h.gasLimit),
    gasUsed: hexQ(h.gasUsed),
    timestamp: hexQ(h.timestamp),
    baseFeePerGas: hexQ(h.baseFeePerGas ?? 0n),
    ...(h.withdrawalsRoot === undefined ? {} : { withdrawalsRoot: hexD(h.withdrawalsRoot), withdrawals: [] }),
    ...(h.blobGasUsed === undefined ? {} : { blobGasUsed: hexQ(h.blobGasUsed), excessBlobGas: hexQ(h.excessBlobGas ?? 0n) }),
    ...(h.parentBeaconBlockRoot === undefined ? {} : { parentBeaconBlockRoot: hexD(h.parentBeaconBlockRoot) }),
    transactions: block.transactions.map((tx, i) => (fullTransactions ? formatTx(tx, block, i) : hexD(txHash(tx)))),
    uncles: [],
  };
}

export function formatReceipt(
  tx: TypedTransaction,
  block: Block,
  index: number,
  receipt: TxReceipt,
  firstLogIndex: number,
): Record<string, unknown> {
  const blockHash = hexD(block.hash());
  const blockNumber = hexQ(block.header.number);
  const txHash = hexD(tx.hash());
  const created = tx.to === undefined && receipt.status === 1 ? createContractAddress(tx.getSenderAddress(), tx.nonce).toString() : null;
  return {
    transactionHash: txHash,
    transactionIndex: hexQ(index),
    blockHash,
    blockNumber,
    from: tx.getSenderAddress().toString(),
    to: tx.to === undefined ? null : tx.to.toString(),
    cumulativeGasUsed: hexQ(receipt.cumulativeGasUsed),
    gasUsed: hexQ(receipt.gasUsed),
    effectiveGasPrice: hexQ(effectiveGasPrice(tx, block.header.baseFeePerGas ?? 0n)),
    contractAddress: created,
    logs: receipt.logs.map(([address, topics, data], i) => ({
      address: hexD(address),
      topics: topics.map(hexD),
      data: hexD(data),
      blockNumber,
      blockHash,
      transactionHash: txHash,
      transactionIndex: hexQ(index),
      logIndex: hexQ(firstLogIndex + i),
      removed: false,
    })),
    logsBloom: hexD(logsBloom(receipt.logs)),
    status: hexQ(receipt.status),
    type: hexQ(tx.type),
  };
}

/**
 * A filter or subscription id as go-ethereum makes one (`rpc.NewID`): 16 random bytes as a
 * quantity, leading zeros trimmed — the specification types filter ids as `uint`, which a
 * zero-led hex string is not.
 */
export function rpcId(): string {
  return hexQ(BigInt(`0x${randomBytes(16).toString('hex')}`));
}
