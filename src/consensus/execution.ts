/**
 * Hand-off to execution and what follows it: committed batches go to the application strictly in
 * sequence order, with requests already executed for their client filtered out (exactly-once per
 * (clientId, requestSeq)); each executed batch is signed once with the execution key and every
 * request gets a reply proving its result under that signature; every K sequence numbers the
 * replica signs a checkpoint, and ⌈(n + f + 1) / 2⌉ matching ones make it stable.
 */
import { Writer } from '../codec/binary.ts';
import type { BlockNotice, Checkpoint, CheckpointCertificate, ClientRequest, ExecSummary, Reply, ReplyEntry } from '../codec/messages.ts';
import { checkpointBytes, replyBytes } from '../codec/signing.ts';
import { send, persist, reject, event } from './effects.ts';
import { merkleTree } from './merkle.ts';
import { allReplicasBut, dropPending, dropSuperseded, firstClientOf, hexKey, isReplica, requestKey, type ReplicaState } from './state.ts';
import { exchangeReady, executeKeyExchanges, isInternal } from './key-exchange.ts';
import type { KeyRecord } from '../codec/reserved-pages.ts';
import { executeOperatorCommand, isValidUnwedge, wedgedAt } from './operator.ts';
import { isOperatorPayload } from '../codec/operator-command.ts';
import type { OperatorState } from '../codec/reserved-pages.ts';
import { slotName } from './node-keys.ts';
import { decodeNodeKeyPublication, isNodeKeyPayload } from '../codec/key-requests.ts';
import type { NodeKeyRecord } from '../codec/reserved-pages.ts';
import { addPublishedKey, effectiveSeqFor } from './keys.ts';

/** What the state machine decided for a request it executed itself. */
export interface InternalOutcome {
  readonly result: Uint8Array;
  /** A consensus key a key exchange published. */
  readonly record: KeyRecord | null;
  /** An execution, authentication or TLS key a node published. */
  readonly nodeRecord: NodeKeyRecord | null;
}

const utf8 = new TextEncoder();

/**
 * A node publishing its next execution, authentication or TLS key (`node-keys.ts`), executed at
 * `seq`: it must publish its own key of a kind its role holds, for an epoch the operator asked for,
 * the next one, once its current key is in effect, at most one per kind and batch, possessed and
 * endorsed by the previous key.
 */
function executeNodeKeyPublication(
  s: ReplicaState,
  seq: number,
  operator: OperatorState,
  published: Set<string>,
  r: ClientRequest,
): { result: Uint8Array; record: NodeKeyRecord | null } {
  const refuse = (why: string) => ({ result: utf8.encode(`refused: ${why}`), record: null });
  const p = decodeNodeKeyPublication(r.payload);
  if (p === null) return refuse('not a valid node key publication');
  if (p.node !== r.clientId) return refuse(`node ${r.clientId} may publish only its own keys`);
  const replica = isInternal(s, r);
  if (replica ? p.kind === 'auth' : p.kind === 'execution') return refuse(`a ${replica ? 'replica' : 'client node'} holds no ${p.kind} key`);
  const slot = slotName(p.kind, p.node);
  if (p.epoch > (operator.nodeTargets.get(slot) ?? 0)) return refuse(`no rotation asked for ${p.kind} key epoch ${p.epoch} of node ${p.node}`);
  if (published.has(slot)) return refuse(`a ${p.kind} key of node ${p.node} was already published in this batch`);
  const current = s.keys.node.latest(p.kind, p.node);
  if (current === undefined) return refuse(`node ${p.node} has no ${p.kind} key`);
  if (p.epoch !== current.epoch + 1) return refuse(`epoch ${p.epoch} is not the next one (${current.epoch + 1})`);
  if (current.effectiveSeq > seq) return refuse(`${p.kind} key epoch ${current.epoch} is not in effect yet`);
  const problem = s.keys.node.problem(p);
  if (problem !== null) return refuse(problem);
  published.add(slot);
  const record: NodeKeyRecord = { ...p, effectiveSeq: effectiveSeqFor(seq, s.cfg), publishedSeq: seq };
  return { result: utf8.encode(`${p.kind} key epoch ${p.epoch} of node ${p.node} takes effect at sequence ${record.effectiveSeq}`), record };
}

function committedAt(s: ReplicaState, seq: number) {
  return s.slots.get(seq)?.committed ?? s.fetched.get(seq) ?? null;
}

