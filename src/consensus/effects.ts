/** Appending outputs to the current step. Order matters: see `io.ts`. */
import type { Output, RejectReason, ConsensusEvent } from './io.ts';
import type { PersistRecord } from './records.ts';
import type { ReplicaState } from './state.ts';

type Sendable = Extract<Output, { kind: 'send' }>['message'];

export function send(s: ReplicaState, to: readonly number[], message: Sendable): void {
  if (to.length > 0) s.out.push({ kind: 'send', to, message });
}

/** Consecutive records are merged into one output so the shell writes them in one batch. */
export function persist(s: ReplicaState, record: PersistRecord): void {
  const last = s.out[s.out.length - 1];
  if (last?.kind === 'persist') (last.records as PersistRecord[]).push(record);
  else s.out.push({ kind: 'persist', records: [record] });
}

export function reject(s: ReplicaState, from: number, reason: RejectReason, detail?: string): void {
  s.out.push(detail === undefined ? { kind: 'reject', from, reason } : { kind: 'reject', from, reason, detail });
}

export function event(s: ReplicaState, detail: ConsensusEvent): void {
  s.out.push({ kind: 'event', detail });
}
