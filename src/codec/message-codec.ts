/**
 * Bytes of every protocol message: one tag byte, then the fields in declaration order (see
 * `./binary.ts` for the layout rules). `decodeMessage` is the only way bytes from the network become
 * a message; it checks every length against `CodecLimits` before allocating.
 */
import { Reader, Writer, codecError } from './binary.ts';
import { MAX_READ_QUERIES, readReadAnswers, readReadQuery, writeReadAnswers, writeReadQuery } from './read.ts';
import {
  DIGEST_LENGTH,
  type Batch,
  type Certificate,
  type CheckpointCertificate,
  type ClientRequest,
  type CommitCertificate,
  type ExecSummary,
  type Message,
  type MessageType,
  type NewView,
  type PrepareCertificate,
  type ViewChange,
  type ViewChangeSlot,
  type Vote,
} from './messages.ts';

export interface CodecLimits {
  readonly maxPayloadBytes: number;
  readonly maxBatchRequests: number;
  readonly maxViewChangeSlots: number;
  readonly maxReplicas: number;
  readonly maxProofDepth: number;
  readonly maxResultBytes: number;
}

export const DEFAULT_CODEC_LIMITS: CodecLimits = {
  maxPayloadBytes: 4 << 20,
  maxBatchRequests: 10_000,
  maxViewChangeSlots: 10_000,
  maxReplicas: 1024,
  maxProofDepth: 32,
  maxResultBytes: 1 << 20,
};

const TAGS: Record<MessageType, number> = {
  PrePrepare: 1,
  CommitShare: 2,
  FullCommitProof: 3,
  PrepareFull: 4,
  CommitPartial: 5,
  CommitFull: 6,
  Checkpoint: 7,
  StableCheckpoint: 8,
  Complaint: 9,
  ViewChange: 10,
  NewView: 11,
  Status: 12,
  CommittedBatch: 13,
  Request: 14,
  Reply: 15,
  BlockNotice: 16,
  BlockRequest: 17,
  BlockData: 18,
  ReadRequest: 19,
  ReadReply: 20,
  NodeStatusRequest: 21,
  NodeStatus: 22,
  SnapshotRequest: 24,
  SnapshotManifest: 25,
  SnapshotItems: 26,
  ConfigurationRequest: 27,
  ConfigurationFile: 28,
};
/** A network file's text in a `ConfigurationFile`: certificates and keys of up to a few hundred nodes. */
export const MAX_NETWORK_FILE_BYTES = 1 << 20;

const TYPE_OF_TAG = new Map(Object.entries(TAGS).map(([type, tag]) => [tag, type as MessageType]));
/**
 * A NewView as written since #14: its ViewChanges with each distinct batch carried once, after
 * them (the three or more ViewChanges of a NewView name mostly the same batches). Tag 11, the
 * first layout (every ViewChange whole), is still read: write-ahead records hold it.
 */
const NEW_VIEW_SHARED_TAG = 23;
const SIG_MAX = 128;
/** Items one snapshot request may ask for, and the largest one (contract code is at most 24 KiB on chain; genesis may hold more). */
export const MAX_SNAPSHOT_ITEMS = 1024;
export const MAX_SNAPSHOT_ITEM_BYTES = 1 << 20;
const SIGNERS_MAX = 1024 / 8;
/** An absent optional byte string (a block sent without its state changes). */
const EMPTY = new Uint8Array(0);

// ---- writers -------------------------------------------------------------------------------

export function writeRequest(w: Writer, r: ClientRequest): void {
  w.u32(r.clientId).u64(r.requestSeq).u32(r.flags).bytes(r.payload).bytes(r.signature);
}

export function writeBatch(w: Writer, b: Batch): void {
  w.u64(b.timestamp).list(b.requests, writeRequest);
}

function writeCert(w: Writer, c: Certificate): void {
  w.bytes(c.signers).bytes(c.signature);
}

