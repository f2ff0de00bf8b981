/**
 * A replica's protocol state. It is owned by one state machine and changed only by `step`; nothing
 * in it refers to a clock, socket or file.
 */
import type {
  Batch,
  Checkpoint,
  CheckpointCertificate,
  ClientRequest,
  CommitCertificate,
  ExecSummary,
  NewView,
  PrepareCertificate,
  Reply,
  Status,
  ViewChange,
  Vote,
} from '../codec/messages.ts';
import { isClientId, type ConsensusConfig, type Quorums } from './config.ts';
import type { ConsensusCrypto } from './crypto.ts';
import type { KeyHistory } from './keys.ts';
import type { KeyRecord } from '../codec/reserved-pages.ts';
import type { NodeKeyRecord } from '../codec/reserved-pages.ts';
import { isValidUnwedge } from './operator.ts';
import type { OperatorState } from '../codec/reserved-pages.ts';
import type { Output } from './io.ts';

export interface Proposal {
  readonly view: number;
  readonly digest: Uint8Array;
  readonly key: string;
  readonly batch: Batch;
}

export interface Slot {
  readonly seq: number;
  /** The proposal accepted in the current view. */
  proposal: Proposal | null;
  /** This replica's latest share (any view), persisted before it was sent. */
  vote: (Vote & { batch: Batch }) | null;
  prepared: PrepareCertificate | null;
  commitVote: Vote | null;
  committed: { batch: Batch; commit: CommitCertificate } | null;
  /** A commit certificate that arrived before its batch. */
  pendingCommit: CommitCertificate | null;
  /** As a collector, this view: shares by replica, and slow-path commit votes by replica. */
  shares: Map<number, { key: string; signature: Uint8Array }>;
  commitVotes: Map<number, { key: string; signature: Uint8Array }>;
  /** Replicas whose share failed verification in this view: excluded from aggregates. */
  badSigners: Set<number>;
  fastProofSent: boolean;
  prepareSent: boolean;
  commitFullSent: boolean;
  /** When this replica first worked on the slot in the current view (fast-path timer, retransmission). */
  since: number;
  lastRetransmit: number;
}

export interface PendingRequest {
  readonly request: ClientRequest;
  readonly key: string;
  readonly size: number;
  since: number;
  /** In a committed slot: the primary has done its part, and the request waits only for execution. */
  ordered: boolean;
  /** The sequence number its signature was checked at (a key switched since: checked again before proposing). */
  verifiedAt: number;
}

/**
 * The oldest request still waiting to be ordered, which the request timer holds against the
 * primary. Ordered requests waiting for execution do not count: a backlog of execution is no
 * evidence against the primary, and a view change would only add to it. Looks at the first 64.
 */
export function oldestUnordered(s: ReplicaState): PendingRequest | undefined {
  let looked = 0;
  // Until the key exchange is complete the primary orders only key exchanges: client requests
  // waiting meanwhile are no evidence against it.
  const exchanging = s.cfg.keyExchange && s.keys.consensus.exchangedCount() < s.q.slow;
  // Wedged (the wedge point executed), nothing but the operator's unwedge is ordered: the other
  // requests waiting meanwhile are no evidence against the primary either.
  const wedged = s.operator.wedgeAt > 0 && s.lastExecuted >= s.operator.wedgeAt;
  for (const p of s.pending.values()) {
    if (exchanging && p.request.clientId >= s.q.n) continue;
    if (wedged && !isValidUnwedge(s, p.request)) continue;
    if (!p.ordered) return p;
    if (++looked >= 64) return undefined;
  }
  return undefined;
}

export interface ReplicaState {
  readonly cfg: ConsensusConfig;
  readonly q: Quorums;
  readonly id: number;
  readonly crypto: ConsensusCrypto;
  /** Every key over time (consensus, execution, authentication, TLS): the one history, changed only here. */
  readonly keys: KeyHistory;
  out: Output[];
  now: number;

  view: number;
  /** False between leaving a view and accepting the next one's NewView. */
  active: boolean;
  lastStable: number;
  stableCert: CheckpointCertificate | null;

  lastExecuted: number;
  lastSummary: ExecSummary;
  /** Timestamp of the last executed batch that carried one. */
  lastTimestamp: number;
  /** Sequence number sent to the application and not yet answered. */
  executing: number | null;
  /** When the batch being executed was handed to the application. */
  executionStartedAt: number;
  /** A batch's execution time here lately (a decaying maximum, ms). */
  executionMs: number;
  /** When `lastExecuted` last moved. */
  lastProgressAt: number;
  /**
   * The batch being executed: every fresh request in batch order (the replies cover them all),
   * the client-node ones the application runs, the outcomes of the key exchanges decided here,
   * and the client-node requests held back until the key exchange is complete.
   */
  executingBatch: {
    batch: Batch;
    requests: readonly ClientRequest[];
    forApp: readonly ClientRequest[];
    internal: ReadonlyMap<number, { result: Uint8Array; record: KeyRecord | null; nodeRecord: NodeKeyRecord | null }>;
    deferred: ReadonlySet<string>;
    /** The operator state after this batch's operator commands (null: none ran). */
    operator: OperatorState | null;
  } | null;

  /** The operator's part of the reserved pages, as of the last executed batch. */
  operator: OperatorState;

  slots: Map<number, Slot>;
  /** Committed batches learnt by catch-up for sequence numbers no longer (or not yet) in the window. */
  fetched: Map<number, { batch: Batch; commit: CommitCertificate }>;
  /** The primary's next sequence number to propose. */
  nextSeq: number;
  lastProposedTimestamp: number;

