import type { ReadQuery } from './read.ts';

/**
 * Every message the SBFT protocol sends, as data. The shapes follow Concord-BFT's message set
 * (PrePrepare, the fast path's signature shares and FullCommitProof, the slow path's
 * PrepareFull / CommitPartial / CommitFull, checkpoints, complaints, ViewChange / NewView) plus the
 * catch-up messages (Status, CommittedBatch, StableCheckpoint) and the client's Request / Reply.
 * Their meaning is in `src/consensus/`; their bytes in `./message-codec.ts`.
 */

export const DIGEST_LENGTH = 32;
export const AGGREGATE_SIGNATURE_LENGTH = 96;
export const SHARE_SIGNATURE_LENGTH = 96;
/** Ed25519: client request signatures and replicas' execution signatures. */
export const ED25519_SIGNATURE_LENGTH = 64;

export interface ClientRequest {
  readonly clientId: number;
  /** Strictly increasing per client; (clientId, requestSeq) executes at most once. */
  readonly requestSeq: number;
  readonly flags: number;
  readonly payload: Uint8Array;
  /** The client node's signature over `requestSigningBytes` (Ed25519 in production). */
  readonly signature: Uint8Array;
}

/** What the primary proposes at one sequence number; its digest covers the sequence number too. */
export interface Batch {
  /** Seconds since the epoch, as the Ethereum block will carry it; 0 for a null batch. */
  readonly timestamp: number;
  readonly requests: readonly ClientRequest[];
}

/** A BLS aggregate and the replicas behind it (a bit-vector over the n replicas). */
export interface Certificate {
  readonly signers: Uint8Array;
  readonly signature: Uint8Array;
}

/** Proof that `digest` committed at some sequence number: fast (n − c shares) or slow (CommitFull). */
export interface CommitCertificate {
  readonly kind: 'fast' | 'slow';
  readonly view: number;
  readonly digest: Uint8Array;
  readonly cert: Certificate;
}

/** ⌈(n + f + 1) / 2⌉ shares over (view, seq, digest): the slow path's PrepareFull. */
export interface PrepareCertificate {
  readonly view: number;
  readonly digest: Uint8Array;
  readonly cert: Certificate;
}

/** The state after executing a sequence number, as checkpoints and replies sign it. */
export interface ExecSummary {
  readonly blockNumber: number;
  readonly blockHash: Uint8Array;
  readonly stateRoot: Uint8Array;
  /** Digest of the reserved pages (client reply table, keys, configuration). */
  readonly reservedDigest: Uint8Array;
}

export interface CheckpointCertificate {
  readonly seq: number;
  readonly summary: ExecSummary;
  readonly cert: Certificate;
}

export interface Vote {
  readonly view: number;
  readonly digest: Uint8Array;
}

/** What one replica knows about one sequence number when it leaves a view. */
export interface ViewChangeSlot {
  readonly seq: number;
  readonly commit: CommitCertificate | null;
  readonly prepared: PrepareCertificate | null;
  /** The latest (highest-view) share this replica signed for the slot. */
  readonly vote: Vote | null;
  /** The content of every digest above that this replica holds. */
  readonly batches: readonly Batch[];
}

export interface PrePrepare {
  readonly type: 'PrePrepare';
  readonly view: number;
  readonly seq: number;
  readonly batch: Batch;
}

/** A replica's share over (view, seq, digest): the fast path's vote and the slow path's PreparePartial. */
export interface CommitShare {
  readonly type: 'CommitShare';
  readonly view: number;
  readonly seq: number;
  readonly digest: Uint8Array;
  readonly signature: Uint8Array;
}

export interface FullCommitProof {
  readonly type: 'FullCommitProof';
  readonly view: number;
  readonly seq: number;
  readonly digest: Uint8Array;
  readonly cert: Certificate;
}

export interface PrepareFull {
  readonly type: 'PrepareFull';
  readonly view: number;
  readonly seq: number;
  readonly digest: Uint8Array;
  readonly cert: Certificate;
}

export interface CommitPartial {
  readonly type: 'CommitPartial';
  readonly view: number;
  readonly seq: number;
  readonly digest: Uint8Array;
  readonly signature: Uint8Array;
}

export interface CommitFull {
  readonly type: 'CommitFull';
  readonly view: number;
  readonly seq: number;
  readonly digest: Uint8Array;
  readonly cert: Certificate;
}

export interface Checkpoint {
  readonly type: 'Checkpoint';
  readonly seq: number;
  readonly summary: ExecSummary;
  readonly signature: Uint8Array;
}

export interface StableCheckpoint {
  readonly type: 'StableCheckpoint';
  readonly cert: CheckpointCertificate;
}