export function writeSummary(w: Writer, s: ExecSummary): void {
  w.u64(s.blockNumber).fixed(s.blockHash, 32).fixed(s.stateRoot, 32).fixed(s.reservedDigest, 32);
}

export function writeCommitCert(w: Writer, c: CommitCertificate): void {
  w.u8(c.kind === 'fast' ? 0 : 1).u64(c.view).fixed(c.digest, DIGEST_LENGTH);
  writeCert(w, c.cert);
}

export function writePrepareCert(w: Writer, c: PrepareCertificate): void {
  w.u64(c.view).fixed(c.digest, DIGEST_LENGTH);
  writeCert(w, c.cert);
}

export function writeCheckpointCert(w: Writer, c: CheckpointCertificate): void {
  w.u64(c.seq);
  writeSummary(w, c.summary);
  writeCert(w, c.cert);
}

function optional<T>(w: Writer, v: T | null, write: (w: Writer, v: T) => void): void {
  if (v === null) w.u8(0);
  else {
    w.u8(1);
    write(w, v);
  }
}

function writeSlot(w: Writer, s: ViewChangeSlot): void {
  w.u64(s.seq);
  optional(w, s.commit, writeCommitCert);
  optional(w, s.prepared, writePrepareCert);
  optional(w, s.vote, (w, v) => w.u64(v.view).fixed(v.digest, DIGEST_LENGTH));
  w.list(s.batches, writeBatch);
}

/** The part of a ViewChange its signature covers: everything but the signature. */
export function writeViewChangeBody(w: Writer, m: Omit<ViewChange, 'signature' | 'type'>): void {
  w.u64(m.view).u32(m.replica);
  optional(w, m.stable, writeCheckpointCert);
  w.list(m.slots, writeSlot);
}

function writeViewChange(w: Writer, m: ViewChange): void {
  writeViewChangeBody(w, m);
  w.bytes(m.signature);
}

/**
 * Each ViewChange as its signed body would be written, except that a slot's batches are indexes
 * into one list of distinct batches (told apart by their bytes) written after the ViewChanges. The
 * reader puts every batch back where it was, so each ViewChange is exactly the one its replica signed.
 */
function writeNewViewShared(w: Writer, m: NewView): void {
  const index = new Map<string, number>();
  const batches: Uint8Array[] = [];
  const indexOf = (b: Batch): number => {
    const bw = new Writer(256);
    writeBatch(bw, b);
    const bytes = bw.finish();
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    let i = index.get(key);
    if (i === undefined) {
      i = batches.length;
      index.set(key, i);
      batches.push(bytes);
    }
    return i;
  };
  w.u64(m.view).list(m.viewChanges, (w, vc) => {
    w.u64(vc.view).u32(vc.replica);
    optional(w, vc.stable, writeCheckpointCert);
    w.list(vc.slots, (w, sl) => {
      w.u64(sl.seq);
      optional(w, sl.commit, writeCommitCert);
      optional(w, sl.prepared, writePrepareCert);
      optional(w, sl.vote, (w, v) => w.u64(v.view).fixed(v.digest, DIGEST_LENGTH));
      w.list(sl.batches, (w, b) => w.u32(indexOf(b)));
    });
    w.bytes(vc.signature);
  });
  w.list(batches, (w, b) => w.raw(b));
}

