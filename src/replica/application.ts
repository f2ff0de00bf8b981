/**
 * The application a replica's shell (`replica-node.ts`) runs consensus over, as the shell uses it:
 * executes each committed batch (the state machine's `execute` output) and reports what it has
 * executed (`state`, from which `restoreReplica` starts), and serves client nodes beside consensus —
 * where its chain stands (`head`), canonical blocks for their mirrors (`block`), and state reads
 * (`reads`). `EthereumApp` (the executor and the EVM on the replica's store) is the production one;
 * the simulator can run the shell on a lighter one (`test/sim/harness/fake-app.ts`).
 */
import type { BlockParts, ClientRequest, ExecSummary, ReadReply, ReadRequest, SnapshotItemRef, SnapshotManifest } from '../codec/messages.ts';
import type { Clock } from '../common/clock.ts';
import type { AppState } from '../consensus/replica.ts';
import type { KeyRecord, NodeKeyRecord, OperatorState } from '../ledger/reserved-pages.ts';

export interface AppExecution {
  readonly summary: ExecSummary;
  /** One encoded `RequestResult` per request, in order. */
  readonly results: Uint8Array[];
  /** Whether a block was made. */
  readonly block: boolean;
  /** What the block holds, when one was made (metrics: transactions and gas per second). */
  readonly made?: { readonly transactions: number; readonly gasUsed: number };
}

/** A canonical block as mirrors take it (`BlockData`): RLP header, body, receipts and, while kept, its state changes. */
export type RawBlock = BlockParts;

/**
 * State reads for client nodes: a signed answer, or `busy` / `behind`, which are left unanswered
 * (neither is a fact other replicas would sign the same way). `ReadService` for `EthereumApp`.
 */
export interface ReplicaReads {
  answer(clientId: number, m: ReadRequest): Promise<ReadReply | 'busy' | 'behind'>;
}

export interface ReplicaApplication {
  /** What has been executed: the last sequence number and summary, the client table, the published keys. */
  state(): AppState;
  /**
   * Executes one committed batch's fresh requests, and durably records with it what the state
   * machine hands over (published keys, its own requests, the operator's state), atomically.
   * Batches come in order of sequence number, one at a time.
   */
  execute(
    seq: number,
    timestamp: number,
    requests: readonly ClientRequest[],
    keyRecords?: readonly KeyRecord[],
    internal?: readonly ClientRequest[],
    operator?: OperatorState | null,
    nodeKeyRecords?: readonly NodeKeyRecord[],
  ): Promise<AppExecution>;
  /** The newest block: its number and hash. */
  head(): { readonly number: number; readonly hash: Uint8Array };
  /** Canonical block `n`; undefined when there is none (yet). */
  block(n: number): Promise<RawBlock | undefined>;
  /** The read service, signing its answers with `sign` and waiting (for a block not reached yet) on `clock`. */
  reads(sign: (bytes: Uint8Array) => Uint8Array, clock: Clock): ReplicaReads;
  /** Memory held in caches, estimated, in bytes (metrics). */
  cacheBytes(): number;
  /** The snapshots this replica serves to joining ones (`SnapshotSource`); none when absent. */
  snapshots?(): SnapshotServer;
}

/** Snapshots as the shell serves them (`snapshot-source.ts`). */
export interface SnapshotServer {
  /** The manifest of checkpoint `seq` (0: the newest kept at or below `stable`). */
  manifest(id: number, seq: number, stable: number): Promise<SnapshotManifest>;
  /** State items by hash, in order; empty for those not held. */
  items(refs: readonly SnapshotItemRef[]): Promise<Uint8Array[]>;
}
