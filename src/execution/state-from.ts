/**
 * Which blocks' states a store holds. An archive holds every one (from block 0); a pruned replica
 * (`prune.ts`) or one started from a state snapshot holds them from some block on, recorded in
 * meta "state-from" so that a read below it is refused with `STATE_PRUNED` rather than answered
 * from a trie with nodes missing — which would read as absent accounts: a wrong answer, not an error.
 */
import { BulwarkError } from '../common/errors.ts';
import { PREFIX } from '../storage/prefixes.ts';
import type { BatchOp, KvStore } from '../storage/kvstore.ts';

const STATE_FROM_KEY = Uint8Array.of(PREFIX.meta, ...new TextEncoder().encode('state-from'));

/** The oldest block whose state the store holds; 0 when the key is absent (an archive). */
export async function readStateFrom(kv: KvStore): Promise<bigint> {
  const v = await kv.get(STATE_FROM_KEY);
  if (v === undefined) return 0n;
  if (v.length !== 8) throw new BulwarkError('LEDGER_CORRUPT', `meta "state-from" is ${v.length} bytes, not 8`, { location: kv.location });
  return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0);
}

export function stateFromOp(block: bigint): BatchOp {
  const value = new Uint8Array(8);
  new DataView(value.buffer).setBigUint64(0, block);
  return { type: 'put', key: STATE_FROM_KEY, value };
}

/** A read of a block whose state is gone. `floor` is left out where the answer is signed and compared. */
export function statePrunedMessage(block: bigint, floor?: bigint): string {
  const kept = floor === undefined ? 'it keeps the state of recent blocks only' : `this node retains blocks ≥ ${floor}`;
  return `state of block ${block} is pruned (STATE_PRUNED); ${kept}`;
}

export class StatePrunedError extends BulwarkError<'STATE_PRUNED'> {
  constructor(readonly block: bigint, readonly floor: bigint) {
    super('STATE_PRUNED', statePrunedMessage(block, floor), { block: Number(block), stateFrom: Number(floor) });
  }
}

/** Throws `STATE_PRUNED` when block `n`'s state is below `source`'s floor (`Executor.stateFrom`). */
export function assertStateKept(source: { readonly stateFrom?: bigint }, n: bigint): void {
  const floor = source.stateFrom ?? 0n;
  if (n < floor) throw new StatePrunedError(n, floor);
}
