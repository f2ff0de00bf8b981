/**
 * The exact bytes each signature in the protocol covers. Every signed statement starts with its own
 * tag, so a signature made for one purpose can never be replayed as another (a commit share is not
 * a slow-path commit vote, a reply signature is not a checkpoint).
 */
import { Writer } from './binary.ts';
import { sha256 } from '../crypto/hash.ts';
import { writeBatch, writeSummary, writeViewChangeBody } from './message-codec.ts';
import { DIGEST_LENGTH, type Batch, type ClientRequest, type ExecSummary, type NodeStatus, type ViewChange } from './messages.ts';

const enc = new TextEncoder();
const TAG_REQUEST = enc.encode('bulwark/request/v1');
const TAG_BATCH = enc.encode('bulwark/batch/v1');
const TAG_SHARE = enc.encode('bulwark/commit-share/v1');
const TAG_SLOW_COMMIT = enc.encode('bulwark/slow-commit/v1');
const TAG_CHECKPOINT = enc.encode('bulwark/checkpoint/v1');
const TAG_VIEW_CHANGE = enc.encode('bulwark/view-change/v1');
const TAG_REPLY = enc.encode('bulwark/reply/v1');

export function requestSigningBytes(r: Omit<ClientRequest, 'signature'>): Uint8Array {
  return new Writer(64 + r.payload.length).raw(TAG_REQUEST).u32(r.clientId).u64(r.requestSeq).u32(r.flags).bytes(r.payload).finish();
}

/** Hashed to give a batch's digest: the sequence number is inside, so one batch cannot fill two slots. */
export function batchDigestBytes(seq: number, batch: Batch): Uint8Array {
  const w = new Writer(256).raw(TAG_BATCH).u64(seq);
  writeBatch(w, batch);
  return w.finish();
}

function slotStatement(tag: Uint8Array, view: number, seq: number, digest: Uint8Array): Uint8Array {
  return new Writer(tag.length + 48).raw(tag).u64(view).u64(seq).fixed(digest, DIGEST_LENGTH).finish();
}

/** Fast-path share and PreparePartial: n − c of them commit, ⌈(n + f + 1) / 2⌉ of them prepare. */
export function commitShareBytes(view: number, seq: number, digest: Uint8Array): Uint8Array {
  return slotStatement(TAG_SHARE, view, seq, digest);
}

/** The slow path's CommitPartial, sent only after a PrepareFull for the same slot. */
export function slowCommitBytes(view: number, seq: number, digest: Uint8Array): Uint8Array {
  return slotStatement(TAG_SLOW_COMMIT, view, seq, digest);
}

export function checkpointBytes(seq: number, summary: ExecSummary): Uint8Array {
  const w = new Writer(160).raw(TAG_CHECKPOINT).u64(seq);
  writeSummary(w, summary);
  return w.finish();
}

export function viewChangeBytes(vc: Omit<ViewChange, 'signature' | 'type'>): Uint8Array {
  const w = new Writer(1024).raw(TAG_VIEW_CHANGE);
  writeViewChangeBody(w, vc);
  return w.finish();
}

const TAG_NODE_STATUS = new TextEncoder().encode('bulwark/node-status/v3');

/** What a replica signs when it tells client node `clientId` where it stands. */
export function nodeStatusBytes(clientId: number, m: Omit<NodeStatus, 'type' | 'signature' | 'stable'>): Uint8Array {
  const keys = new Writer(64 * m.keys.length + 8).list(m.keys, (w, k) => w.bytes(k)).list(m.nodeKeys, (w, k) => w.bytes(k)).bytes(m.operator).finish();
  return new Writer(96)
    .raw(TAG_NODE_STATUS)
    .u32(clientId)
    .u64(m.id)
    .u64(m.view)
    .u8(m.active ? 1 : 0)
    .u64(m.lastExecuted)
    .u64(m.lastStable)
    .u64(m.blockNumber)
    .fixed(m.blockHash, 32)
    .u32(m.keyEpoch)
    .fixed(sha256(keys), 32)
    .u64(m.requestSeq)
    .finish();
}

/** Replies: one execution signature per batch, each reply proving its result under `resultsRoot`. */
export function replyBytes(seq: number, summary: ExecSummary, resultsRoot: Uint8Array): Uint8Array {
  const w = new Writer(192).raw(TAG_REPLY).u64(seq);
  writeSummary(w, summary);
  return w.fixed(resultsRoot, 32).finish();
}
