/**
 * The SBFT replica as a state machine: `step(state, input) → {outputs, wakeAt}`. One exhaustive
 * switch over inputs and messages; each branch lives in the module for its part of the protocol
 * (ordering, requests, execution and checkpoints, view change, catch-up). The state is changed in
 * place and owned by the machine; no clock, socket, disk or randomness is reached from here.
 */
import type { ExecSummary, Message } from '../codec/messages.ts';
import { BulwarkError } from '../common/errors.ts';
import { isClientId, quorumsOf, type ConsensusConfig } from './config.ts';
import type { ConsensusCrypto } from './crypto.ts';
import { addPublishedKey, type KeyHistory } from './keys.ts';
import type { KeyRecord } from '../codec/reserved-pages.ts';
import type { NodeKeyRecord } from '../codec/reserved-pages.ts';
import { NO_OPERATOR_STATE, type OperatorState } from '../codec/reserved-pages.ts';
import { reject } from './effects.ts';
import { onCheckpoint, onExecuted, tryExecute } from './execution.ts';
import type { Input, StepResult } from './io.ts';
import {
  certificateChecks,
  inWindow,
  onCommitPartial,
  onCommitShare,
  onFullCommitProof,
  onPrePrepare,
  onPrepareFull,
  onSlotTimers,
} from './ordering.ts';
import { emptyPersisted, type PersistedConsensus } from './records.ts';
import { PIPELINE_DEPTH, onRequest, tryPropose } from './requests.ts';
import { genesisSummary, isClient, oldestUnordered, progressTimeout, requestKey, slotOf, type ReplicaState } from './state.ts';
import { onComplaint, onNewView, onProgressTimers, onViewChange } from './view-change.ts';
import { onCommittedBatch, onStableCheckpoint, onStatus, onStatusTimer, requestCatchUp } from './catch-up.ts';

/** What the application (the executor and its reserved pages) has durably executed. */
export interface AppState {
  readonly lastExecuted: number;
  readonly summary: ExecSummary;
  readonly lastTimestamp: number;
  /** Highest executed request sequence per client: persisted with each block, atomically. */
  readonly clients: ReadonlyMap<number, number>;
  /** Every key published so far (reserved pages, written with the batch that published it). */
  readonly keys: readonly KeyRecord[];
  /** The operator's nonce, last rotation and rotation targets (reserved pages). */
  readonly operator: OperatorState;
  /** Every execution, authentication and TLS key published so far (reserved pages). */
  readonly nodeKeys: readonly NodeKeyRecord[];
}

export interface ReplicaOptions {
  readonly cfg: ConsensusConfig;
  readonly id: number;
  readonly crypto: ConsensusCrypto;
  /** The key history the crypto was made over, from the network file; restored here from the reserved pages. */
  readonly keys: KeyHistory;
  readonly now: number;
  readonly persisted?: PersistedConsensus;
  readonly app?: AppState;
}

export const GENESIS_APP: AppState = {
  lastExecuted: 0,
  summary: genesisSummary(),
  lastTimestamp: 0,
  clients: new Map(),
  keys: [],
  operator: NO_OPERATOR_STATE,
  nodeKeys: [],
};