export function tryExecute(s: ReplicaState): void {
  if (s.executing !== null) return;
  const seq = s.lastExecuted + 1;
  const entry = committedAt(s, seq);
  if (entry === null) return;
  // Client nodes' requests run only once enough replicas are on keys of their own; until then a
  // committed one is held back (not executed, not answered) and ordered again later.
  const ready = exchangeReady(s);
  // Beyond the wedge point only the operator's unwedge runs; anything else a batch there carries
  // (a faulty primary's, or a client's next to the unwedge) is held back the same way.
  const wedged = wedgedAt(s, seq);
  const fresh: ClientRequest[] = [];
  const deferred = new Set<string>();
  const seen = new Set<string>();
  // A client's requests run in increasing order: one at or below the highest already run, earlier
  // in this batch included, is skipped. An honest primary sorts them; a faulty one's [5, 3] would
  // otherwise run both and leave 3 as the client's highest in the table (and 5 free to run again).
  const highest = new Map<number, number>();
  for (const r of entry.batch.requests) {
    const key = requestKey(r);
    if (seen.has(key) || r.requestSeq <= (highest.get(r.clientId) ?? s.clients.get(r.clientId) ?? 0)) continue;
    seen.add(key);
    if ((!ready && !isInternal(s, r)) || (wedged && !isValidUnwedge(s, r))) deferred.add(key);
    else {
      fresh.push(r);
      highest.set(r.clientId, r.requestSeq);
    }
  }
  // Key exchanges, node key publications and operator commands are executed here, in batch order;
  // the rest by the application.
  const timestamp = Math.max(entry.batch.timestamp, s.lastTimestamp);
  const internal = new Map<number, InternalOutcome>();
  const exchanges = fresh.filter((r) => isInternal(s, r) && !isNodeKeyPayload(r.payload));
  executeKeyExchanges(s, seq, exchanges).forEach((o, i) => internal.set(fresh.indexOf(exchanges[i]!), { result: o.result, record: o.record, nodeRecord: null }));
  let operator: OperatorState | null = null;
  fresh.forEach((r, i) => {
    if (isInternal(s, r) || !isOperatorPayload(r.payload)) return;
    const o = executeOperatorCommand(s, operator ?? s.operator, seq, timestamp, r);
    if (o.state !== (operator ?? s.operator)) operator = o.state;
    internal.set(i, { result: o.result, record: null, nodeRecord: null });
  });
  const published = new Set<string>();
  fresh.forEach((r, i) => {
    if (!isNodeKeyPayload(r.payload)) return;
    const o = executeNodeKeyPublication(s, seq, operator ?? s.operator, published, r);
    internal.set(i, { result: o.result, record: null, nodeRecord: o.record });
  });
  const forApp = fresh.filter((_, i) => !internal.has(i));
  const keyRecords = [...internal.values()].flatMap((o) => (o.record === null ? [] : [o.record]));
  const nodeKeyRecords = [...internal.values()].flatMap((o) => (o.nodeRecord === null ? [] : [o.nodeRecord]));
  s.executing = seq;
  s.executionStartedAt = s.now;
  s.executingBatch = { batch: entry.batch, requests: fresh, forApp, internal, deferred, operator };
  // Requests executed here go into the client table with the application's (exactly-once).
  const own = fresh.filter((_, i) => internal.has(i));
  s.out.push({ kind: 'execute', seq, timestamp, requests: forApp, batch: entry.batch, keyRecords, nodeKeyRecords, internal: own, operator });
}

export function resultLeaf(r: Pick<ClientRequest, 'clientId' | 'requestSeq'>, result: Uint8Array): Uint8Array {
  return new Writer(result.length + 24).u32(r.clientId).u64(r.requestSeq).bytes(result).finish();
}

