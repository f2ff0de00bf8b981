/**
 * Key records a client node learns from the replicas' status answers (consensus keys in
 * `checkpoints.ts`, execution / authentication / TLS keys in `node-key-follower.ts`): a record is
 * considered once f + 1 replicas' latest reports name it — so at least one honest replica executed
 * it — and taken when it is its node's next epoch, which may take several passes as records reach
 * f + 1 in any order.
 */

/** What to do with a record f + 1 replicas report. */
export type RecordVerdict =
  /** Taken into the key history (others may now follow it). */
  | 'taken'
  /** Not its node's next epoch yet: considered again on a later pass or report. */
  | 'wait'
  /** Malformed, already known or invalid: not considered again for this report. */
  | 'drop';

/** `reports`: each replica's latest report, records as hex. */
export function takeReportedRecords(reports: Iterable<ReadonlySet<string>>, f: number, judge: (record: Uint8Array) => RecordVerdict): void {
  const votes = new Map<string, number>();
  for (const report of reports) for (const id of report) votes.set(id, (votes.get(id) ?? 0) + 1);
  for (let progress = true; progress; ) {
    progress = false;
    for (const [id, count] of votes) {
      if (count < f + 1) continue;
      const verdict = judge(Buffer.from(id, 'hex'));
      if (verdict === 'wait') continue;
      votes.delete(id);
      if (verdict === 'taken') progress = true;
    }
  }
}