/** A replica from its persisted records and its application's state (empty ones at first start). */
export function restoreReplica(o: ReplicaOptions): ReplicaState {
  const p = o.persisted ?? emptyPersisted();
  const app = o.app ?? GENESIS_APP;
  // The key history from the reserved pages, each key's proof of possession checked again. Records
  // of replicas a reconfiguration removed stay in the pages (the ledger's history is checked with
  // them) but are no part of this configuration's key books.
  const n = quorumsOf(o.cfg).n;
  const member = (node: number) => node < n || isClientId(o.cfg, n, node);
  for (const k of app.keys) {
    if (k.replica >= n) continue;
    if (!addPublishedKey(o.keys, o.crypto, k)) {
      throw new BulwarkError('LEDGER_CORRUPT', `the reserved pages hold a key that does not verify (replica ${k.replica}, epoch ${k.epoch})`);
    }
  }
  for (const k of app.nodeKeys) {
    if (!member(k.node)) continue;
    // Possession and endorsement checked again, as for consensus keys: a corrupt page stops here.
    if (o.keys.node.problem(k) !== null || !o.keys.node.add(k)) {
      throw new BulwarkError('LEDGER_CORRUPT', `the reserved pages hold a ${k.kind} key that does not follow the history (node ${k.node}, epoch ${k.epoch})`);
    }
  }
  // The previous configuration's certificate at this one's base is no evidence here (see
  // `configurationBase`): the base itself is the stable point until this configuration certifies one.
  const base = app.operator.configuration.fromSeq - 1;
  const stable = p.stable !== null && p.stable.seq > base ? p.stable : null;
  const s: ReplicaState = {
    cfg: o.cfg,
    q: quorumsOf(o.cfg),
    id: o.id,
    crypto: o.crypto,
    keys: o.keys,
    out: [],
    now: o.now,
    view: p.view,
    active: p.active,
    lastStable: Math.max(stable?.seq ?? 0, base),
    stableCert: stable,
    lastExecuted: app.lastExecuted,
    lastProgressAt: o.now,
    lastSummary: app.summary,
    lastTimestamp: app.lastTimestamp,
    executing: null,
    executionStartedAt: o.now,
    executionMs: 0,
    executingBatch: null,
    slots: new Map(),
    fetched: new Map(),
    nextSeq: Math.max(app.lastExecuted, stable?.seq ?? 0, base) + 1,
    lastProposedTimestamp: app.lastTimestamp,
    pending: new Map(),
    pendingPerClient: new Map(),
    pendingBytes: 0,
    primaryProgress: { executed: app.lastExecuted, at: o.now },
    proposed: new Set(),
    ordered: new Set(),
    pipelineFullAt: -Infinity,
    batchDeadline: null,
    clients: new Map(app.clients),
    operator: app.operator,
    replies: new Map(p.replies),
    checkpoints: new Map(),
    refusedCheckpoints: new Map(),
    mySummaries: new Map(),
    complaints: new Map(),
    viewChanges: new Map(),
    myViewChange: !p.active && p.viewChange?.view === p.view ? p.viewChange : null,
    newView: p.newView?.view === p.view ? p.newView : null,
    viewDeadline: p.active ? null : o.now + o.cfg.viewChangeTimeoutMs,
    viewTimeout: o.cfg.viewChangeTimeoutMs,
    peers: new Map(),
    servedAt: new Map(),
    helpFrom: -1,
    helpSince: o.now,
    helpProgress: app.lastExecuted,
    helpRequested: { at: -Infinity, executed: -1 },
    nextStatusAt: o.now,
  };
  for (const [seq, v] of p.votes) if (inWindow(s, seq)) slotOf(s, seq).vote = v;
  for (const [seq, c] of p.prepared) if (inWindow(s, seq)) slotOf(s, seq).prepared = c;
  for (const [seq, v] of p.commitVotes) if (inWindow(s, seq)) slotOf(s, seq).commitVote = v;
  for (const [seq, c] of p.committed) {
    if (seq <= s.lastExecuted) continue;
    if (inWindow(s, seq)) slotOf(s, seq).committed = c;
    else s.fetched.set(seq, c);
    for (const r of c.batch.requests) s.ordered.add(requestKey(r));
  }
  for (const slot of s.slots.values()) {
    s.nextSeq = Math.max(s.nextSeq, slot.seq + 1);
    // Still in the view it voted in: the vote is this view's proposal as far as we know.
    if (s.active && slot.vote !== null && slot.vote.view === s.view && slot.committed === null) {
      slot.proposal = { view: slot.vote.view, digest: slot.vote.digest, key: Buffer.from(slot.vote.digest).toString('hex'), batch: slot.vote.batch };
    }
  }
  return s;
}