function writeBody(w: Writer, m: Message): void {
  switch (m.type) {
    case 'PrePrepare':
      w.u64(m.view).u64(m.seq);
      writeBatch(w, m.batch);
      return;
    case 'CommitShare':
    case 'CommitPartial':
      w.u64(m.view).u64(m.seq).fixed(m.digest, DIGEST_LENGTH).bytes(m.signature);
      return;
    case 'FullCommitProof':
    case 'PrepareFull':
    case 'CommitFull':
      w.u64(m.view).u64(m.seq).fixed(m.digest, DIGEST_LENGTH);
      writeCert(w, m.cert);
      return;
    case 'Checkpoint':
      w.u64(m.seq);
      writeSummary(w, m.summary);
      w.bytes(m.signature);
      return;
    case 'StableCheckpoint':
      writeCheckpointCert(w, m.cert);
      return;
    case 'Complaint':
      w.u64(m.view);
      return;
    case 'ViewChange':
      writeViewChange(w, m);
      return;
    case 'NewView':
      writeNewViewShared(w, m);
      return;
    case 'Status':
      w.u64(m.view).u8(m.viewActive ? 1 : 0).u64(m.lastStable).u64(m.lastExecuted).u32(m.helpFrom + 1);
      return;
    case 'CommittedBatch':
      w.u64(m.seq);
      writeBatch(w, m.batch);
      writeCommitCert(w, m.commit);
      return;
    case 'Request':
      writeRequest(w, m.request);
      return;
    case 'BlockRequest':
      w.u64(m.fromNumber).u64(m.toNumber);
      return;
    case 'ReadRequest':
      w.u64(m.id).u64(m.blockNumber).list(m.queries, writeReadQuery);
      return;
    case 'ReadReply':
      w.u64(m.id).u64(m.blockNumber).fixed(m.blockHash, 32);
      writeReadAnswers(w, m.answers);
      w.bytes(m.signature);
      return;
    case 'BlockData':
      w.u64(m.fromNumber).list(m.blocks, (w, b) => w.bytes(b.header).bytes(b.body).bytes(b.receipts).bytes(b.changes ?? EMPTY));
      return;
    case 'NodeStatusRequest':
      w.u64(m.id);
      return;
    case 'SnapshotRequest':
      w.u64(m.id).u64(m.seq).list(m.items, (w, i) => w.u8(i.kind).fixed(i.hash, 32));
      return;
    case 'SnapshotManifest':
      w.u64(m.id).bytes(m.image).list(m.headers, (w, h) => w.bytes(h));
      optional(w, m.block, (w, b) => w.bytes(b.header).bytes(b.body).bytes(b.receipts));
      return;
    case 'SnapshotItems':
      w.u64(m.id).list(m.items, (w, i) => w.bytes(i));
      return;
    case 'ConfigurationRequest':
      w.u64(m.id).u32(m.epoch);
      return;
    case 'ConfigurationFile':
      w.u64(m.id).u32(m.epoch).bytes(m.network);
      return;
    case 'NodeStatus':
      w.u64(m.id).u64(m.view).u8(m.active ? 1 : 0).u64(m.lastExecuted).u64(m.lastStable).u64(m.blockNumber).fixed(m.blockHash, 32);
      optional(w, m.stable, writeCheckpointCert);
      w.u32(m.keyEpoch).list(m.keys, (w, k) => w.bytes(k));
      w.list(m.nodeKeys, (w, k) => w.bytes(k)).bytes(m.operator).u64(m.requestSeq);
      w.bytes(m.signature);
      return;
    case 'BlockNotice':
      w.u64(m.seq);
      writeSummary(w, m.summary);
      w.fixed(m.resultsRoot, 32).bytes(m.signature);
      return;
    case 'Reply':
      w.u32(m.clientId).u64(m.view).u64(m.seq);
      writeSummary(w, m.summary);
      w.fixed(m.resultsRoot, 32).u32(m.count);
      w.list(m.entries, (w, e) => {
        w.u64(e.requestSeq).u32(e.index);
        w.list(e.proof, (w, h) => w.fixed(h, 32));
        w.bytes(e.result);
      });
      w.bytes(m.signature);
      return;
  }
}

/** Bytes to reserve up front, so the common messages are written without regrowing the buffer. */
function sizeHint(m: Message): number {
  const batchSize = (b: Batch) => b.requests.reduce((n, r) => n + 32 + r.payload.length + r.signature.length, 16);
  switch (m.type) {
    case 'PrePrepare':
      return 32 + batchSize(m.batch);
    case 'CommittedBatch':
      return 256 + batchSize(m.batch);
    case 'Request':
      return 64 + m.request.payload.length + m.request.signature.length;
    case 'Reply':
      return m.entries.reduce((n, e) => n + 24 + 32 * e.proof.length + e.result.length, 200);
    case 'NewView':
    case 'ViewChange':
      return 4096;
    default:
      return 256;
  }
}