export function onExecuted(s: ReplicaState, seq: number, summary: ExecSummary, appResults: readonly Uint8Array[]): void {
  if (s.executing !== seq || s.executingBatch === null) return reject(s, s.id, 'unexpected-message', `executed ${seq}`);
  const { batch, requests, forApp, internal, deferred, operator } = s.executingBatch;
  // How long a batch takes here, as a decaying maximum: a slow machine slows every replica's
  // execution alike, and the timers that judge the primary allow for it (`progressTimeout`).
  s.executionMs = Math.max(s.now - s.executionStartedAt, Math.floor(s.executionMs * 0.9));
  if (appResults.length !== forApp.length) {
    s.out.push({ kind: 'fatal', reason: `application returned ${appResults.length} results for ${forApp.length} requests` });
    return;
  }
  // Every fresh request's result in batch order: the application's, and the key exchanges' decided here.
  let next = 0;
  const results = requests.map((_, i) => internal.get(i)?.result ?? appResults[next++]!);
  // The application has written the published keys with the batch: from now on they are in the history.
  for (const o of internal.values()) {
    if (o.record !== null && !addPublishedKey(s.keys, s.crypto, o.record)) {
      s.out.push({ kind: 'fatal', reason: `a key checked at execution was refused when added (replica ${o.record.replica}, epoch ${o.record.epoch})` });
      return;
    }
    if (o.record !== null) event(s, { event: 'key-published', replica: o.record.replica, epoch: o.record.epoch, effectiveSeq: o.record.effectiveSeq });
    const n = o.nodeRecord;
    if (n !== null && !s.keys.node.add(n)) {
      s.out.push({ kind: 'fatal', reason: `a ${n.kind} key checked at execution was refused when added (node ${n.node}, epoch ${n.epoch})` });
      return;
    }
    if (n !== null) event(s, { event: 'node-key-published', kind: n.kind, node: n.node, epoch: n.epoch, effectiveSeq: n.effectiveSeq });
  }
  if (operator !== null) s.operator = operator;
  s.executing = null;
  s.executingBatch = null;
  const previousBlock = s.lastSummary.blockNumber;
  s.lastExecuted = seq;
  s.lastProgressAt = s.now;
  s.lastSummary = summary;
  if (s.active) s.viewTimeout = s.cfg.viewChangeTimeoutMs; // progress in a view ends the back-off
  if (forApp.length > 0) s.lastTimestamp = Math.max(batch.timestamp, s.lastTimestamp);
  for (const r of batch.requests) {
    const key = requestKey(r);
    s.proposed.delete(key);
    s.ordered.delete(key);
    // Held back until the key exchange completes, or the network is unwedged: still pending, to be ordered again.
    if (deferred.has(key)) continue;
    dropPending(s, key);
  }
  for (const r of requests) s.clients.set(r.clientId, r.requestSeq);
  dropSuperseded(s, new Set(requests.map((r) => r.clientId)));
  const madeBlock = summary.blockNumber > previousBlock;
  if (requests.length > 0 || madeBlock) {
    const leaves = requests.map((r, i) => resultLeaf(r, results[i]!));
    const tree = merkleTree((b) => s.crypto.digest(b), leaves);
    const signature = s.crypto.signExecution(replyBytes(seq, summary, tree.root), seq);
    if (requests.length > 0) reply(s, seq, summary, requests, results, tree, signature);
    if (madeBlock) {
      const notice: BlockNotice = { type: 'BlockNotice', seq, summary, resultsRoot: tree.root, signature };
      send(s, allClients(s), notice);
    }
  }
  if (seq % s.cfg.checkpointInterval === 0) signCheckpoint(s, seq, summary);
  s.slots.delete(seq - s.cfg.window); // long since stable or irrelevant: keeps the map bounded
  s.fetched.delete(seq);
}

function allClients(s: ReplicaState): number[] {
  return Array.from({ length: s.cfg.clients }, (_, i) => firstClientOf(s) + i);
}

function reply(
  s: ReplicaState,
  seq: number,
  summary: ExecSummary,
  requests: readonly ClientRequest[],
  results: readonly Uint8Array[],
  tree: { root: Uint8Array; proofs: Uint8Array[][] },
  signature: Uint8Array,
): void {
  const byClient = new Map<number, ReplyEntry[]>();
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i]!;
    let entries = byClient.get(r.clientId);
    if (entries === undefined) byClient.set(r.clientId, (entries = []));
    entries.push({ requestSeq: r.requestSeq, index: i, proof: tree.proofs[i]!, result: results[i]! });
  }
  const replies: Reply[] = [];
  for (const [clientId, entries] of byClient) {
    const rep: Reply = { type: 'Reply', clientId, view: s.view, seq, summary, resultsRoot: tree.root, count: requests.length, entries, signature };
    replies.push(rep);
    s.replies.set(clientId, rep);
    persist(s, { kind: 'reply', reply: rep });
  }
  // After the records, so a reply is never seen before it could be resent. A replica's own request
  // (a key publication) gets none: its shell sees the outcome in the key history.
  for (const rep of replies) if (!isInternal(s, rep)) send(s, [rep.clientId], rep);
}

// ---- checkpoints ---------------------------------------------------------------------------

function summaryKey(sm: ExecSummary): string {
  return `${sm.blockNumber}:${hexKey(sm.blockHash)}:${hexKey(sm.stateRoot)}:${hexKey(sm.reservedDigest)}`;
}