/** "I want to leave view `view`" (Concord's ReplicaAsksToLeaveView). */
export interface Complaint {
  readonly type: 'Complaint';
  readonly view: number;
}

export interface ViewChange {
  readonly type: 'ViewChange';
  /** The view being moved to. */
  readonly view: number;
  readonly replica: number;
  readonly stable: CheckpointCertificate | null;
  readonly slots: readonly ViewChangeSlot[];
  /** The replica's consensus-key signature over everything above, so NewView can carry it. */
  readonly signature: Uint8Array;
}

export interface NewView {
  readonly type: 'NewView';
  readonly view: number;
  readonly viewChanges: readonly ViewChange[];
}

/** Sent periodically and when behind; peers answer with what the sender lacks. */
export interface Status {
  readonly type: 'Status';
  readonly view: number;
  readonly viewActive: boolean;
  readonly lastStable: number;
  readonly lastExecuted: number;
  /** The replica asked to serve committed batches, or -1. */
  readonly helpFrom: number;
}

export interface CommittedBatch {
  readonly type: 'CommittedBatch';
  readonly seq: number;
  readonly batch: Batch;
  readonly commit: CommitCertificate;
}

export interface Request {
  readonly type: 'Request';
  readonly request: ClientRequest;
}

/** One request's result inside a Reply, with its proof under the batch's results root. */
export interface ReplyEntry {
  readonly requestSeq: number;
  readonly index: number;
  readonly proof: readonly Uint8Array[];
  readonly result: Uint8Array;
}

/**
 * Everything one batch did for one client: a client node that had many requests in the batch gets
 * one message, not one per request.
 */
export interface Reply {
  readonly type: 'Reply';
  readonly clientId: number;
  /** The sender's current view: an unsigned hint that tells the client which replica leads. */
  readonly view: number;
  readonly seq: number;
  readonly summary: ExecSummary;
  /** Root of the binary Merkle tree over the batch's results; signed with `summary`. */
  readonly resultsRoot: Uint8Array;
  /** Results in the batch: the tree's shape, needed to check the proofs. */
  readonly count: number;
  readonly entries: readonly ReplyEntry[];
  /** The replica's execution-key signature over (seq, summary, resultsRoot). */
  readonly signature: Uint8Array;
}

export type ReplicaMessage =
  | PrePrepare
  | CommitShare
  | FullCommitProof
  | PrepareFull
  | CommitPartial
  | CommitFull
  | Checkpoint
  | StableCheckpoint
  | Complaint
  | ViewChange
  | NewView
  | Status
  | CommittedBatch;

/**
 * Sent by each replica to every client node when a batch made a block: the same execution-key
 * signature as the batch's replies, so f + 1 matching notices certify the block hash for the
 * client node's ledger mirror whether or not it had requests in the batch.
 */
export interface BlockNotice {
  readonly type: 'BlockNotice';
  readonly seq: number;
  readonly summary: ExecSummary;
  readonly resultsRoot: Uint8Array;
  readonly signature: Uint8Array;
}

/** A client node's mirror asks a replica for canonical blocks `fromNumber..toNumber`. */
export interface BlockRequest {
  readonly type: 'BlockRequest';
  readonly fromNumber: number;
  readonly toNumber: number;
}

/**
 * Blocks `fromNumber`, `fromNumber + 1`, … as stored: RLP header, RLP body, stored receipts, and
 * the block's state changes when the replica still holds them (`execution/state-changes.ts`; not
 * certified: a client node applies them only if they lead to the certified state root). The
 * answer to a `BlockRequest` (its `fromNumber`), or a block just made, sent unasked before its
 * `BlockNotice` when it is small. The mirror verifies each (`verifyBlock`).
 */
export interface BlockData {
  readonly type: 'BlockData';
  readonly fromNumber: number;
  readonly blocks: readonly BlockParts[];
}

export interface BlockParts {
  readonly header: Uint8Array;
  readonly body: Uint8Array;
  readonly receipts: Uint8Array;
  readonly changes?: Uint8Array;
}

/**
 * State reads at one block, answered by each replica on its own (no ordering needed). Several
 * queries travel together: the client node gathers the reads of one moment into one request, which
 * each replica answers with one signature.
 */
export interface ReadRequest {
  readonly type: 'ReadRequest';
  readonly id: number;
  readonly blockNumber: number;
  readonly queries: readonly ReadQuery[];
}

/** One query's outcome. `ok` false: the read failed (block not available here, execution error); `result` says why. */
export interface ReadAnswer {
  readonly ok: boolean;
  readonly result: Uint8Array;
}

