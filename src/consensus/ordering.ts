/**
 * Ordering one sequence number, as SBFT does it (Gueta et al., "SBFT: a Scalable and Decentralized
 * Trust Infrastructure", §IV):
 *   primary ── PrePrepare(v, s, batch) ──► all
 *   each   ── CommitShare σ_i(v, s, d) ──► collectors(s)            (fast path)
 *   collector, n − c shares ── FullCommitProof ──► all: committed
 *   collector, after the fast-path timeout with ⌈(n + f + 1) / 2⌉ shares ── PrepareFull ──► all
 *   each   ── CommitPartial τ_i(v, s, d) ──► collectors(s)          (slow path)
 *   collector, ⌈(n + f + 1) / 2⌉ commit votes ── CommitFull ──► all: committed
 * One share serves both paths: n − c of them are a commit proof, ⌈(n + f + 1) / 2⌉ a prepare certificate.
 * If a collector does not act, replicas send their share to the primary too, which then collects.
 */
import type {
  Batch,
  Certificate,
  CommitCertificate,
  CommitFull,
  CommitPartial,
  CommitShare,
  FullCommitProof,
  Message,
  PrePrepare,
  PrepareFull,
} from '../codec/messages.ts';
import { batchDigestBytes, commitShareBytes, slowCommitBytes } from '../codec/signing.ts';
import { collectorsOf, primaryOf } from './config.ts';
import type { CertificateCheck, Share } from './crypto.ts';
import { reject, send, persist, event } from './effects.ts';
import { hexKey, isClient, isReplica, requestKey, slotOf, allReplicasBut, type ReplicaState, type Slot } from './state.ts';
import { isInternal } from './key-exchange.ts';

export function batchDigest(s: ReplicaState, seq: number, batch: Batch): Uint8Array {
  return s.crypto.digest(batchDigestBytes(seq, batch));
}

export function inWindow(s: ReplicaState, seq: number): boolean {
  return seq > s.lastStable && seq <= s.lastStable + s.cfg.window;
}

export function isPrimary(s: ReplicaState): boolean {
  return primaryOf(s.view, s.q.n) === s.id;
}

function collectorsFor(s: ReplicaState, seq: number, withPrimary: boolean): number[] {
  const cs = collectorsOf(seq, s.q, s.cfg.c);
  const p = primaryOf(s.view, s.q.n);
  if (withPrimary && !cs.includes(p)) cs.push(p);
  return cs;
}

function isCollector(s: ReplicaState, seq: number): boolean {
  return collectorsFor(s, seq, true).includes(s.id);
}

/** The batch content a slot holds for a digest, if any. */
export function knownBatch(slot: Slot, key: string): Batch | null {
  if (slot.proposal?.key === key) return slot.proposal.batch;
  if (slot.vote !== null && hexKey(slot.vote.digest) === key) return slot.vote.batch;
  if (slot.committed !== null && hexKey(slot.committed.commit.digest) === key) return slot.committed.batch;
  return null;
}

// ---- PrePrepare ----------------------------------------------------------------------------

export function onPrePrepare(s: ReplicaState, from: number, m: PrePrepare): void {
  if (from !== primaryOf(m.view, s.q.n)) return reject(s, from, 'not-primary');
  if (m.view !== s.view || !s.active) return reject(s, from, 'wrong-view', `view ${m.view}, here ${s.view}`);
  if (!inWindow(s, m.seq)) return reject(s, from, 'outside-window', `seq ${m.seq}`);
  const slot = slotOf(s, m.seq);
  if (slot.committed !== null) return;
  const problem = checkBatch(s, m.seq, m.batch);
  if (problem !== null) return reject(s, from, problem.reason, problem.detail);
  const digest = batchDigest(s, m.seq, m.batch);
  acceptProposal(s, slot, m.view, m.batch, digest);
}

