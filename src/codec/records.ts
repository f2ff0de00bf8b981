/**
 * Bytes of the consensus write-ahead records as the replica stores them: the same layout rules and
 * field encodings as the wire messages (`./binary.ts`, `./message-codec.ts`), so a stored
 * certificate is byte-for-byte the one that was received or sent.
 */
import { Reader, Writer } from './binary.ts';
import {
  DEFAULT_CODEC_LIMITS,
  decodeMessage,
  encodeMessage,
  readBatch,
  readCheckpointCert,
  readCommitCert,
  readPrepareCert,
  writeBatch,
  writeCheckpointCert,
  writeCommitCert,
  writePrepareCert,
} from './message-codec.ts';
import {
  DIGEST_LENGTH,
  type Batch,
  type CheckpointCertificate,
  type CommitCertificate,
  type NewView,
  type PrepareCertificate,
  type Reply,
  type ViewChange,
  type Vote,
} from './messages.ts';
import { codecError } from './binary.ts';

const L = DEFAULT_CODEC_LIMITS;

export function encodeVote(v: Vote & { batch: Batch }): Uint8Array {
  const w = new Writer(256).u64(v.view).fixed(v.digest, DIGEST_LENGTH);
  writeBatch(w, v.batch);
  return w.finish();
}

export function decodeVote(b: Uint8Array): Vote & { batch: Batch } {
  const r = new Reader(b);
  const v = { view: r.u64('view'), digest: r.fixed(DIGEST_LENGTH).slice(), batch: readBatch(r, L) };
  r.end();
  return v;
}

export function encodeBareVote(v: Vote): Uint8Array {
  return new Writer(48).u64(v.view).fixed(v.digest, DIGEST_LENGTH).finish();
}

export function decodeBareVote(b: Uint8Array): Vote {
  const r = new Reader(b);
  const v = { view: r.u64('view'), digest: r.fixed(DIGEST_LENGTH).slice() };
  r.end();
  return v;
}

export function encodePrepared(c: PrepareCertificate): Uint8Array {
  const w = new Writer(256);
  writePrepareCert(w, c);
  return w.finish();
}

export function decodePrepared(b: Uint8Array): PrepareCertificate {
  const r = new Reader(b);
  const c = readPrepareCert(r);
  r.end();
  return c;
}

export function encodeCommitted(batch: Batch, commit: CommitCertificate): Uint8Array {
  const w = new Writer(512);
  writeBatch(w, batch);
  writeCommitCert(w, commit);
  return w.finish();
}

export function decodeCommitted(b: Uint8Array): { batch: Batch; commit: CommitCertificate } {
  const r = new Reader(b);
  const out = { batch: readBatch(r, L), commit: readCommitCert(r) };
  r.end();
  return out;
}

export function encodeStable(c: CheckpointCertificate): Uint8Array {
  const w = new Writer(256);
  writeCheckpointCert(w, c);
  return w.finish();
}

export function decodeStable(b: Uint8Array): CheckpointCertificate {
  const r = new Reader(b);
  const c = readCheckpointCert(r);
  r.end();
  return c;
}

export function encodeView(view: number, active: boolean): Uint8Array {
  return new Writer(9).u64(view).u8(active ? 1 : 0).finish();
}

export function decodeView(b: Uint8Array): { view: number; active: boolean } {
  const r = new Reader(b);
  const v = { view: r.u64('view'), active: r.bool('active') };
  r.end();
  return v;
}

/** ViewChange, NewView and Reply are stored as the messages they are. */
export function encodeStoredMessage(m: ViewChange | NewView | Reply): Uint8Array {
  return encodeMessage(m);
}

export function decodeStoredMessage<T extends 'ViewChange' | 'NewView' | 'Reply'>(
  type: T,
  b: Uint8Array,
): Extract<ViewChange | NewView | Reply, { type: T }> {
  const m = decodeMessage(b);
  if (m.type !== type) throw codecError('CODEC_BAD_VALUE', `stored record is a ${m.type}, expected ${type}`);
  return m as Extract<ViewChange | NewView | Reply, { type: T }>;
}
