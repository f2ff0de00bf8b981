/**
 * The stored form of a transaction receipt. Only what cannot be derived is kept: the bloom is
 * recomputed from the logs, and sender, recipient and effective gas price come from the transaction
 * and its block. The layout is one RLP list:
 *   [txType, status, cumulativeGasUsed, gasUsed, contractAddress | empty, logs]
 */
import { RLP } from '@ethereumjs/rlp';
import { bigIntToUnpaddedBytes, bytesToBigInt } from '@ethereumjs/util';
import { Bloom, encodeReceipt } from '@ethereumjs/vm';
import { BulwarkError } from '../common/errors.ts';

export type LogEntry = readonly [address: Uint8Array, topics: readonly Uint8Array[], data: Uint8Array];

export interface TxReceipt {
  readonly txType: number;
  readonly status: 0 | 1;
  readonly cumulativeGasUsed: bigint;
  readonly gasUsed: bigint;
  readonly contractAddress: Uint8Array | undefined;
  readonly logs: readonly LogEntry[];
}

export function encodeReceipts(receipts: readonly TxReceipt[]): Uint8Array {
  return RLP.encode(
    receipts.map((r) => [
      bigIntToUnpaddedBytes(BigInt(r.txType)),
      bigIntToUnpaddedBytes(BigInt(r.status)),
      bigIntToUnpaddedBytes(r.cumulativeGasUsed),
      bigIntToUnpaddedBytes(r.gasUsed),
      r.contractAddress ?? new Uint8Array(),
      r.logs.map(([a, t, d]) => [a, [...t], d]),
    ]),
  );
}

function asBytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new BulwarkError('LEDGER_CORRUPT_RECEIPT', `receipt field ${what} is not bytes`);
  return v;
}

function asList(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new BulwarkError('LEDGER_CORRUPT_RECEIPT', `receipt field ${what} is not a list`);
  return v;
}

function decodeLog(v: unknown): LogEntry {
  const [a, t, d] = asList(v, 'log');
  return [asBytes(a, 'log.address'), asList(t, 'log.topics').map((x) => asBytes(x, 'log.topic')), asBytes(d, 'log.data')];
}

export function decodeReceipts(bytes: Uint8Array): TxReceipt[] {
  return asList(RLP.decode(bytes), 'receipts').map((item) => {
    const [type, status, cumulative, gasUsed, contract, logs] = asList(item, 'receipt');
    const contractBytes = asBytes(contract, 'contractAddress');
    return {
      txType: Number(bytesToBigInt(asBytes(type, 'txType'))),
      status: bytesToBigInt(asBytes(status, 'status')) === 1n ? 1 : 0,
      cumulativeGasUsed: bytesToBigInt(asBytes(cumulative, 'cumulativeGasUsed')),
      gasUsed: bytesToBigInt(asBytes(gasUsed, 'gasUsed')),
      contractAddress: contractBytes.length === 0 ? undefined : contractBytes,
      logs: asList(logs, 'logs').map(decodeLog),
    };
  });
}

export function logsBloom(logs: readonly LogEntry[]): Uint8Array {
  const bloom = new Bloom();
  for (const [address, topics] of logs) {
    bloom.add(address);
    for (const t of topics) bloom.add(t);
  }
  return bloom.bitvector;
}

/**
 * A receipt in its consensus encoding (EIP-2718: the type byte, then RLP of status, cumulative gas,
 * bloom and logs), as the receipts root commits to it and `debug_getRawReceipts` returns it.
 */
export function encodeConsensusReceipt(r: TxReceipt): Uint8Array {
  return encodeReceipt(
    { status: r.status, cumulativeBlockGasUsed: r.cumulativeGasUsed, bitvector: logsBloom(r.logs), logs: r.logs.map(([a, t, d]) => [a, [...t], d]) },
    r.txType as Parameters<typeof encodeReceipt>[1],
  );
}
