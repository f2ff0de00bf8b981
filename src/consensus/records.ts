/**
 * The write-ahead records: what a replica must find again after a crash so that it never signs two
 * different things for one slot and finds its commits again (in its store; after a power cut, those
 * written since its last sync from its peers). The shell stores each `persist` output
 * before carrying out any later output — on the disk (synced) when it holds what the replica signed;
 * committed batches and replies, which its peers hold too, may wait for the next sync
 * (`replica/consensus-store.ts`); `foldRecords` is the one reducer that turns the
 * stored records back into the state `restoreReplica` starts from, so the RocksDB store and the
 * simulator's store cannot disagree on their meaning.
 */
import type {
  Batch,
  CheckpointCertificate,
  CommitCertificate,
  NewView,
  PrepareCertificate,
  Reply,
  ViewChange,
  Vote,
} from '../codec/messages.ts';

export type PersistRecord =
  | { readonly kind: 'view'; readonly view: number; readonly active: boolean }
  /** Before sending a CommitShare: this replica's vote for (view, seq) and the batch voted for. */
  | { readonly kind: 'vote'; readonly seq: number; readonly view: number; readonly digest: Uint8Array; readonly batch: Batch }
  | { readonly kind: 'prepared'; readonly seq: number; readonly cert: PrepareCertificate }
  /** Before sending a CommitPartial. */
  | { readonly kind: 'commitVote'; readonly seq: number; readonly view: number; readonly digest: Uint8Array }
  /** A committed batch and its proof: the ordering ledger, kept for execution and for serving peers. */
  | { readonly kind: 'committed'; readonly seq: number; readonly batch: Batch; readonly commit: CommitCertificate }
  | { readonly kind: 'stable'; readonly cert: CheckpointCertificate }
  | { readonly kind: 'viewChange'; readonly message: ViewChange }
  | { readonly kind: 'newView'; readonly message: NewView }
  /** Last reply per client, so a retransmitted request gets its answer again. */
  | { readonly kind: 'reply'; readonly reply: Reply };

export interface VoteRecord extends Vote {
  readonly batch: Batch;
}

export interface PersistedConsensus {
  view: number;
  active: boolean;
  stable: CheckpointCertificate | null;
  votes: Map<number, VoteRecord>;
  prepared: Map<number, PrepareCertificate>;
  commitVotes: Map<number, Vote>;
  /** Committed batches above the stable checkpoint (the ledger keeps all of them). */
  committed: Map<number, { batch: Batch; commit: CommitCertificate }>;
  viewChange: ViewChange | null;
  newView: NewView | null;
  replies: Map<number, Reply>;
}

export function emptyPersisted(): PersistedConsensus {
  return {
    view: 0,
    active: true,
    stable: null,
    votes: new Map(),
    prepared: new Map(),
    commitVotes: new Map(),
    committed: new Map(),
    viewChange: null,
    newView: null,
    replies: new Map(),
  };
}

/** Applies records in the order they were written; entries at or below a stable checkpoint go. */
export function foldRecords(p: PersistedConsensus, records: readonly PersistRecord[]): PersistedConsensus {
  for (const r of records) {
    switch (r.kind) {
      case 'view':
        p.view = r.view;
        p.active = r.active;
        break;
      case 'vote':
        p.votes.set(r.seq, { view: r.view, digest: r.digest, batch: r.batch });
        break;
      case 'prepared':
        p.prepared.set(r.seq, r.cert);
        break;
      case 'commitVote':
        p.commitVotes.set(r.seq, { view: r.view, digest: r.digest });
        break;
      case 'committed':
        p.committed.set(r.seq, { batch: r.batch, commit: r.commit });
        break;
      case 'stable':
        if (p.stable === null || r.cert.seq > p.stable.seq) {
          p.stable = r.cert;
          for (const m of [p.votes, p.prepared, p.commitVotes, p.committed] as Map<number, unknown>[]) {
            for (const seq of m.keys()) if (seq <= r.cert.seq) m.delete(seq);
          }
        }
        break;
      case 'viewChange':
        p.viewChange = r.message;
        break;
      case 'newView':
        p.newView = r.message;
        break;
      case 'reply':
        p.replies.set(r.reply.clientId, r.reply);
        break;
    }
  }
  return p;
}