/** Validation a backup applies to a proposal (ARCHITECTURE "Ordering", "Blocks and time"). */
function checkBatch(
  s: ReplicaState,
  seq: number,
  batch: Batch,
): { reason: 'bad-batch' | 'bad-timestamp'; detail: string } | null {
  if (batch.requests.length > s.cfg.maxBatchRequests) return { reason: 'bad-batch', detail: 'too many requests' };
  let bytes = 0;
  const seen = new Set<string>();
  for (const r of batch.requests) {
    bytes += r.payload.length;
    const key = `${r.clientId}:${r.requestSeq}`;
    if (seen.has(key)) return { reason: 'bad-batch', detail: `request ${key} twice` };
    seen.add(key);
    // A replica's own request (a key exchange) is allowed only while key exchange is on.
    const internal = isInternal(s, r) && s.cfg.keyExchange;
    if (!internal && !isClient(s, r.clientId)) {
      return { reason: 'bad-batch', detail: `unknown client ${r.clientId}` };
    }
    if (!s.crypto.verifyRequest(r, seq)) return { reason: 'bad-batch', detail: `request ${key}: bad signature` };
  }
  if (bytes > s.cfg.maxBatchBytes) return { reason: 'bad-batch', detail: 'batch too large' };
  if (batch.requests.length === 0) return null; // a null batch carries no time
  // A proposal may not go back in time, nor stray further than the skew bound from our clock.
  const prev = s.slots.get(seq - 1)?.proposal?.batch.timestamp ?? 0;
  if (batch.timestamp < Math.max(prev, s.lastTimestamp)) return { reason: 'bad-timestamp', detail: 'before the previous block' };
  if (Math.abs(batch.timestamp * 1000 - s.now) > s.cfg.maxClockSkewMs) {
    return { reason: 'bad-timestamp', detail: `timestamp ${batch.timestamp} too far from local time` };
  }
  return null;
}

/** Accepts (view, seq, batch) as this view's proposal and votes for it, unless that would equivocate. */
export function acceptProposal(s: ReplicaState, slot: Slot, view: number, batch: Batch, digest: Uint8Array): void {
  const key = hexKey(digest);
  if (slot.proposal !== null && slot.proposal.view === view) {
    if (slot.proposal.key !== key) reject(s, primaryOf(view, s.q.n), 'equivocation', `seq ${slot.seq}`);
    return;
  }
  // Write-ahead: a vote already cast in this view (possibly before a restart) binds this slot.
  if (slot.vote !== null && slot.vote.view === view && hexKey(slot.vote.digest) !== key) {
    return reject(s, primaryOf(view, s.q.n), 'equivocation', `seq ${slot.seq} (restored vote)`);
  }
  slot.proposal = { view, digest, key, batch };
  slot.since = s.now;
  slot.lastRetransmit = s.now;
  if (slot.pendingCommit !== null && hexKey(slot.pendingCommit.digest) === key) {
    const commit = slot.pendingCommit;
    slot.pendingCommit = null;
    commitSlot(s, slot, commit, 'fast');
    return;
  }
  castVote(s, slot);
}

function castVote(s: ReplicaState, slot: Slot): void {
  const p = slot.proposal!;
  const fresh = slot.vote === null || slot.vote.view !== p.view;
  if (fresh) {
    slot.vote = { view: p.view, digest: p.digest, batch: p.batch };
    persist(s, { kind: 'vote', seq: slot.seq, view: p.view, digest: p.digest, batch: p.batch });
  }
  sendShare(s, slot, false);
}

function sendShare(s: ReplicaState, slot: Slot, withPrimary: boolean): void {
  const p = slot.proposal!;
  const signature = s.crypto.sign('consensus', commitShareBytes(p.view, slot.seq, p.digest), slot.seq);
  const msg: CommitShare = { type: 'CommitShare', view: p.view, seq: slot.seq, digest: p.digest, signature };
  const to = collectorsFor(s, slot.seq, withPrimary);
  const others = to.filter((r) => r !== s.id);
  if (others.length > 0) send(s, others, msg);
  if (to.includes(s.id)) recordShare(s, slot, s.id, p.key, signature);
}

// ---- collecting ----------------------------------------------------------------------------

export function onCommitShare(s: ReplicaState, from: number, m: CommitShare): void {
  if (!isReplica(s, from)) return reject(s, from, 'not-a-replica');
  if (m.view !== s.view || !s.active) return;
  if (!inWindow(s, m.seq)) return;
  const slot = slotOf(s, m.seq);
  if (slot.committed !== null) return resendCommit(s, from, slot);
  if (!isCollector(s, m.seq)) return reject(s, from, 'unexpected-message', 'not a collector for this slot');
  recordShare(s, slot, from, hexKey(m.digest), m.signature);
}

