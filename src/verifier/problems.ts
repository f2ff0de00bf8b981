/**
 * What `verify-ledger` reports: the first inconsistency (its kind, the record, what was expected and
 * what was found) or the counts of what was checked. Every check ends the run at its first problem
 * by throwing `Inconsistent` (`fail`), caught at the top (`verify-ledger.ts`).
 */
import { isBulwarkError } from '../common/errors.ts';

export type LedgerRole = 'replica' | 'client';

/** What failed; stable identifiers for tests and scripts (the message says it for people). */
export type InconsistencyKind =
  | 'chain-config'
  | 'configuration'
  | 'genesis'
  | 'canonical-gap'
  | 'snapshot-base'
  | 'header-missing'
  | 'header-hash'
  | 'header-decode'
  | 'block-number'
  | 'parent-hash'
  | 'body-missing'
  | 'body-decode'
  | 'transactions-root'
  | 'receipts-missing'
  | 'receipts-decode'
  | 'receipt'
  | 'receipts-root'
  | 'logs-bloom'
  | 'gas-used'
  | 'tx-index'
  | 'bloom-index'
  | 'key-table'
  | 'head'
  | 'state-node'
  | 'code'
  | 'ordered-batch'
  | 'commit-certificate'
  | 'stable-checkpoint'
  | 'execution-progress'
  | 'block-certificate'
  | 'checkpoint-certificate'
  | 'local-state';

export interface LedgerInconsistency {
  readonly kind: InconsistencyKind;
  /** The record: `block 5 (0x…)`, `ordered batch 12`, `stable checkpoint 8`, … */
  readonly where: string;
  readonly what: string;
  readonly expected?: string;
  readonly found?: string;
}

export interface LedgerCounts {
  blocks: number;
  transactions: number;
  orderedBatches: number;
  commitCertificates: number;
  stableCheckpoint: number | null;
  blockCertificates: number;
  checkpointCertificates: number;
  /** Kept checkpoints naming blocks the mirror does not hold yet (checked, not matched). */
  checkpointsAhead: number;
  stateNodes: number;
  codes: number;
  /** A ledger installed from a snapshot: where it starts (below, headers only), and the headers checked below it. */
  snapshot: { readonly seq: number; readonly block: number; readonly headers: number } | null;
  /** Configuration epochs (replica sets) the store records, each checked against its own (1: never reconfigured). */
  configurationEpochs: number;
  /** Block states a pruned store no longer holds (blocks below its meta "state-from"): not checked. */
  statesPruned: number;
  /** Ordered batches a pruned replica no longer holds (below its meta "batches-from"): not checked. */
  orderedBatchesPruned: number;
}

export interface LedgerHead {
  readonly number: bigint;
  readonly hash: string;
}

export type VerifyLedgerResult =
  | {
      readonly ok: true;
      readonly role: LedgerRole;
      readonly head: LedgerHead;
      readonly counts: LedgerCounts;
      /** A client node's own executed state (`<dir>/state`), when it has one: its head, every block of it checked. */
      readonly localState?: LedgerHead;
    }
  | { readonly ok: false; readonly role: LedgerRole; readonly problem: LedgerInconsistency; readonly counts: LedgerCounts };

/** One line: `<where>: <what> (expected …, found …)`. */
export function describeInconsistency(p: LedgerInconsistency): string {
  const diff = p.expected === undefined && p.found === undefined ? '' : ` (expected ${p.expected ?? '—'}, found ${p.found ?? '—'})`;
  return `${p.where}: ${p.what}${diff}`;
}

/** Thrown inside the checker and caught at its top: the first problem ends the run. */
export class Inconsistent extends Error {
  constructor(readonly problem: LedgerInconsistency) {
    super(describeInconsistency(problem));
  }
}

export function fail(kind: InconsistencyKind, where: string, what: string, expected?: string, found?: string): never {
  throw new Inconsistent({ kind, where, what, ...(expected === undefined ? {} : { expected }), ...(found === undefined ? {} : { found }) });
}

/**
 * Runs `read` over the store's records; one that does not decode (`LEDGER_CORRUPT`, as `ledger/`'s
 * repositories throw it) is the problem `kind` at `where` — `what`, or the decoder's own message.
 * Any other error, the checks' own problems included, passes through.
 */
export async function readOrFail<T>(kind: InconsistencyKind, where: string, read: () => Promise<T>, what?: string): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isBulwarkError(err, 'LEDGER_CORRUPT')) fail(kind, where, what ?? `does not decode: ${err.message}`);
    throw err;
  }
}

export function emptyCounts(): LedgerCounts {
  return {
    blocks: 0,
    transactions: 0,
    orderedBatches: 0,
    commitCertificates: 0,
    stableCheckpoint: null,
    blockCertificates: 0,
    checkpointCertificates: 0,
    checkpointsAhead: 0,
    stateNodes: 0,
    snapshot: null,
    configurationEpochs: 1,
    codes: 0,
    statesPruned: 0,
    orderedBatchesPruned: 0,
  };
}