export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer(sizeHint(m));
  w.u8(m.type === 'NewView' ? NEW_VIEW_SHARED_TAG : TAGS[m.type]);
  writeBody(w, m);
  return w.finish();
}

// ---- readers -------------------------------------------------------------------------------

export function readRequest(r: Reader, l: CodecLimits): ClientRequest {
  return {
    clientId: r.u32('clientId'),
    requestSeq: r.u64('requestSeq'),
    flags: r.u32('flags'),
    payload: r.bytes(l.maxPayloadBytes, 'payload'),
    signature: r.bytes(SIG_MAX, 'request signature'),
  };
}

export function readBatch(r: Reader, l: CodecLimits): Batch {
  return { timestamp: r.u64('timestamp'), requests: r.list(l.maxBatchRequests, (r) => readRequest(r, l), 'requests') };
}

function readCert(r: Reader): Certificate {
  return { signers: r.bytes(SIGNERS_MAX, 'signers'), signature: r.bytes(SIG_MAX, 'aggregate signature') };
}

export function readSummary(r: Reader): ExecSummary {
  return {
    blockNumber: r.u64('blockNumber'),
    blockHash: r.fixed(32, 'blockHash'),
    stateRoot: r.fixed(32, 'stateRoot'),
    reservedDigest: r.fixed(32, 'reservedDigest'),
  };
}

export function readCommitCert(r: Reader): CommitCertificate {
  const kind = r.u8('commit kind');
  if (kind > 1) throw codecError('CODEC_BAD_VALUE', `unknown commit certificate kind ${kind}`);
  return { kind: kind === 0 ? 'fast' : 'slow', view: r.u64('view'), digest: r.fixed(DIGEST_LENGTH), cert: readCert(r) };
}

export function readPrepareCert(r: Reader): PrepareCertificate {
  return { view: r.u64('view'), digest: r.fixed(DIGEST_LENGTH), cert: readCert(r) };
}

export function readCheckpointCert(r: Reader): CheckpointCertificate {
  return { seq: r.u64('seq'), summary: readSummary(r), cert: readCert(r) };
}

function readOptional<T>(r: Reader, read: (r: Reader) => T): T | null {
  return r.bool('presence') ? read(r) : null;
}

function readVote(r: Reader): Vote {
  return { view: r.u64('vote view'), digest: r.fixed(DIGEST_LENGTH) };
}

function readSlot(r: Reader, l: CodecLimits): ViewChangeSlot {
  return {
    seq: r.u64('seq'),
    commit: readOptional(r, readCommitCert),
    prepared: readOptional(r, readPrepareCert),
    vote: readOptional(r, readVote),
    batches: r.list(3, (r) => readBatch(r, l), 'slot batches'),
  };
}

function readNewViewShared(r: Reader, l: CodecLimits): NewView {
  const view = r.u64('view');
  const pending = r.list(
    l.maxReplicas,
    (r) => ({
      view: r.u64('view'),
      replica: r.u32('replica'),
      stable: readOptional(r, readCheckpointCert),
      slots: r.list(
        l.maxViewChangeSlots,
        (r) => ({
          seq: r.u64('seq'),
          commit: readOptional(r, readCommitCert),
          prepared: readOptional(r, readPrepareCert),
          vote: readOptional(r, readVote),
          batches: r.list(3, (r) => r.u32('batch index'), 'slot batches'),
        }),
        'view-change slots',
      ),
      signature: r.bytes(SIG_MAX, 'signature'),
    }),
    'view changes',
  );
  const batches = r.list(3 * l.maxViewChangeSlots, (r) => readBatch(r, l), 'new-view batches');
  const at = (i: number): Batch => {
    const b = batches[i];
    if (b === undefined) throw codecError('CODEC_BAD_VALUE', `batch index ${i} beyond the ${batches.length} carried`, { index: i });
    return b;
  };
  return {
    type: 'NewView',
    view,
    viewChanges: pending.map((vc) => ({ type: 'ViewChange', ...vc, slots: vc.slots.map((sl) => ({ ...sl, batches: sl.batches.map(at) })) })),
  };
}

