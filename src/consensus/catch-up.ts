/**
 * Catching up (Concord-BFT's state transfer, done by replaying certified batches): every replica
 * broadcasts a Status now and then; a peer that sees it is ahead answers with what the sender
 * lacks — the NewView of the current view, the latest stable checkpoint certificate, and, if it is
 * the source the sender chose, committed batches with their commit certificates, read from its
 * ledger. Each fetched batch is checked against its own certificate and executed in order; at each
 * checkpoint the result must match the stable certificate (else `fatal`). A source that stops
 * helping is replaced by the next replica that reported being ahead.
 */
import type { CommittedBatch, StableCheckpoint, Status } from '../codec/messages.ts';
import { send, reject, event, persist } from './effects.ts';
import { adoptStable, verifyStable } from './execution.ts';
import { batchDigest, commitSlot, inWindow, verifyCommit } from './ordering.ts';
import { allReplicasBut, hexKey, isReplica, progressTimeout, slotOf, type ReplicaState } from './state.ts';
import { primaryOf } from './config.ts';
import { PIPELINE_DEPTH } from './requests.ts';

export function statusOf(s: ReplicaState): Status {
  return {
    type: 'Status',
    view: s.view,
    viewActive: s.active,
    lastStable: s.lastStable,
    lastExecuted: s.lastExecuted,
    helpFrom: s.helpFrom,
  };
}

export function onStatusTimer(s: ReplicaState): void {
  if (s.now < s.nextStatusAt) return;
  s.nextStatusAt = s.now + s.cfg.statusIntervalMs;
  requestCatchUp(s, false);
  send(s, allReplicasBut(s, s.id), statusOf(s));
  // A view change whose messages were lost: say it again.
  if (!s.active && s.myViewChange !== null) send(s, allReplicasBut(s, s.id), s.myViewChange);
}

export function onStatus(s: ReplicaState, from: number, m: Status): void {
  if (!isReplica(s, from)) return reject(s, from, 'not-a-replica');
  s.peers.set(from, m);
  notePrimaryBusy(s, from, m);
  // Only the view's primary sends its NewView to a replica left behind: a NewView counts only from
  // the primary (`onNewView`) and from anyone else is refused as misconduct, so a replica back from
  // a partition, hearing it from every peer after each of its Status messages, cut the honest
  // ones off (test/e2e/netns-hosts.test.ts).
  if (s.active && s.newView !== null && s.id === primaryOf(s.view, s.q.n) && (m.view < s.view || (m.view === s.view && !m.viewActive))) {
    send(s, [from], s.newView);
  }
  if (m.lastStable < s.lastStable && s.stableCert !== null) {
    const msg: StableCheckpoint = { type: 'StableCheckpoint', cert: s.stableCert };
    send(s, [from], msg);
  }
  if (m.helpFrom === s.id && m.lastExecuted < s.lastExecuted) {
    // A chunk of committed batches (up to `catchUpChunk` MiB) per request, and at most one per peer
    // per half status period: an honest replica asks once per chunk executed, and a Status costs
    // its sender 30 bytes.
    if (s.now - (s.servedAt.get(from) ?? -Infinity) < s.cfg.statusIntervalMs / 2) return reject(s, from, 'rate-limited', 'catch-up help');
    s.servedAt.set(from, s.now);
    const toSeq = Math.min(s.lastExecuted, m.lastExecuted + s.cfg.catchUpChunk);
    s.out.push({ kind: 'serve', to: from, fromSeq: m.lastExecuted + 1, toSeq });
  }
}

/**
 * The primary proposes only while few of its batches wait for execution (`tryPropose`): when its
 * execution is slower than ours, requests wait at it for a reason that is no fault. Its Status shows
 * it: batches proposed in this view up to `proposed`, executed up to `lastExecuted`, two or more
 * apart, and execution moving (one batch at least in the last `PRIMARY_STALL_TIMEOUTS` request
 * timeouts: a single block may take longer than one on a loaded machine). Then the request timer
 * counts from now, as it does when this replica's own execution is the one behind
 * (`pipelineFullAt`). A primary that
 * claims to be slow must still execute, and so order, for it to keep counting; and the ordering
 * deadline bounds how long any one request can wait at all.
 */
const PRIMARY_STALL_TIMEOUTS = 4;

