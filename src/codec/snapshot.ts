/**
 * Bytes of state snapshots (ARCHITECTURE "Snapshots"): the image of the reserved pages a replica
 * keeps for each recent checkpoint, so that it can hand a joining replica the pages as they stood
 * there although its own have moved on; and the kinds of item a snapshot is fetched in.
 *
 *   checkpoint image   seq u64 ‖ summary ‖ last timestamp u64 ‖ clients ‖ key records ‖
 *                      operator state ‖ node key records
 *
 * The summary is the one every checkpoint and reply signs (block, state root, reserved-pages
 * digest). The last timestamp is not under that digest, yet the next block's timestamp depends on
 * it: a joining replica takes it only where f + 1 replicas gave the same image.
 */
import type { ExecSummary } from './messages.ts';
import { Reader, Writer, codecError } from './binary.ts';
import { readSummary, writeSummary } from './message-codec.ts';
import {
  MAX_OPERATOR_NODES,
  decodeKeyRecord,
  decodeNodeKeyRecord,
  decodeOperatorState,
  encodeKeyRecord,
  encodeNodeKeyRecord,
  encodeOperatorState,
  type KeyRecord,
  type NodeKeyRecord,
  type OperatorState,
} from './reserved-pages.ts';

/** The reserved pages as they stood right after executing checkpoint `seq`. */
export interface CheckpointImage {
  readonly seq: number;
  readonly summary: ExecSummary;
  readonly lastTimestamp: number;
  readonly clients: ReadonlyMap<number, number>;
  readonly keys: readonly KeyRecord[];
  readonly operator: OperatorState;
  readonly nodeKeys: readonly NodeKeyRecord[];
}

/** Client ids are replicas and client nodes: a few thousand at most. */
const MAX_CLIENTS = 65_536;
const MAX_KEY_RECORDS = 65_536;

export function encodeCheckpointImage(i: CheckpointImage): Uint8Array {
  const w = new Writer(1024).u64(i.seq);
  writeSummary(w, i.summary);
  w.u64(i.lastTimestamp);
  w.list([...i.clients].sort((a, b) => a[0] - b[0]), (w, [c, s]) => w.u32(c).u64(s));
  w.list(i.keys, (w, k) => w.bytes(encodeKeyRecord(k)));
  w.bytes(encodeOperatorState(i.operator));
  w.list(i.nodeKeys, (w, k) => w.bytes(encodeNodeKeyRecord(k)));
  return w.finish();
}

export function decodeCheckpointImage(bytes: Uint8Array): CheckpointImage {
  const r = new Reader(bytes);
  const seq = r.u64('seq');
  const summary = readSummary(r);
  const lastTimestamp = r.u64('lastTimestamp');
  const clients = new Map<number, number>();
  for (const [c, s] of r.list(MAX_CLIENTS, (r) => [r.u32('client'), r.u64('requestSeq')] as const, 'clients')) {
    if (clients.has(c)) throw codecError('CODEC_BAD_VALUE', `client ${c} twice in a checkpoint image`);
    clients.set(c, s);
  }
  const keys = r.list(MAX_KEY_RECORDS, (r) => decodeKeyRecord(r.bytes(1024, 'key record')), 'keys');
  const operator = decodeOperatorState(r.bytes(64 * MAX_OPERATOR_NODES, 'operator state'));
  const nodeKeys = r.list(MAX_KEY_RECORDS, (r) => decodeNodeKeyRecord(r.bytes(8192, 'node key record')), 'node keys');
  r.end();
  return { seq, summary, lastTimestamp, clients, keys, operator, nodeKeys };
}

/** What one requested snapshot item is: a state trie node (account or storage trie) or contract code, by hash. */
export const SNAPSHOT_ITEM = { node: 0, code: 1 } as const;
export type SnapshotItemKind = keyof typeof SNAPSHOT_ITEM;