function readViewChange(r: Reader, l: CodecLimits): ViewChange {
  return {
    type: 'ViewChange',
    view: r.u64('view'),
    replica: r.u32('replica'),
    stable: readOptional(r, readCheckpointCert),
    slots: r.list(l.maxViewChangeSlots, (r) => readSlot(r, l), 'view-change slots'),
    signature: r.bytes(SIG_MAX, 'signature'),
  };
}

function readBody(type: MessageType, r: Reader, l: CodecLimits): Message {
  switch (type) {
    case 'PrePrepare':
      return { type, view: r.u64('view'), seq: r.u64('seq'), batch: readBatch(r, l) };
    case 'CommitShare':
    case 'CommitPartial':
      return { type, view: r.u64('view'), seq: r.u64('seq'), digest: r.fixed(DIGEST_LENGTH), signature: r.bytes(SIG_MAX) };
    case 'FullCommitProof':
    case 'PrepareFull':
    case 'CommitFull':
      return { type, view: r.u64('view'), seq: r.u64('seq'), digest: r.fixed(DIGEST_LENGTH), cert: readCert(r) };
    case 'Checkpoint':
      return { type, seq: r.u64('seq'), summary: readSummary(r), signature: r.bytes(SIG_MAX) };
    case 'StableCheckpoint':
      return { type, cert: readCheckpointCert(r) };
    case 'Complaint':
      return { type, view: r.u64('view') };
    case 'ViewChange':
      return readViewChange(r, l);
    case 'NewView':
      return {
        type,
        view: r.u64('view'),
        viewChanges: r.list(l.maxReplicas, (r) => readViewChange(r, l), 'view changes'),
      };

    case 'Status':
      return {
        type,
        view: r.u64('view'),
        viewActive: r.bool('viewActive'),
        lastStable: r.u64('lastStable'),
        lastExecuted: r.u64('lastExecuted'),
        helpFrom: r.u32('helpFrom') - 1,
      };
    case 'CommittedBatch':
      return { type, seq: r.u64('seq'), batch: readBatch(r, l), commit: readCommitCert(r) };
    case 'Request':
      return { type, request: readRequest(r, l) };
    case 'BlockRequest':
      return { type, fromNumber: r.u64('fromNumber'), toNumber: r.u64('toNumber') };
    case 'ReadRequest':
      return {
        type,
        id: r.u64('id'),
        blockNumber: r.u64('blockNumber'),
        queries: r.list(MAX_READ_QUERIES, (r) => readReadQuery(r, l.maxPayloadBytes), 'queries'),
      };
    case 'ReadReply':
      return {
        type,
        id: r.u64('id'),
        blockNumber: r.u64('blockNumber'),
        blockHash: r.fixed(32, 'blockHash'),
        answers: readReadAnswers(r, l.maxResultBytes),
        signature: r.bytes(SIG_MAX, 'signature'),
      };
    case 'NodeStatusRequest':
      return { type, id: r.u64('id') };
    case 'SnapshotRequest':
      return {
        type,
        id: r.u64('id'),
        seq: r.u64('seq'),
        items: r.list(
          MAX_SNAPSHOT_ITEMS,
          (r) => {
            const kind = r.u8('item kind');
            if (kind > 1) throw codecError('CODEC_BAD_VALUE', `unknown snapshot item kind ${kind}`);
            return { kind, hash: r.fixed(32, 'item hash') };
          },
          'items',
        ),
      };
    case 'SnapshotManifest':
      return {
        type,
        id: r.u64('id'),
        image: r.bytes(l.maxPayloadBytes, 'image'),
        headers: r.list(256, (r) => r.bytes(1 << 16, 'header'), 'headers'),
        block: readOptional(r, (r) => ({ header: r.bytes(1 << 16, 'header'), body: r.bytes(l.maxPayloadBytes, 'body'), receipts: r.bytes(l.maxPayloadBytes, 'receipts') })),
      };
    case 'SnapshotItems':
      return { type, id: r.u64('id'), items: r.list(MAX_SNAPSHOT_ITEMS, (r) => r.bytes(MAX_SNAPSHOT_ITEM_BYTES, 'item'), 'items') };
    case 'ConfigurationRequest':
      return { type, id: r.u64('id'), epoch: r.u32('epoch') };
    case 'ConfigurationFile':
      return { type, id: r.u64('id'), epoch: r.u32('epoch'), network: r.bytes(MAX_NETWORK_FILE_BYTES, 'network') };
    case 'NodeStatus':
      return {
        type,
        id: r.u64('id'),
        view: r.u64('view'),
        active: r.bool('active'),
        lastExecuted: r.u64('lastExecuted'),
        lastStable: r.u64('lastStable'),
        blockNumber: r.u64('blockNumber'),
        blockHash: r.fixed(32, 'blockHash'),
        stable: readOptional(r, readCheckpointCert),
        keyEpoch: r.u32('keyEpoch'),
        keys: r.list(4096, (r) => r.bytes(1024, 'key'), 'keys'),
        nodeKeys: r.list(4096, (r) => r.bytes(8192, 'nodeKey'), 'nodeKeys'),
        operator: r.bytes(1 << 20, 'operator'),
        requestSeq: r.u64('requestSeq'),
        signature: r.bytes(SIG_MAX, 'signature'),
      };
    case 'BlockData':
      return {
        type,
        fromNumber: r.u64('fromNumber'),
        blocks: r.list(
          256,
          (r) => {
            const parts = { header: r.bytes(1 << 16, 'header'), body: r.bytes(l.maxPayloadBytes, 'body'), receipts: r.bytes(l.maxPayloadBytes, 'receipts') };
            const changes = r.bytes(l.maxPayloadBytes, 'changes');
            return changes.length === 0 ? parts : { ...parts, changes };
          },
          'blocks',
        ),
      };
    case 'BlockNotice':
      return { type, seq: r.u64('seq'), summary: readSummary(r), resultsRoot: r.fixed(32, 'resultsRoot'), signature: r.bytes(SIG_MAX, 'signature') };
    case 'Reply':
      return {
        type,
        clientId: r.u32('clientId'),
        view: r.u64('view'),
        seq: r.u64('seq'),
        summary: readSummary(r),
        resultsRoot: r.fixed(32, 'resultsRoot'),
        count: r.u32('count'),
        entries: r.list(
          l.maxBatchRequests,
          (r) => ({
            requestSeq: r.u64('requestSeq'),
            index: r.u32('index'),
            proof: r.list(l.maxProofDepth, (r) => r.fixed(32, 'proof hash'), 'proof'),
            result: r.bytes(l.maxResultBytes, 'result'),
          }),
          'reply entries',
        ),
        signature: r.bytes(SIG_MAX, 'signature'),
      };
  }
}

/** Bytes from the network to a message; throws `CODEC_*` BulwarkErrors only. */
export function decodeMessage(bytes: Uint8Array, limits: CodecLimits = DEFAULT_CODEC_LIMITS): Message {
  const r = new Reader(bytes);
  const tag = r.u8('message tag');
  if (tag === NEW_VIEW_SHARED_TAG) {
    const m = readNewViewShared(r, limits);
    r.end();
    return m;
  }
  const type = TYPE_OF_TAG.get(tag);
  if (type === undefined) throw codecError('CODEC_UNKNOWN_TYPE', `unknown message tag ${tag}`, { tag });
  const m = readBody(type, r, limits);
  r.end();
  return m;
}