function notePrimaryBusy(s: ReplicaState, from: number, m: Status): void {
  if (from !== primaryOf(s.view, s.q.n) || m.view !== s.view || !m.viewActive || !s.active) return;
  if (m.lastExecuted > s.primaryProgress.executed) s.primaryProgress = { executed: m.lastExecuted, at: s.now };
  if (s.now - s.primaryProgress.at > PRIMARY_STALL_TIMEOUTS * progressTimeout(s)) return;
  // Everything this replica executed was proposed (its slots go at each stable checkpoint).
  let proposed = s.lastExecuted;
  for (const slot of s.slots.values()) if (slot.proposal?.view === s.view || slot.committed !== null) proposed = Math.max(proposed, slot.seq);
  if (proposed - m.lastExecuted >= PIPELINE_DEPTH) s.pipelineFullAt = s.now;
}

/** The replica that should serve us, or -1 when no peer is ahead. Rotates when a source stalls. */
export function requestCatchUp(s: ReplicaState, urgent: boolean): void {
  const next = s.lastExecuted + 1;
  const haveNext = s.executing !== null || s.slots.get(next)?.committed != null || s.fetched.has(next);
  const ahead = [...s.peers].filter(([, st]) => st.lastExecuted > s.lastExecuted).map(([r]) => r).sort((a, b) => a - b);
  if (ahead.length === 0) {
    s.helpFrom = -1;
    return;
  }
  if (haveNext) return;
  // Peers a little ahead are normal under pipelining; far ahead, or no progress for a while, is not.
  const far = ahead.some((r) => s.peers.get(r)!.lastExecuted >= s.lastExecuted + s.cfg.maxInFlight);
  if (!urgent && !far && s.now - s.lastProgressAt < s.cfg.retransmitMs) return;
  // One request per chunk executed, or per retransmission interval if the source went quiet.
  if (s.lastExecuted === s.helpRequested.executed && s.now - s.helpRequested.at < s.cfg.retransmitMs) return;
  const stalled = s.lastExecuted === s.helpProgress && s.now - s.helpSince > 2 * s.cfg.statusIntervalMs;
  if (s.helpFrom < 0 || !ahead.includes(s.helpFrom) || stalled) {
    const after = ahead.find((r) => r > s.helpFrom) ?? ahead[0]!;
    s.helpFrom = after;
    s.helpSince = s.now;
    s.helpProgress = s.lastExecuted;
    event(s, { event: 'catching-up', from: s.lastExecuted, target: s.peers.get(after)!.lastExecuted, source: after });
  } else if (s.lastExecuted !== s.helpProgress) {
    s.helpProgress = s.lastExecuted;
    s.helpSince = s.now;
  }
  s.helpRequested = { at: s.now, executed: s.lastExecuted };
  send(s, [s.helpFrom], statusOf(s));
}

export function onStableCheckpoint(s: ReplicaState, from: number, m: StableCheckpoint): void {
  if (!isReplica(s, from)) return reject(s, from, 'not-a-replica');
  if (m.cert.seq <= s.lastStable) return;
  if (!verifyStable(s, m.cert)) return reject(s, from, 'bad-checkpoint', `stable certificate ${m.cert.seq}`);
  adoptStable(s, m.cert);
}

export function onCommittedBatch(s: ReplicaState, from: number, m: CommittedBatch): void {
  if (!isReplica(s, from)) return reject(s, from, 'not-a-replica');
  if (m.seq <= s.lastExecuted || m.seq > s.lastExecuted + s.cfg.window + s.cfg.catchUpChunk) return;
  if (s.fetched.has(m.seq) || s.slots.get(m.seq)?.committed != null) return;
  if (hexKey(batchDigest(s, m.seq, m.batch)) !== hexKey(m.commit.digest)) {
    return reject(s, from, 'bad-certificate', `batch ${m.seq} does not match its certificate`);
  }
  if (!verifyCommit(s, m.seq, m.commit)) return reject(s, from, 'bad-certificate', `commit certificate ${m.seq}`);
  if (inWindow(s, m.seq)) commitSlot(s, slotOf(s, m.seq), m.commit, 'catch-up', m.batch);
  else {
    s.fetched.set(m.seq, { batch: m.batch, commit: m.commit });
    persist(s, { kind: 'committed', seq: m.seq, batch: m.batch, commit: m.commit });
    event(s, { event: 'committed', seq: m.seq, view: m.commit.view, path: 'catch-up' });
  }
}