  /** Requests known and not yet executed, by `clientId:requestSeq`. */
  pending: Map<string, PendingRequest>;
  pendingPerClient: Map<number, number>;
  /** Payload bytes of the pending requests (bounded by `maxPendingBytes`). */
  pendingBytes: number;
  /** Keys proposed in slots not yet executed (the primary does not propose them twice). */
  proposed: Set<string>;
  /** Requests in committed slots not yet executed: ordered, so the request timer ignores them. */
  ordered: Set<string>;
  /**
   * When this replica last saw `PIPELINE_DEPTH` committed batches waiting for execution: the
   * primary then proposes only full batches, so the request timer counts from here, not from
   * a request's arrival.
   */
  pipelineFullAt: number;
  /** The primary's last executed sequence number as its Status reported it, and when it last moved. */
  primaryProgress: { executed: number; at: number };
  batchDeadline: number | null;

  /** Exactly-once: the highest request sequence executed per client. */
  clients: Map<number, number>;
  replies: Map<number, Reply>;

  checkpoints: Map<number, Map<number, Checkpoint>>;
  /** Replicas whose checkpoint for a sequence number failed its check (not checked again). */
  refusedCheckpoints: Map<number, Set<number>>;
  mySummaries: Map<number, ExecSummary>;

  complaints: Map<number, Set<number>>;
  viewChanges: Map<number, Map<number, ViewChange>>;
  myViewChange: ViewChange | null;
  newView: NewView | null;
  /** Deadline for the view being entered; null when active. */
  viewDeadline: number | null;
  viewTimeout: number;

  peers: Map<number, Status>;
  /** When this replica last served each peer committed batches (catch-up help is rate-limited). */
  servedAt: Map<number, number>;
  helpFrom: number;
  helpSince: number;
  helpProgress: number;
  helpRequested: { at: number; executed: number };
  nextStatusAt: number;
}

/**
 * How long a request may wait to be ordered, or a proposal to be committed, before this replica
 * complains: `requestTimeoutMs`, plus the time the primary may spend executing the batches it
 * waits for (`PIPELINE_DEPTH` of them, two) at the speed this replica executes lately. On a loaded
 * machine every replica executes slowly, and a fixed timeout replaced one honest primary after
 * another.
 */
export function progressTimeout(s: ReplicaState): number {
  return s.cfg.requestTimeoutMs + 2 * s.executionMs;
}

export function addPending(s: ReplicaState, p: PendingRequest): void {
  s.pending.set(p.key, p);
  s.pendingPerClient.set(p.request.clientId, (s.pendingPerClient.get(p.request.clientId) ?? 0) + 1);
  s.pendingBytes += p.size;
}

export function dropPending(s: ReplicaState, key: string): void {
  const p = s.pending.get(key);
  if (p === undefined) return;
  s.pending.delete(key);
  const left = (s.pendingPerClient.get(p.request.clientId) ?? 1) - 1;
  if (left > 0) s.pendingPerClient.set(p.request.clientId, left);
  else s.pendingPerClient.delete(p.request.clientId);
  s.pendingBytes -= p.size;
}

/**
 * Drops the pending requests of `clients` at or below their last executed request: they can never
 * run (exactly-once), and one left behind would look unordered for ever — a request timeout, a view
 * change, and the same again in the next view. It happens when a client's later request was ordered
 * first (a view change reshuffles what the new primary receives).
 */
export function dropSuperseded(s: ReplicaState, clients: ReadonlySet<number>): void {
  if (clients.size === 0) return;
  for (const [key, p] of s.pending) {
    const id = p.request.clientId;
    if (clients.has(id) && p.request.requestSeq <= (s.clients.get(id) ?? 0)) dropPending(s, key);
  }
}

export const ZERO32 = new Uint8Array(32);

export function genesisSummary(): ExecSummary {
  return { blockNumber: 0, blockHash: ZERO32, stateRoot: ZERO32, reservedDigest: ZERO32 };
}

export function hexKey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function requestKey(r: Pick<ClientRequest, 'clientId' | 'requestSeq'>): string {
  return `${r.clientId}:${r.requestSeq}`;
}

export function newSlot(seq: number, now: number): Slot {
  return {
    seq,
    proposal: null,
    vote: null,
    prepared: null,
    commitVote: null,
    committed: null,
    pendingCommit: null,
    shares: new Map(),
    commitVotes: new Map(),
    badSigners: new Set(),
    fastProofSent: false,
    prepareSent: false,
    commitFullSent: false,
    since: now,
    lastRetransmit: now,
  };
}

export function slotOf(s: ReplicaState, seq: number): Slot {
  let slot = s.slots.get(seq);
  if (slot === undefined) {
    slot = newSlot(seq, s.now);
    s.slots.set(seq, slot);
  }
  return slot;
}

/**
 * Where this configuration began: the wedge point of the reconfiguration that started it (0 for
 * the network as created). Every member took the configuration up from the state there, so it is
 * this configuration's first stable point without a certificate — the one there was signed by the
 * replicas of the configuration before, which this one's keys and quorums cannot check.
 */
export function configurationBase(s: Pick<ReplicaState, 'operator'>): number {
  return s.operator.configuration.fromSeq - 1;
}

export function allReplicasBut(s: ReplicaState, except: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < s.q.n; r++) if (r !== except) out.push(r);
  return out;
}

export function isReplica(s: ReplicaState, id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < s.q.n;
}

/** The first client node id: the network's `firstClient`, or n (ids right after the replicas'). */
export function firstClientOf(s: Pick<ReplicaState, 'q' | 'cfg'>): number {
  return s.cfg.firstClient ?? s.q.n;
}

export function isClient(s: ReplicaState, id: number): boolean {
  return isClientId(s.cfg, s.q.n, id);
}
