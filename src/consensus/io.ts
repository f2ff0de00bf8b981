/**
 * The state machine's inputs and outputs. Everything that touches the world is an output the shell
 * carries out, in order: `persist` before any later `send` in the same step (the write-ahead rule),
 * `execute` strictly in sequence order and answered by an `executed` input.
 */
import type { Batch, BlockNotice, ClientRequest, ExecSummary, Message, ReplicaMessage, Reply } from '../codec/messages.ts';
import type { PersistRecord } from './records.ts';
import type { KeyRecord } from '../codec/reserved-pages.ts';
import type { NodeKeyKind, NodeKeyRecord } from '../codec/reserved-pages.ts';
import type { OperatorState } from '../codec/reserved-pages.ts';

export type Input =
  /** A frame from `from`, whose id the transport took from the pinned certificate. */
  | { readonly kind: 'message'; readonly from: number; readonly message: Message; readonly now?: number }
  /** The clock. The shell delivers one at (or after) each `wakeAt` and may deliver more. */
  | { readonly kind: 'tick'; readonly now: number }
  /** The application executed `seq`: its summary and one result per executed request, in order. */
  | {
      readonly kind: 'executed';
      readonly now?: number;
      readonly seq: number;
      readonly summary: ExecSummary;
      readonly results: readonly Uint8Array[];
    };

/** Why an input was refused: counted by the shell in `bulwark_consensus_rejected_total{reason}`. */
export type RejectReason =
  | 'not-a-replica'
  | 'not-a-client'
  | 'wrong-client-id'
  | 'bad-request-signature'
  | 'request-too-large'
  | 'client-queue-full'
  | 'not-primary'
  | 'wrong-view'
  | 'outside-window'
  | 'bad-batch'
  | 'bad-timestamp'
  | 'equivocation'
  | 'bad-share'
  | 'bad-certificate'
  | 'bad-checkpoint'
  | 'bad-view-change'
  | 'bad-new-view'
  | 'unexpected-message'
  | 'rate-limited';

export type ConsensusEvent =
  | { readonly event: 'committed'; readonly seq: number; readonly view: number; readonly path: 'fast' | 'slow' | 'catch-up' | 'new-view' }
  | { readonly event: 'complained'; readonly view: number; readonly reason: string }
  | { readonly event: 'view-change-started'; readonly view: number; readonly reason: string }
  | { readonly event: 'view-entered'; readonly view: number; readonly primary: number }
  | { readonly event: 'checkpoint-stable'; readonly seq: number }
  | { readonly event: 'catching-up'; readonly from: number; readonly target: number; readonly source: number }
  | { readonly event: 'bad-share-excluded'; readonly seq: number; readonly replica: number }
  | { readonly event: 'key-published'; readonly replica: number; readonly epoch: number; readonly effectiveSeq: number }
  | { readonly event: 'node-key-published'; readonly kind: NodeKeyKind; readonly node: number; readonly epoch: number; readonly effectiveSeq: number };

export type Output =
  | {
      readonly kind: 'send';
      readonly to: readonly number[];
      readonly message: ReplicaMessage | Reply | BlockNotice | { type: 'Request'; request: ClientRequest };
    }
  | { readonly kind: 'persist'; readonly records: readonly PersistRecord[] }
  | {
      readonly kind: 'execute';
      readonly seq: number;
      /** The block timestamp: the batch's, raised to the previous one's if lower. */
      readonly timestamp: number;
      /**
       * The batch's client-node requests not executed before, in order, for the application; may
       * be empty (a null batch, or one of key exchanges only).
       */
      readonly requests: readonly ClientRequest[];
      readonly batch: Batch;
      /** Keys this batch published: reserved pages, written with the batch's block. */
      readonly keyRecords: readonly KeyRecord[];
      /** Execution, authentication and TLS keys this batch published: reserved pages likewise. */
      readonly nodeKeyRecords: readonly NodeKeyRecord[];
      /**
       * The replicas' own requests (key exchanges) this batch executed in the state machine: the
       * application records them in the client table with the others (exactly-once).
       */
      readonly internal: readonly ClientRequest[];
      /** The operator state after this batch's operator commands, to be written with it (null: unchanged). */
      readonly operator: OperatorState | null;
    }
  /** Read committed batches `fromSeq..toSeq` from the ledger and send them to `to` as CommittedBatch. */
  | { readonly kind: 'serve'; readonly to: number; readonly fromSeq: number; readonly toSeq: number }
  | { readonly kind: 'reject'; readonly from: number; readonly reason: RejectReason; readonly detail?: string }
  | { readonly kind: 'event'; readonly detail: ConsensusEvent }
  /** Execution here disagrees with a stable checkpoint: stop; the replica's state is wrong. */
  | { readonly kind: 'fatal'; readonly reason: string };

export interface StepResult {
  readonly outputs: Output[];
  /** When the machine next needs a `tick` (absolute ms), or null. */
  readonly wakeAt: number | null;
}
