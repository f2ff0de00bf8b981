/**
 * Client requests: authentication (the client node's id comes from its link; the request's
 * signature is checked under that client's key), exactly-once bookkeeping, forwarding to the
 * primary, and the primary's batching by count, size and a short timer.
 */
import type { Batch, ClientRequest, Request } from '../codec/messages.ts';
import { primaryOf } from './config.ts';
import { reject, send } from './effects.ts';
import { acceptProposal, batchDigest, isPrimary } from './ordering.ts';
import { addPending, allReplicasBut, dropPending, isClient, isReplica, requestKey, slotOf, type ReplicaState } from './state.ts';
import { activationPending, exchangeReady, isInternal } from './key-exchange.ts';
import { isValidUnwedge, wedgedAt } from './operator.ts';

export function onRequest(s: ReplicaState, from: number, m: Request): void {
  const r = m.request;
  const internal = isInternal(s, r);
  if (isClient(s, from)) {
    // A client node speaks only for itself: its id is the one its certificate was pinned under.
    if (r.clientId !== from) return reject(s, from, 'wrong-client-id', `client ${from} sent a request as ${r.clientId}`);
  } else if (!isReplica(s, from)) {
    return reject(s, from, 'not-a-client');
  }
  if (internal) {
    // A replica's own request (a key exchange): from the shell of that replica, or relayed by a replica.
    if (!s.cfg.keyExchange) return reject(s, from, 'wrong-client-id', `replica ${r.clientId} made a request, and key exchange is off`);
  } else if (!isClient(s, r.clientId)) {
    return reject(s, from, 'wrong-client-id', `no client ${r.clientId}`);
  }
  if (r.payload.length > s.cfg.maxBatchBytes) return reject(s, from, 'request-too-large');
  // Cheap checks first: a retransmission or an answered request costs no signature check. What is
  // acted on then is what this replica holds (checked when it arrived), never the new copy.
  const own = internal && from === s.id && r.clientId === s.id;
  const key = requestKey(r);
  const known = s.pending.get(key);
  if (known !== undefined) {
    // A retransmission: its sender has not heard back, so make sure the primary has it. This
    // replica's own request goes to every replica, so each holds it against the primary.
    if (own) {
      // Re-signed by this replica's shell with the consensus key in effect now: the copy held takes its place.
      if (s.crypto.verifyRequest(r, s.lastExecuted + 1)) s.pending.set(key, { ...known, request: r, verifiedAt: s.lastExecuted + 1 });
      send(s, allReplicasBut(s, s.id), m);
    } else if (isClient(s, from) && !isPrimary(s) && s.active) send(s, [primaryOf(s.view, s.q.n)], { type: 'Request', request: known.request });
    return;
  }
  const last = s.clients.get(r.clientId) ?? 0;
  if (r.requestSeq <= last) {
    // Already executed: the cached reply goes again to the client (only ever to that client).
    const cached = s.replies.get(r.clientId);
    if (cached !== undefined && !internal && cached.entries.some((e) => e.requestSeq === r.requestSeq)) send(s, [r.clientId], { ...cached, view: s.view });
    return;
  }
  const perClient = s.pendingPerClient.get(r.clientId) ?? 0;
  if (perClient >= s.cfg.maxPendingPerClient || s.pending.size >= s.cfg.maxPendingTotal || s.pendingBytes + r.payload.length > s.cfg.maxPendingBytes) {
    return reject(s, from, 'client-queue-full', `client ${r.clientId}`);
  }
  if (!s.crypto.verifyRequest(r, s.lastExecuted + 1)) return reject(s, from, 'bad-request-signature', `client ${r.clientId}`);
  addPending(s, { request: r, key, size: r.payload.length, since: s.now, ordered: s.ordered.has(key), verifiedAt: s.lastExecuted + 1 });
  if (own) send(s, allReplicasBut(s, s.id), m);
  if (!s.active) return;
  if (isPrimary(s)) tryPropose(s);
  else if (isClient(s, from)) send(s, [primaryOf(s.view, s.q.n)], m);
}

/** Batches proposed and not yet executed beyond which only full batches are proposed. */
export const PIPELINE_DEPTH = 2;

function inFlight(s: ReplicaState): number {
  return s.nextSeq - 1 - s.lastExecuted;
}