function signCheckpoint(s: ReplicaState, seq: number, summary: ExecSummary): void {
  if (s.stableCert !== null && s.stableCert.seq === seq && summaryKey(s.stableCert.summary) !== summaryKey(summary)) {
    s.out.push({ kind: 'fatal', reason: `execution diverged from the stable checkpoint at ${seq}` });
    return;
  }
  if (seq <= s.lastStable) return;
  s.mySummaries.set(seq, summary);
  const signature = s.crypto.sign('checkpoint', checkpointBytes(seq, summary), seq);
  const msg: Checkpoint = { type: 'Checkpoint', seq, summary, signature };
  send(s, allReplicasBut(s, s.id), msg);
  recordCheckpoint(s, s.id, msg);
}

export function onCheckpoint(s: ReplicaState, from: number, m: Checkpoint): void {
  if (!isReplica(s, from)) return reject(s, from, 'not-a-replica');
  if (m.seq % s.cfg.checkpointInterval !== 0 || m.seq <= s.lastStable) return;
  if (m.seq > s.lastStable + 4 * s.cfg.window) return reject(s, from, 'outside-window', `checkpoint ${m.seq}`);
  // One checkpoint per replica and sequence number is held (at most 4 × window / K of them): a repeat
  // is dropped before its signature is checked.
  // One that failed its check marks its sender for that sequence number: links are authenticated,
  // so the next one from it is no more likely to be good.
  if (s.checkpoints.get(m.seq)?.has(from) === true || s.refusedCheckpoints.get(m.seq)?.has(from) === true) return;
  if (!s.crypto.verifyShare('checkpoint', from, checkpointBytes(m.seq, m.summary), m.signature, m.seq)) {
    let refused = s.refusedCheckpoints.get(m.seq);
    if (refused === undefined) s.refusedCheckpoints.set(m.seq, (refused = new Set()));
    refused.add(from);
    return reject(s, from, 'bad-checkpoint', `seq ${m.seq}`);
  }
  recordCheckpoint(s, from, m);
}

function recordCheckpoint(s: ReplicaState, from: number, m: Checkpoint): void {
  let bySeq = s.checkpoints.get(m.seq);
  if (bySeq === undefined) s.checkpoints.set(m.seq, (bySeq = new Map()));
  if (bySeq.has(from)) return;
  bySeq.set(from, m);
  const key = summaryKey(m.summary);
  const matching = [...bySeq].filter(([, c]) => summaryKey(c.summary) === key);
  if (matching.length < s.q.checkpoint) return;
  const cert = s.crypto.combine(matching.slice(0, s.q.checkpoint).map(([replica, c]) => ({ replica, signature: c.signature })));
  adoptStable(s, { seq: m.seq, summary: m.summary, cert });
}

export function verifyStable(s: ReplicaState, cert: CheckpointCertificate): boolean {
  return (
    cert.seq % s.cfg.checkpointInterval === 0 &&
    s.crypto.verifyCertificate('checkpoint', checkpointBytes(cert.seq, cert.summary), cert.cert, s.q.checkpoint, cert.seq)
  );
}

/** A (verified) stable checkpoint: the window moves, and everything at or below it is let go. */
export function adoptStable(s: ReplicaState, cert: CheckpointCertificate): void {
  if (cert.seq <= s.lastStable) return;
  const mine = s.mySummaries.get(cert.seq);
  if (mine !== undefined && summaryKey(mine) !== summaryKey(cert.summary)) {
    s.out.push({ kind: 'fatal', reason: `execution diverged from the stable checkpoint at ${cert.seq}` });
    return;
  }
  persist(s, { kind: 'stable', cert });
  s.lastStable = cert.seq;
  s.stableCert = cert;
  for (const [seq, slot] of s.slots) {
    if (seq > cert.seq) continue;
    // Committed but not yet executed here: keep the batch for execution.
    if (slot.committed !== null && seq > s.lastExecuted) s.fetched.set(seq, slot.committed);
    s.slots.delete(seq);
  }
  for (const seq of s.checkpoints.keys()) if (seq <= cert.seq) s.checkpoints.delete(seq);
  for (const seq of s.refusedCheckpoints.keys()) if (seq <= cert.seq) s.refusedCheckpoints.delete(seq);
  for (const seq of s.mySummaries.keys()) if (seq <= cert.seq) s.mySummaries.delete(seq);
  if (s.nextSeq <= cert.seq) s.nextSeq = cert.seq + 1;
  event(s, { event: 'checkpoint-stable', seq: cert.seq });
}
