/**
 * Leaving a view and agreeing on the next (SBFT §V, after PBFT §4.4):
 *   a replica whose requests or slots make no progress complains; f + 1 complaints (one of them
 *   honest) move every replica that sees them to view v + 1; each sends a signed ViewChange with its
 *   stable checkpoint certificate and, per slot above it, its commit certificate, its highest
 *   prepare certificate and its latest vote; the new primary's NewView carries exactly n − f of
 *   them (2f + 2c + 1 when n = 3f + 2c + 1), from which every replica computes the same
 *   re-proposals (`selectSlots`).
 * A replica whose view does not become active in time moves on, with a timeout that doubles up
 * to a cap.
 */
import type { Batch, CheckpointCertificate, Complaint, NewView, ViewChange, ViewChangeSlot } from '../codec/messages.ts';
import { commitShareBytes, viewChangeBytes } from '../codec/signing.ts';
import { primaryOf } from './config.ts';
import { event, persist, reject, send } from './effects.ts';
import { adoptStable, verifyStable } from './execution.ts';
import { acceptProposal, batchDigest, commitSlot, inWindow, isPrimary, knownBatch, verifyCommit } from './ordering.ts';
import { forwardPending, tryPropose } from './requests.ts';
import { allReplicasBut, configurationBase, hexKey, isReplica, oldestUnordered, progressTimeout, slotOf, type ReplicaState } from './state.ts';

// ---- complaints ----------------------------------------------------------------------------

export function complain(s: ReplicaState, reason: string): void {
  const set = complaintsFor(s, s.view);
  if (set.has(s.id)) return;
  set.add(s.id);
  event(s, { event: 'complained', view: s.view, reason });
  const msg: Complaint = { type: 'Complaint', view: s.view };
  send(s, allReplicasBut(s, s.id), msg);
  checkComplaints(s, reason);
}

function complaintsFor(s: ReplicaState, view: number): Set<number> {
  let set = s.complaints.get(view);
  if (set === undefined) s.complaints.set(view, (set = new Set()));
  return set;
}

export function onComplaint(s: ReplicaState, from: number, m: Complaint): void {
  if (!isReplica(s, from)) return reject(s, from, 'not-a-replica');
  if (m.view < s.view) {
    // The sender is behind: the NewView that started our view brings it here. Only the primary
    // sends it: from anyone else it is refused as misconduct (`onNewView`; catch-up.ts, `onStatus`).
    if (s.active && s.newView !== null && s.id === primaryOf(s.view, s.q.n)) send(s, [from], s.newView);
    return;
  }
  if (m.view > s.view + 1) return;
  complaintsFor(s, m.view).add(from);
  if (m.view === s.view) checkComplaints(s, `complaints from ${[...complaintsFor(s, m.view)].join(',')}`);
}

function checkComplaints(s: ReplicaState, reason: string): void {
  if (s.active && complaintsFor(s, s.view).size >= s.q.weak) startViewChange(s, s.view + 1, reason);
}

/** The request and slot timers: no progress for `progressTimeout` (the request timeout, allowing for slow execution) means a complaint. */
export function onProgressTimers(s: ReplicaState): void {
  if (s.active) {
    const oldest = oldestUnordered(s);
    const stalledRequest =
      oldest !== undefined &&
      (s.now - Math.max(oldest.since, s.pipelineFullAt) > progressTimeout(s) || s.now - oldest.since > s.cfg.orderingDeadlineMs);
    let stalledSlot = false;
    for (const slot of s.slots.values()) {
      if (slot.committed === null && slot.proposal !== null && s.now - slot.since > progressTimeout(s)) {
        stalledSlot = true;
        break;
      }
    }
    if (stalledRequest) {
      const waited = s.now - oldest.since;
      complain(s, waited > s.cfg.orderingDeadlineMs ? `request ${oldest.key} not ordered for ${waited} ms` : `request ${oldest.key} timed out`);
    } else if (stalledSlot) complain(s, 'slot timeout');
  } else if (s.viewDeadline !== null && s.now >= s.viewDeadline) {
    // f + 1 peers (one honest at least) report working in this view: it did start, without this
    // replica (a restart, a slow machine). Its NewView comes with their next answer to our Status;
    // moving on would leave this replica alone in the next view for good.
    let started = 0;
    for (const p of s.peers.values()) if (p.view === s.view && p.viewActive) started++;
    if (started >= s.q.weak) {
      s.viewDeadline = s.now + s.viewTimeout;
      return;
    }
    // As in PBFT, only a quorum already in this view change is evidence against its new primary;
    // without one, moving on alone would leave this replica views ahead of the others for good.
    // A replica asking for a later view has left this one too: it counts (after a restart, the
    // ViewChanges others sent for this view are gone, and those who moved on do not send them again).
    if (leftView(s, s.view) >= s.q.viewChange) {
      s.viewTimeout = Math.min(s.viewTimeout * 2, s.cfg.viewChangeTimeoutCapMs);
      startViewChange(s, s.view + 1, `view ${s.view} did not start in time`);
    } else {
      s.viewDeadline = s.now + s.viewTimeout;
    }
  }
}

