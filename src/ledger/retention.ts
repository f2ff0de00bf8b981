/**
 * How far back a pruned replica keeps its ordered batches (`replica/pruning.ts`): meta
 * "batches-from" is the lowest sequence number still stored, 1 (all of them) when absent.
 * `verify-ledger` checks the batches from there on.
 */
import { PREFIX, type BatchOp, type KvStore } from '../storage/index.ts';

const BATCHES_FROM_KEY = Uint8Array.of(PREFIX.meta, ...new TextEncoder().encode('batches-from'));

export async function readBatchesFrom(kv: KvStore): Promise<number> {
  const v = await kv.get(BATCHES_FROM_KEY);
  return v === undefined || v.length !== 8 ? 1 : Number(new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0));
}

export function batchesFromOp(seq: number): BatchOp {
  return { type: 'put', key: BATCHES_FROM_KEY, value: seqKey(seq) };
}

/** The key of ordered batch `seq` (uint64 BE, as `replica/consensus-store.ts` writes it). */
export function orderedBatchKey(seq: number): Uint8Array {
  return Uint8Array.of(PREFIX.orderedBatches, ...seqKey(seq));
}

function seqKey(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}