function recordShare(s: ReplicaState, slot: Slot, from: number, key: string, signature: Uint8Array): void {
  if (slot.badSigners.has(from)) return;
  const prior = slot.shares.get(from);
  if (prior !== undefined) {
    if (prior.key !== key) reject(s, from, 'equivocation', `two shares for seq ${slot.seq}`);
    return;
  }
  slot.shares.set(from, { key, signature });
  tryCollect(s, slot);
}

function digestOf(slot: Slot, key: string): Uint8Array {
  return slot.proposal?.key === key ? slot.proposal.digest : new Uint8Array(Buffer.from(key, 'hex'));
}

/** The digest with most votes in `votes`, and those votes. */
function leading(votes: Map<number, { key: string; signature: Uint8Array }>): { key: string; shares: Share[] } | null {
  const groups = new Map<string, Share[]>();
  for (const [replica, v] of votes) {
    let g = groups.get(v.key);
    if (g === undefined) groups.set(v.key, (g = []));
    g.push({ replica, signature: v.signature });
  }
  let best: { key: string; shares: Share[] } | null = null;
  for (const [key, shares] of groups) if (best === null || shares.length > best.shares.length) best = { key, shares };
  return best;
}

/**
 * Combines shares optimistically (one pairing check for the aggregate); if the aggregate fails,
 * checks each share, excludes the bad ones from this slot for this view, and reports them.
 */
function certify(
  s: ReplicaState,
  slot: Slot,
  votes: Map<number, { key: string; signature: Uint8Array }>,
  message: Uint8Array,
  shares: Share[],
  quorum: number,
): Certificate | null {
  const cert = s.crypto.combine(shares);
  if (s.crypto.verifyCertificate('consensus', message, cert, quorum, slot.seq)) return cert;
  const good: Share[] = [];
  for (const sh of shares) {
    if (s.crypto.verifyShare('consensus', sh.replica, message, sh.signature, slot.seq)) good.push(sh);
    else {
      slot.badSigners.add(sh.replica);
      votes.delete(sh.replica);
      reject(s, sh.replica, 'bad-share', `seq ${slot.seq}`);
      event(s, { event: 'bad-share-excluded', seq: slot.seq, replica: sh.replica });
    }
  }
  if (good.length < quorum) return null;
  return s.crypto.combine(good);
}

export function tryCollect(s: ReplicaState, slot: Slot): void {
  if (slot.committed !== null || !s.active) return;
  const lead = leading(slot.shares);
  if (lead === null) return;
  const digest = digestOf(slot, lead.key);
  const view = s.view;
  const msg = commitShareBytes(view, slot.seq, digest);
  if (!slot.fastProofSent && lead.shares.length >= s.q.fast) {
    const cert = certify(s, slot, slot.shares, msg, lead.shares.slice(0, s.q.fast), s.q.fast);
    if (cert === null) return tryCollect(s, slot);
    slot.fastProofSent = true;
    const proof: FullCommitProof = { type: 'FullCommitProof', view, seq: slot.seq, digest, cert };
    send(s, allReplicasBut(s, s.id), proof);
    return commitSlot(s, slot, { kind: 'fast', view, digest, cert }, 'fast');
  }
  const fastExpired = s.now >= slot.since + s.cfg.fastPathTimeoutMs;
  if (!slot.prepareSent && fastExpired && lead.shares.length >= s.q.slow) {
    const cert = certify(s, slot, slot.shares, msg, lead.shares.slice(0, s.q.slow), s.q.slow);
    if (cert === null) return tryCollect(s, slot);
    slot.prepareSent = true;
    const pf: PrepareFull = { type: 'PrepareFull', view, seq: slot.seq, digest, cert };
    send(s, allReplicasBut(s, s.id), pf);
    onPrepared(s, slot, { view, digest, cert }, s.id);
  }
}

// ---- certificates --------------------------------------------------------------------------