/** Replicas known to have left `view`: a ViewChange for it or for any later view. */
function leftView(s: ReplicaState, view: number): number {
  const who = new Set<number>();
  for (const [v, byReplica] of s.viewChanges) if (v >= view) for (const r of byReplica.keys()) who.add(r);
  // This replica's own, restored after a restart without the others it had gathered.
  if (s.myViewChange !== null && s.myViewChange.view >= view) who.add(s.id);
  return who.size;
}

// ---- ViewChange ----------------------------------------------------------------------------

function viewChangeSlots(s: ReplicaState): ViewChangeSlot[] {
  const out: ViewChangeSlot[] = [];
  const seqs = [...s.slots.keys()].filter((q) => inWindow(s, q)).sort((a, b) => a - b);
  for (const seq of seqs) {
    const slot = s.slots.get(seq)!;
    const commit = slot.committed?.commit ?? null;
    const vote = slot.vote === null ? null : { view: slot.vote.view, digest: slot.vote.digest };
    if (commit === null && slot.prepared === null && vote === null) continue;
    // A committed slot travels as its certificate alone: the digest is fixed, and a replica without
    // the batch fetches it, checked against that digest, from a peer that executed it (catch-up).
    // Carrying every committed batch above the stable checkpoint made ViewChanges of tens of MiB
    // under load, and NewViews (three of them) larger than any frame a link carries: the view
    // change could never complete.
    const batches = new Map<string, Batch>();
    for (const d of commit === null ? [slot.prepared?.digest, vote?.digest] : []) {
      if (d === undefined) continue;
      const key = hexKey(d);
      const b = knownBatch(slot, key);
      if (b !== null) batches.set(key, b);
    }
    out.push({ seq, commit, prepared: commit === null ? slot.prepared : null, vote: commit === null ? vote : null, batches: [...batches.values()] });
  }
  return out;
}

export function startViewChange(s: ReplicaState, target: number, reason: string): void {
  if (target < s.view || (target === s.view && !s.active)) return;
  s.view = target;
  s.active = false;
  s.viewDeadline = s.now + s.viewTimeout;
  s.batchDeadline = null;
  for (const slot of s.slots.values()) resetForView(slot);
  const body = { view: target, replica: s.id, stable: s.stableCert, slots: viewChangeSlots(s) };
  const vc: ViewChange = { type: 'ViewChange', ...body, signature: s.crypto.sign('consensus', viewChangeBytes(body), viewChangeSeq(s, body)) };
  s.myViewChange = vc;
  persist(s, { kind: 'view', view: target, active: false });
  persist(s, { kind: 'viewChange', message: vc });
  event(s, { event: 'view-change-started', view: target, reason });
  send(s, allReplicasBut(s, s.id), vc);
  recordViewChange(s, s.id, vc);
}

function resetForView(slot: ReturnType<typeof slotOf>): void {
  slot.proposal = null;
  slot.shares.clear();
  slot.commitVotes.clear();
  slot.badSigners.clear();
  slot.fastProofSent = slot.prepareSent = slot.commitFullSent = false;
}

/**
 * The sequence number whose key signs a ViewChange: the one after the stable checkpoint it
 * carries. Everything at or below that checkpoint is final, so a replica never needs a retired
 * key for a ViewChange, and every verifier picks the same key from the message alone.
 */
function viewChangeSeq(s: ReplicaState, body: { readonly stable: { readonly seq: number } | null }): number {
  return (body.stable?.seq ?? configurationBase(s)) + 1;
}