/** Proposes as many batches as the window and the in-flight limit allow. */
export function tryPropose(s: ReplicaState, timerFired = false): void {
  if (!s.active || !isPrimary(s)) return;
  while (inFlight(s) < s.cfg.maxInFlight && s.nextSeq <= s.lastStable + s.cfg.window) {
    const { requests, full } = nextBatch(s);
    if (requests.length === 0) {
      // A published key takes effect at a checkpoint boundary ahead: on an idle network the
      // primary drives sequence numbers there with empty batches, one at a time. A wedge point
      // is such a boundary too, which the operator is waiting for: driven there with as many in
      // flight as allowed (and never beyond it).
      if (s.operator.wedgeAt >= s.nextSeq) {
        propose(s, []);
        continue;
      }
      if (inFlight(s) === 0 && activationPending(s) && !wedgedAt(s, s.nextSeq)) propose(s, []);
      return;
    }
    // Batches ordered ahead of this one wait for execution anyway: while two or more do, only a
    // full batch is proposed, and the requests arriving meanwhile travel together — one block and
    // one round of signatures instead of many small ones. (Backups do not count the wait against
    // the primary: see `pipelineFullAt`.)
    if (!full && inFlight(s) >= PIPELINE_DEPTH) return;
    // Under load, wait briefly for a fuller batch; an idle network gets its request at once.
    if (!full && inFlight(s) > 0 && !timerFired) {
      if (s.batchDeadline === null) s.batchDeadline = s.now + s.cfg.batchDelayMs;
      if (s.now < s.batchDeadline) return;
    }
    s.batchDeadline = null;
    timerFired = false;
    propose(s, requests);
  }
}

function nextBatch(s: ReplicaState): { requests: ClientRequest[]; full: boolean } {
  const requests: ClientRequest[] = [];
  let bytes = 0;
  // Until the key exchange is complete only key exchanges are ordered (client requests would be held back).
  const onlyInternal = !exchangeReady(s);
  // Beyond a wedge point, only the operator's unwedge (as of the batches executed: one already
  // proposed and not yet executed holds the rest back until it is).
  const onlyUnwedge = wedgedAt(s, s.nextSeq);
  const lastSwitch = s.keys.node.lastSwitch;
  for (const [key, p] of s.pending) {
    if (s.proposed.has(key)) continue;
    if (onlyInternal && !isInternal(s, p.request)) continue;
    if (onlyUnwedge && !isValidUnwedge(s, p.request)) continue;
    if (p.request.requestSeq <= (s.clients.get(p.request.clientId) ?? 0)) continue;
    // A key switched since the check: a request signed with a key no longer accepted at this
    // batch's sequence number would make every backup refuse the batch. Dropped instead; its sender
    // signs it again with its new key. A replica's own requests (rare: key publications) are
    // checked again at each new sequence number, as its consensus key may have switched.
    if (isInternal(s, p.request) ? p.verifiedAt !== s.nextSeq : lastSwitch > p.verifiedAt) {
      if (!s.crypto.verifyRequest(p.request, s.nextSeq)) {
        dropPending(s, key);
        continue;
      }
      p.verifiedAt = s.nextSeq;
    }
    if (bytes + p.size > s.cfg.maxBatchBytes) return { requests, full: true };
    requests.push(p.request);
    bytes += p.size;
    if (requests.length >= s.cfg.maxBatchRequests) return { requests, full: true };
  }
  return { requests, full: false };
}

function propose(s: ReplicaState, requests: ClientRequest[]): void {
  const seq = s.nextSeq++;
  const timestamp = Math.max(Math.floor(s.now / 1000), s.lastProposedTimestamp, s.lastTimestamp);
  s.lastProposedTimestamp = timestamp;
  // Within a client, in request order: exactly-once drops a request that runs after a later one.
  const firstAt = new Map<number, number>();
  requests.forEach((r, i) => firstAt.has(r.clientId) || firstAt.set(r.clientId, i));
  requests.sort((a, b) => firstAt.get(a.clientId)! - firstAt.get(b.clientId)! || a.requestSeq - b.requestSeq);
  const batch: Batch = { timestamp, requests };
  for (const r of requests) s.proposed.add(requestKey(r));
  send(s, allReplicasBut(s, s.id), { type: 'PrePrepare', view: s.view, seq, batch });
  acceptProposal(s, slotOf(s, seq), s.view, batch, batchDigest(s, seq, batch));
}

/** After a view change: requests this replica holds go to the new primary. */
export function forwardPending(s: ReplicaState): void {
  if (isPrimary(s) || s.pending.size === 0) return;
  const primary = primaryOf(s.view, s.q.n);
  let n = 0;
  for (const p of s.pending.values()) {
    if (s.proposed.has(p.key)) continue;
    send(s, [primary], { type: 'Request', request: p.request });
    if (++n >= s.cfg.maxBatchRequests * s.cfg.maxInFlight) break;
  }
}