/** The certificates `step` would verify for `m`, for a shell that checks them in bulk first. */
export function certificateChecks(s: ReplicaState, m: Message): CertificateCheck[] {
  switch (m.type) {
    case 'FullCommitProof':
    case 'PrepareFull':
      if (m.seq <= s.lastExecuted || s.slots.get(m.seq)?.committed != null) return [];
      return [{ domain: 'consensus', seq: m.seq, message: commitShareBytes(m.view, m.seq, m.digest), cert: m.cert, minSigners: m.type === 'PrepareFull' ? s.q.slow : s.q.fast }];
    case 'CommitFull':
      if (m.seq <= s.lastExecuted || s.slots.get(m.seq)?.committed != null) return [];
      return [{ domain: 'consensus', seq: m.seq, message: slowCommitBytes(m.view, m.seq, m.digest), cert: m.cert, minSigners: s.q.slow }];
    case 'CommittedBatch': {
      if (m.seq <= s.lastExecuted) return [];
      const c = m.commit;
      const message = c.kind === 'fast' ? commitShareBytes(c.view, m.seq, c.digest) : slowCommitBytes(c.view, m.seq, c.digest);
      return [{ domain: 'consensus', seq: m.seq, message, cert: c.cert, minSigners: c.kind === 'fast' ? s.q.fast : s.q.slow }];
    }
    default:
      return [];
  }
}

export function verifyCommit(s: ReplicaState, seq: number, c: CommitCertificate): boolean {
  if (c.kind === 'fast') return s.crypto.verifyCertificate('consensus', commitShareBytes(c.view, seq, c.digest), c.cert, s.q.fast, seq);
  return s.crypto.verifyCertificate('consensus', slowCommitBytes(c.view, seq, c.digest), c.cert, s.q.slow, seq);
}

export function onFullCommitProof(s: ReplicaState, from: number, m: FullCommitProof | CommitFull): void {
  if (!isReplica(s, from)) return reject(s, from, 'not-a-replica');
  if (m.seq <= s.lastExecuted || m.seq > s.lastStable + s.cfg.window) return;
  const slot = slotOf(s, m.seq);
  if (slot.committed !== null) return;
  const commit: CommitCertificate = {
    kind: m.type === 'FullCommitProof' ? 'fast' : 'slow',
    view: m.view,
    digest: m.digest,
    cert: m.cert,
  };
  if (!verifyCommit(s, m.seq, commit)) return reject(s, from, 'bad-certificate', `${m.type} seq ${m.seq}`);
  commitSlot(s, slot, commit, commit.kind);
}

export function onPrepareFull(s: ReplicaState, from: number, m: PrepareFull): void {
  if (!isReplica(s, from)) return reject(s, from, 'not-a-replica');
  if (!inWindow(s, m.seq)) return;
  const slot = slotOf(s, m.seq);
  if (slot.committed !== null) return;
  if (slot.prepared !== null && slot.prepared.view >= m.view) {
    if (m.view === s.view && slot.commitVote?.view === s.view) sendCommitVote(s, slot, [from]);
    return;
  }
  const ok = s.crypto.verifyCertificate('consensus', commitShareBytes(m.view, m.seq, m.digest), m.cert, s.q.slow, m.seq);
  if (!ok) return reject(s, from, 'bad-certificate', `PrepareFull seq ${m.seq}`);
  onPrepared(s, slot, { view: m.view, digest: m.digest, cert: m.cert }, from);
}

function onPrepared(s: ReplicaState, slot: Slot, cert: { view: number; digest: Uint8Array; cert: Certificate }, from: number): void {
  slot.prepared = cert;
  persist(s, { kind: 'prepared', seq: slot.seq, cert });
  if (cert.view !== s.view || !s.active || slot.proposal?.key !== hexKey(cert.digest)) return;
  if (slot.commitVote === null || slot.commitVote.view !== s.view) {
    slot.commitVote = { view: s.view, digest: cert.digest };
    persist(s, { kind: 'commitVote', seq: slot.seq, view: s.view, digest: cert.digest });
  }
  sendCommitVote(s, slot, [from]);
}

function sendCommitVote(s: ReplicaState, slot: Slot, extra: number[]): void {
  const v = slot.commitVote!;
  const signature = s.crypto.sign('consensus', slowCommitBytes(v.view, slot.seq, v.digest), slot.seq);
  const msg: CommitPartial = { type: 'CommitPartial', view: v.view, seq: slot.seq, digest: v.digest, signature };
  const to = new Set([...collectorsFor(s, slot.seq, true), ...extra]);
  to.delete(s.id);
  if (to.size > 0) send(s, [...to], msg);
  if (isCollector(s, slot.seq) || extra.includes(s.id)) recordCommitVote(s, slot, s.id, msg);
}