/**
 * Signature, and every certificate inside: a ViewChange is evidence others will rely on. What this
 * replica already knows is not checked again: a certificate for a slot it has executed (entering
 * the view skips those), or one naming the digest it holds committed (it can only confirm it).
 * Each commit certificate costs a pairing, and a ViewChange may carry a whole window of them.
 */
function validViewChange(s: ReplicaState, vc: ViewChange): boolean {
  if (!isReplica(s, vc.replica)) return false;
  const { signature, type: _t, ...body } = vc;
  if (!s.crypto.verifyShare('consensus', vc.replica, viewChangeBytes(body), signature, viewChangeSeq(s, body))) return false;
  if (vc.stable !== null && !sameStable(s, vc.stable) && !verifyStable(s, vc.stable)) return false;
  // A certificate from before this configuration is none of its evidence (`configurationBase`).
  if (vc.stable !== null && vc.stable.seq <= configurationBase(s)) return false;
  const base = vc.stable?.seq ?? configurationBase(s);
  let prev = base;
  for (const sl of vc.slots) {
    if (sl.seq <= prev || sl.seq > base + s.cfg.window) return false;
    prev = sl.seq;
    if (sl.seq <= s.lastExecuted) continue;
    const mine = s.slots.get(sl.seq)?.committed?.commit.digest;
    const known = mine !== undefined && sl.commit !== null && hexKey(mine) === hexKey(sl.commit.digest);
    if (sl.commit !== null && !known && !verifyCommit(s, sl.seq, sl.commit)) return false;
    if (
      sl.prepared !== null &&
      !s.crypto.verifyCertificate('consensus', commitShareBytes(sl.prepared.view, sl.seq, sl.prepared.digest), sl.prepared.cert, s.q.slow, sl.seq)
    ) {
      return false;
    }
  }
  return true;
}

/** The stable certificate this replica holds, if `cert` names the same checkpoint (no pairing needed). */
function sameStable(s: ReplicaState, cert: CheckpointCertificate): boolean {
  const mine = s.stableCert;
  return mine !== null && mine.seq === cert.seq && hexKey(mine.summary.blockHash) === hexKey(cert.summary.blockHash) &&
    hexKey(mine.summary.stateRoot) === hexKey(cert.summary.stateRoot) && hexKey(mine.summary.reservedDigest) === hexKey(cert.summary.reservedDigest);
}

export function onViewChange(s: ReplicaState, from: number, m: ViewChange): void {
  if (!isReplica(s, from) || m.replica !== from) return reject(s, from, 'bad-view-change', 'sender is not the signer');
  if (m.view < s.view || (m.view === s.view && s.active)) return;
  // A repeat (ViewChanges are resent every status period until the view starts), or one for a view
  // below the sender's latest: nothing new, and not worth a signature check.
  if (heldViewOf(s, from) >= m.view) return;
  if (!validViewChange(s, m)) return reject(s, from, 'bad-view-change', `view ${m.view}`);
  recordViewChange(s, from, m);
}

/** The view of the ViewChange held from `replica` (−1: none). */
function heldViewOf(s: ReplicaState, replica: number): number {
  for (const [view, byReplica] of s.viewChanges) if (byReplica.has(replica)) return view;
  return -1;
}

/**
 * Keeps each replica's ViewChange for its highest view only: a replica never goes back to a view it
 * left, so a lower one can no longer be part of a NewView, and what a peer can make this replica
 * hold is one message however high it asks.
 */