export interface ReadReply {
  readonly type: 'ReadReply';
  readonly id: number;
  readonly blockNumber: number;
  readonly blockHash: Uint8Array;
  /** One per query, in the request's order. */
  readonly answers: readonly ReadAnswer[];
  /** Execution-key signature over `readReplyBytes`. */
  readonly signature: Uint8Array;
}

/** A client node asks a replica how it stands (for `bft_status`). */
export interface NodeStatusRequest {
  readonly type: 'NodeStatusRequest';
  readonly id: number;
}

/** A replica's own account of where it stands, signed with its execution key (`nodeStatusBytes`). */
export interface NodeStatus {
  readonly type: 'NodeStatus';
  readonly id: number;
  readonly view: number;
  /** False during a view change. */
  readonly active: boolean;
  readonly lastExecuted: number;
  readonly lastStable: number;
  readonly blockNumber: number;
  readonly blockHash: Uint8Array;
  /**
   * The replica's latest stable checkpoint with its certificate (⌈(n + f + 1) / 2⌉ BLS signatures, which
   * authenticate it on their own: it is outside the status signature).
   */
  readonly stable: CheckpointCertificate | null;
  /** The epoch of the consensus key this replica signs its next sequence number with (0: bootstrap). */
  readonly keyEpoch: number;
  /** Every published consensus key record (`consensus/keys.ts` encoding), oldest first. */
  readonly keys: readonly Uint8Array[];
  /** Every published execution, authentication and TLS key record (`consensus/node-keys.ts` encoding). */
  readonly nodeKeys: readonly Uint8Array[];
  /** The operator state of the reserved pages (`consensus/operator.ts` encoding): a client node finds its rotations there. */
  readonly operator: Uint8Array;
  /**
   * The highest request number of the asking client node this replica executed (0: none): nothing
   * at or below it would be executed again, so the client node numbers its next requests above it
   * (`RequestCounter.raise`), even when its own store lost track (restored from an old backup).
   */
  readonly requestSeq: number;
  readonly signature: Uint8Array;
}

/**
 * A replica fetching a snapshot asks a peer (ARCHITECTURE "Snapshots"), beside consensus: with no
 * items, for the manifest of checkpoint `seq` (0: the newest the peer keeps); with items, for state
 * trie nodes and contract code by hash.
 */
export interface SnapshotRequest {
  readonly type: 'SnapshotRequest';
  readonly id: number;
  readonly seq: number;
  readonly items: readonly SnapshotItemRef[];
}

/** One item of state asked for: kind 0 a trie node, 1 contract code (`codec/snapshot.ts`), by its Keccak hash. */
export interface SnapshotItemRef {
  readonly kind: number;
  readonly hash: Uint8Array;
}

/** A peer's manifest of one checkpoint: what a joining replica needs besides the state trie. */
export interface SnapshotManifest {
  readonly type: 'SnapshotManifest';
  readonly id: number;
  /** The checkpoint image (`codec/snapshot.ts`); empty when the peer keeps none for the checkpoint asked. */
  readonly image: Uint8Array;
  /** The headers of up to 256 blocks before the checkpoint's block (what BLOCKHASH reads), oldest first. */
  readonly headers: readonly Uint8Array[];
  /** The checkpoint's block, whole (the executor's head once installed); null with an empty image. */
  readonly block: { readonly header: Uint8Array; readonly body: Uint8Array; readonly receipts: Uint8Array } | null;
}

/** The items asked for, in the order asked; an empty one is an item the peer does not hold. */
export interface SnapshotItems {
  readonly type: 'SnapshotItems';
  readonly id: number;
  readonly items: readonly Uint8Array[];
}

/**
 * A node asks a replica for the network file of configuration epoch `epoch` (a client node whose
 * replicas moved to a later configuration, `node/client.ts`): answered from the replica's record of
 * the files it ran with (`ledger/configurations.ts`). The asker checks the file against the digest
 * f + 1 replicas' operator states name; the answer itself is not trusted.
 */
export interface ConfigurationRequest {
  readonly type: 'ConfigurationRequest';
  readonly id: number;
  readonly epoch: number;
}

/** The network file's canonical text, UTF-8; empty when the replica holds none for the epoch. */
export interface ConfigurationFile {
  readonly type: 'ConfigurationFile';
  readonly id: number;
  readonly epoch: number;
  readonly network: Uint8Array;
}

export type Message =
  | ReplicaMessage
  | Request
  | Reply
  | BlockNotice
  | BlockRequest
  | BlockData
  | ReadRequest
  | ReadReply
  | NodeStatusRequest
  | NodeStatus
  | SnapshotRequest
  | SnapshotManifest
  | SnapshotItems
  | ConfigurationRequest
  | ConfigurationFile;
export type MessageType = Message['type'];