export function onCommitPartial(s: ReplicaState, from: number, m: CommitPartial): void {
  if (!isReplica(s, from)) return reject(s, from, 'not-a-replica');
  if (m.view !== s.view || !s.active || !inWindow(s, m.seq)) return;
  const slot = slotOf(s, m.seq);
  if (slot.committed !== null) return resendCommit(s, from, slot);
  recordCommitVote(s, slot, from, m);
}

function recordCommitVote(s: ReplicaState, slot: Slot, from: number, m: CommitPartial): void {
  if (slot.commitVotes.has(from) || slot.badSigners.has(from)) return;
  slot.commitVotes.set(from, { key: hexKey(m.digest), signature: m.signature });
  if (slot.commitFullSent || slot.committed !== null) return;
  const lead = leading(slot.commitVotes);
  if (lead === null || lead.shares.length < s.q.slow) return;
  const digest = slot.prepared !== null && hexKey(slot.prepared.digest) === lead.key ? slot.prepared.digest : null;
  if (digest === null) return; // only commit what this collector saw prepared
  const msg = slowCommitBytes(s.view, slot.seq, digest);
  const cert = certify(s, slot, slot.commitVotes, msg, lead.shares.slice(0, s.q.slow), s.q.slow);
  if (cert === null) return;
  slot.commitFullSent = true;
  const full: CommitFull = { type: 'CommitFull', view: s.view, seq: slot.seq, digest, cert };
  send(s, allReplicasBut(s, s.id), full);
  commitSlot(s, slot, { kind: 'slow', view: s.view, digest, cert }, 'slow');
}

/** A peer still voting on a committed slot missed the proof: send it again. */
function resendCommit(s: ReplicaState, to: number, slot: Slot): void {
  const c = slot.committed!.commit;
  const msg: FullCommitProof | CommitFull =
    c.kind === 'fast'
      ? { type: 'FullCommitProof', view: c.view, seq: slot.seq, digest: c.digest, cert: c.cert }
      : { type: 'CommitFull', view: c.view, seq: slot.seq, digest: c.digest, cert: c.cert };
  send(s, [to], msg);
}

/** Marks a slot committed once its batch is known (write-ahead: the record precedes execution). */
export function commitSlot(
  s: ReplicaState,
  slot: Slot,
  commit: CommitCertificate,
  path: 'fast' | 'slow' | 'catch-up' | 'new-view',
  batch?: Batch,
): void {
  if (slot.committed !== null) return;
  const content = batch ?? knownBatch(slot, hexKey(commit.digest));
  if (content === null) {
    slot.pendingCommit = commit;
    return;
  }
  slot.committed = { batch: content, commit };
  slot.pendingCommit = null;
  for (const r of content.requests) {
    const key = requestKey(r);
    s.ordered.add(key);
    const p = s.pending.get(key);
    if (p !== undefined) p.ordered = true;
  }
  persist(s, { kind: 'committed', seq: slot.seq, batch: content, commit });
  event(s, { event: 'committed', seq: slot.seq, view: commit.view, path });
}

// ---- timers --------------------------------------------------------------------------------

/** Fast-path timeouts, and retransmission of what a lossy network may have eaten. */
export function onSlotTimers(s: ReplicaState): void {
  if (!s.active) return;
  for (const slot of s.slots.values()) {
    if (slot.committed !== null || !inWindow(s, slot.seq)) continue;
    if (slot.shares.size > 0 && !slot.prepareSent && s.now >= slot.since + s.cfg.fastPathTimeoutMs) tryCollect(s, slot);
    if (s.now < slot.lastRetransmit + s.cfg.retransmitMs) continue;
    slot.lastRetransmit = s.now;
    const p = slot.proposal;
    if (p === null || p.view !== s.view) continue;
    if (isPrimary(s)) send(s, allReplicasBut(s, s.id), { type: 'PrePrepare', view: p.view, seq: slot.seq, batch: p.batch });
    if (slot.vote?.view === s.view) sendShare(s, slot, true);
    if (slot.commitVote?.view === s.view) sendCommitVote(s, slot, []);
    if (slot.prepareSent && slot.prepared !== null) {
      const pf: PrepareFull = { type: 'PrepareFull', view: s.view, seq: slot.seq, digest: slot.prepared.digest, cert: slot.prepared.cert };
      send(s, allReplicasBut(s, s.id), pf);
    }
  }
}