function recordViewChange(s: ReplicaState, from: number, m: ViewChange): void {
  for (const [view, byReplica] of s.viewChanges) {
    if (!byReplica.has(from)) continue;
    if (view >= m.view) return;
    byReplica.delete(from);
    if (byReplica.size === 0) s.viewChanges.delete(view);
  }
  let byReplica = s.viewChanges.get(m.view);
  if (byReplica === undefined) s.viewChanges.set(m.view, (byReplica = new Map()));
  byReplica.set(from, m);
  // Leaving for a later view is a complaint against this one (its Complaint may have been lost).
  if (s.active && m.view > s.view && from !== s.id) {
    complaintsFor(s, s.view).add(from);
    if (complaintsFor(s, s.view).has(s.id)) checkComplaints(s, `complaint and a ViewChange from ${from}`);
    if (!s.active) return;
  }
  // f + 1 replicas already moving past our view include an honest one: follow them to the highest
  // view that f + 1 of them have reached.
  const highest = new Map<number, number>();
  for (const [view, vcs] of s.viewChanges) {
    if (view <= s.view) continue;
    for (const r of vcs.keys()) if (r !== s.id) highest.set(r, Math.max(highest.get(r) ?? -1, view));
  }
  if (highest.size >= s.q.weak) {
    const views = [...highest.values()].sort((a, b) => b - a);
    startViewChange(s, views[s.q.weak - 1]!, 'f + 1 replicas left the view');
  }
  if (!s.active && m.view === s.view && primaryOf(s.view, s.q.n) === s.id) tryBuildNewView(s);
}

// ---- NewView -------------------------------------------------------------------------------

export type Selection =
  /** A committed slot; its batch is null when no ViewChange carried it (fetched by catch-up). */
  | { readonly seq: number; readonly kind: 'committed'; readonly batch: Batch | null; readonly vc: ViewChangeSlot }
  | { readonly seq: number; readonly kind: 'propose'; readonly batch: Batch; readonly digest: Uint8Array };

/**
 * Per slot above the highest stable checkpoint in the set (SBFT's view-change rule):
 *   1. a commit certificate fixes the batch;
 *   2. otherwise let P be the prepare certificate of the highest view v_p; a digest named by the
 *      latest votes of at least f + c + 1 replicas, each vote in a view above v_p, is chosen
 *      (a fast-path commit in view u leaves n − 2f − c ≥ f + c + 1 honest such votes among any
 *      n − f ViewChanges, and any other digest at most the f + c others: `quorumsOf`);
 *   3. otherwise P's digest; otherwise a null batch.
 * Returns null if a chosen batch's content is not in the set.
 */
export function selectSlots(s: ReplicaState, vcs: readonly ViewChange[]): { stable: CheckpointCertificate | null; slots: Selection[] } | null {
  let stable: CheckpointCertificate | null = null;
  for (const vc of vcs) if (vc.stable !== null && (stable === null || vc.stable.seq > stable.seq)) stable = vc.stable;
  const base = stable?.seq ?? configurationBase(s);
  const bySeq = new Map<number, ViewChangeSlot[]>();
  for (const vc of vcs) {
    for (const sl of vc.slots) {
      if (sl.seq <= base || sl.seq > base + s.cfg.window) continue;
      let list = bySeq.get(sl.seq);
      if (list === undefined) bySeq.set(sl.seq, (list = []));
      list.push(sl);
    }
  }
  const top = Math.max(base, ...bySeq.keys());
  const out: Selection[] = [];
  for (let seq = base + 1; seq <= top; seq++) {
    const entries = bySeq.get(seq) ?? [];
    const chosen = chooseSlot(s, seq, entries);
    if (chosen === null) return null;
    out.push(chosen);
  }
  return { stable, slots: out };
}

function chooseSlot(s: ReplicaState, seq: number, entries: readonly ViewChangeSlot[]): Selection | null {
  const content = new Map<string, Batch>();
  for (const e of entries) for (const b of e.batches) content.set(hexKey(batchDigest(s, seq, b)), b);
  const withCommit = entries.find((e) => e.commit !== null);
  if (withCommit !== undefined) {
    return { seq, kind: 'committed', batch: content.get(hexKey(withCommit.commit!.digest)) ?? null, vc: withCommit };
  }
  let prepared: { view: number; digest: Uint8Array } | null = null;
  for (const e of entries) if (e.prepared !== null && (prepared === null || e.prepared.view > prepared.view)) prepared = e.prepared;
  const vp = prepared?.view ?? -1;
  const votes = new Map<string, number>();
  let chosenKey: string | null = null;
  for (const e of entries) {
    if (e.vote === null || e.vote.view <= vp) continue;
    const key = hexKey(e.vote.digest);
    const count = (votes.get(key) ?? 0) + 1;
    votes.set(key, count);
    if (count >= s.cfg.f + s.cfg.c + 1) chosenKey = key;
  }
  if (chosenKey === null && prepared !== null) chosenKey = hexKey(prepared.digest);
  if (chosenKey === null) {
    const batch: Batch = { timestamp: 0, requests: [] };
    return { seq, kind: 'propose', batch, digest: batchDigest(s, seq, batch) };
  }
  const batch = content.get(chosenKey);
  if (batch === undefined) return null;
  return { seq, kind: 'propose', batch, digest: new Uint8Array(Buffer.from(chosenKey, 'hex')) };
}