export function step(s: ReplicaState, input: Input): StepResult {
  s.out = [];
  if (input.now !== undefined) s.now = Math.max(s.now, input.now);
  switch (input.kind) {
    case 'message':
      onMessage(s, input.from, input.message);
      break;
    case 'tick':
      onTick(s);
      break;
    case 'executed':
      onExecuted(s, input.seq, input.summary, input.results);
      break;
  }
  settle(s);
  const outputs = s.out;
  s.out = [];
  return { outputs, wakeAt: wakeAt(s) };
}

/**
 * For shells that receive many messages at once: lets the crypto check their certificates in one
 * batch before they are stepped one by one (see `ConsensusCrypto.preverify`).
 */
export function preverify(s: ReplicaState, messages: readonly Message[]): void {
  if (s.crypto.preverify === undefined) return;
  const checks = messages.flatMap((m) => certificateChecks(s, m));
  if (checks.length >= 2) s.crypto.preverify(checks);
}

function onMessage(s: ReplicaState, from: number, m: Message): void {
  if (isClient(s, from) && m.type !== 'Request') return reject(s, from, 'unexpected-message', `${m.type} from a client`);
  switch (m.type) {
    case 'Request':
      return onRequest(s, from, m);
    case 'PrePrepare':
      return onPrePrepare(s, from, m);
    case 'CommitShare':
      return onCommitShare(s, from, m);
    case 'FullCommitProof':
    case 'CommitFull':
      return onFullCommitProof(s, from, m);
    case 'PrepareFull':
      return onPrepareFull(s, from, m);
    case 'CommitPartial':
      return onCommitPartial(s, from, m);
    case 'Checkpoint':
      return onCheckpoint(s, from, m);
    case 'Complaint':
      return onComplaint(s, from, m);
    case 'ViewChange':
      return onViewChange(s, from, m);
    case 'NewView':
      return onNewView(s, from, m);
    case 'Status':
      return onStatus(s, from, m);
    case 'StableCheckpoint':
      return onStableCheckpoint(s, from, m);
    case 'CommittedBatch':
      return onCommittedBatch(s, from, m);
    case 'Reply':
    case 'BlockNotice':
    case 'BlockRequest':
    case 'BlockData':
    case 'ReadRequest':
    case 'ReadReply':
    case 'NodeStatusRequest':
    case 'NodeStatus':
    case 'SnapshotRequest':
    case 'SnapshotManifest':
    case 'SnapshotItems':
      return reject(s, from, 'unexpected-message', `${m.type} sent to a replica`);
  }
}

/**
 * What any input may have made possible: the next execution, catching up, new proposals. Kept
 * here, after the input's own handling, so the protocol's modules need not call each other in a
 * circle.
 */
function settle(s: ReplicaState): void {
  let waiting = 0;
  while (waiting < PIPELINE_DEPTH && (s.slots.get(s.lastExecuted + 1 + waiting)?.committed ?? null) !== null) waiting++;
  if (waiting >= PIPELINE_DEPTH) s.pipelineFullAt = s.now;
  tryExecute(s);
  requestCatchUp(s, s.helpFrom >= 0 || s.lastExecuted < s.lastStable);
  tryPropose(s);
}

function onTick(s: ReplicaState): void {
  if (s.batchDeadline !== null && s.now >= s.batchDeadline) {
    s.batchDeadline = null;
    tryPropose(s, true);
  }
  onSlotTimers(s);
  onProgressTimers(s);
  onStatusTimer(s);
}

function wakeAt(s: ReplicaState): number | null {
  let at = s.nextStatusAt;
  if (s.batchDeadline !== null) at = Math.min(at, s.batchDeadline);
  if (s.viewDeadline !== null) at = Math.min(at, s.viewDeadline);
  if (s.active) {
    const oldest = oldestUnordered(s);
    if (oldest !== undefined) at = Math.min(at, Math.max(oldest.since, s.pipelineFullAt) + progressTimeout(s) + 1);
    for (const slot of s.slots.values()) {
      if (slot.committed !== null) continue;
      const t = slot.prepareSent || slot.shares.size === 0 ? slot.lastRetransmit + s.cfg.retransmitMs : slot.since + s.cfg.fastPathTimeoutMs;
      at = Math.min(at, t);
    }
  }
  return Math.max(at, s.now + 1);
}