function tryBuildNewView(s: ReplicaState): void {
  const vcs = s.viewChanges.get(s.view);
  if (vcs === undefined || vcs.size < s.q.viewChange) return;
  // Exactly a quorum: the vote-count rule is sound for n − f messages, not for more.
  const chosen = [...vcs.keys()].sort((a, b) => a - b).slice(0, s.q.viewChange).map((r) => vcs.get(r)!);
  const sel = selectSlots(s, chosen);
  if (sel === null) return; // a chosen batch's content is missing: wait for more ViewChanges
  const nv: NewView = { type: 'NewView', view: s.view, viewChanges: chosen };
  send(s, allReplicasBut(s, s.id), nv);
  enterView(s, nv, sel);
}

export function onNewView(s: ReplicaState, from: number, m: NewView): void {
  if (from !== primaryOf(m.view, s.q.n)) return reject(s, from, 'bad-new-view', 'not from the view\'s primary');
  if (m.view < s.view || (m.view === s.view && s.active)) return;
  const senders = new Set(m.viewChanges.map((vc) => vc.replica));
  if (m.viewChanges.length !== s.q.viewChange || senders.size !== m.viewChanges.length) {
    return reject(s, from, 'bad-new-view', `needs exactly n − f = ${s.q.viewChange} ViewChanges from distinct replicas`);
  }
  for (const vc of m.viewChanges) {
    if (vc.view !== m.view || !validViewChange(s, vc)) return reject(s, from, 'bad-new-view', `ViewChange of ${vc.replica}`);
  }
  const sel = selectSlots(s, m.viewChanges);
  if (sel === null) return reject(s, from, 'bad-new-view', 'a re-proposed batch is missing');
  enterView(s, m, sel);
}

function enterView(s: ReplicaState, nv: NewView, sel: { stable: CheckpointCertificate | null; slots: Selection[] }): void {
  s.view = nv.view;
  s.newView = nv;
  s.myViewChange = null;
  for (const v of s.viewChanges.keys()) if (v <= nv.view) s.viewChanges.delete(v);
  for (const v of s.complaints.keys()) if (v < nv.view) s.complaints.delete(v);
  // Still inactive here, so that adopting the checkpoint cannot start fresh proposals early.
  if (sel.stable !== null && sel.stable.seq > s.lastStable) adoptStable(s, sel.stable);
  s.active = true;
  s.viewDeadline = null;
  persist(s, { kind: 'view', view: nv.view, active: true });
  persist(s, { kind: 'newView', message: nv });
  for (const slot of s.slots.values()) resetForView(slot);
  s.proposed.clear();
  let top = s.lastStable;
  for (const e of sel.slots) {
    top = Math.max(top, e.seq);
    const batch = e.batch ?? (e.seq > s.lastExecuted ? (s.slots.get(e.seq) ?? null) : null)?.committed?.batch ?? null;
    for (const r of batch?.requests ?? []) s.proposed.add(`${r.clientId}:${r.requestSeq}`);
    if (batch !== null) s.lastProposedTimestamp = Math.max(s.lastProposedTimestamp, batch.timestamp);
    if (e.seq <= s.lastExecuted || !inWindow(s, e.seq)) continue;
    const slot = slotOf(s, e.seq);
    if (slot.committed !== null) continue;
    // A committed batch this replica lacks waits as a pending commit (its vote may hold it; else catch-up brings it).
    if (e.kind === 'committed') commitSlot(s, slot, e.vc.commit!, 'new-view', e.batch ?? undefined);
    else acceptProposal(s, slot, nv.view, e.batch, e.digest);
  }
  s.nextSeq = Math.max(top, s.lastExecuted) + 1;
  for (const p of s.pending.values()) p.since = s.now;
  event(s, { event: 'view-entered', view: nv.view, primary: primaryOf(nv.view, s.q.n) });
  if (isPrimary(s)) tryPropose(s);
  else forwardPending(s);
}
