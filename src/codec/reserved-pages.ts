/**
 * Bytes of the reserved pages: the state the protocol keeps beside the application's, written by a
 * replica in the atomic batch of each executed sequence number (ARCHITECTURE "Reserved pages").
 * Every record of them is encoded and decoded here, and only here; the tables they are stored in
 * are `ledger/reserved-pages.ts`, their digest `consensus/reserved-pages.ts`. The key, node key
 * and operator records are also message bytes (a replica's status answer carries them encoded).
 *
 *   execution progress   last executed sequence number u64 ‖ its block timestamp u64   (16 bytes)
 *   client table         client id u32 → highest executed request sequence number u64
 *   key table            replica u32 ‖ epoch u32 → key record
 *   operator state       the operator's command nonce, last rotation, rotation targets
 *   node key table       kind u8 ‖ node u32 ‖ epoch u32 → node key record
 *
 * All integers big-endian (`./binary.ts`); a decoder accepts exactly one encoding, and throws a
 * `CODEC_*` error on anything else.
 */
import { Reader, Writer, codecError } from './binary.ts';

// ---- execution progress ------------------------------------------------------------------------

/** Where execution stands: the last executed sequence number and the timestamp of its block. */
export interface ExecutionProgress {
  readonly lastExecuted: number;
  /** Seconds; the timestamp of the last batch that carried requests for the application. */
  readonly lastTimestamp: number;
}

export const EXECUTION_PROGRESS_LENGTH = 16;

export function encodeExecutionProgress(p: ExecutionProgress): Uint8Array {
  return new Writer(EXECUTION_PROGRESS_LENGTH).u64(p.lastExecuted).u64(p.lastTimestamp).finish();
}

export function decodeExecutionProgress(bytes: Uint8Array): ExecutionProgress {
  const r = new Reader(bytes);
  const p = { lastExecuted: r.u64('lastExecuted'), lastTimestamp: r.u64('lastTimestamp') };
  r.end();
  return p;
}

// ---- client table ------------------------------------------------------------------------------

/** A client table key: the client id, u32 (so the table reads back in client order). */
export function encodeClientId(clientId: number): Uint8Array {
  return new Writer(4).u32(clientId).finish();
}

export function decodeClientId(bytes: Uint8Array): number {
  const r = new Reader(bytes);
  const id = r.u32('clientId');
  r.end();
  return id;
}

/** A client table value: the client's highest executed request sequence number, u64. */
export function encodeRequestSeq(requestSeq: number): Uint8Array {
  return new Writer(8).u64(requestSeq).finish();
}

export function decodeRequestSeq(bytes: Uint8Array): number {
  const r = new Reader(bytes);
  const seq = r.u64('requestSeq');
  r.end();
  return seq;
}

// ---- consensus keys (`consensus/keys.ts`) ------------------------------------------------------

export interface KeyRecord {
  readonly replica: number;
  /** 0: the bootstrap key from the setup; each published key is one more. */
  readonly epoch: number;
  /** The serialized public key. */
  readonly publicKey: Uint8Array;
  /** The first sequence number signed with this key (0 for the bootstrap key). */
  readonly effectiveSeq: number;
  /** The sequence number of the batch that published it (0 for the bootstrap key). */
  readonly publishedSeq: number;
  /** Its proof of possession (for the bootstrap key, the one in the network file). */
  readonly proofOfPossession: Uint8Array;
}

export function encodeKeyRecord(k: KeyRecord): Uint8Array {
  return new Writer(256).u32(k.replica).u32(k.epoch).bytes(k.publicKey).u64(k.effectiveSeq).u64(k.publishedSeq).bytes(k.proofOfPossession).finish();
}

/** A record's key in a key table (prefix `keyTable`): replica, then epoch, so a table reads back in order. */
export function keyRecordId(k: Pick<KeyRecord, 'replica' | 'epoch'>): Uint8Array {
  return new Writer(8).u32(k.replica).u32(k.epoch).finish();
}

export function decodeKeyRecord(bytes: Uint8Array): KeyRecord {
  const r = new Reader(bytes);
  const k = {
    replica: r.u32('replica'),
    epoch: r.u32('epoch'),
    publicKey: r.bytes(256, 'publicKey'),
    effectiveSeq: r.u64('effectiveSeq'),
    publishedSeq: r.u64('publishedSeq'),
    proofOfPossession: r.bytes(256, 'proofOfPossession'),
  };
  r.end();
  return k;
}

// ---- node keys (`consensus/node-keys.ts`) ------------------------------------------------------

export type NodeKeyKind = 'execution' | 'auth' | 'tls';
/** A kind's byte in records, publications and statements. */
export const NODE_KEY_KIND_CODE: Readonly<Record<NodeKeyKind, number>> = { execution: 1, auth: 2, tls: 3 };
const KIND_OF = new Map(Object.entries(NODE_KEY_KIND_CODE).map(([k, v]) => [v, k as NodeKeyKind]));

/** The kind a byte names, or undefined. */
export function nodeKeyKindOf(code: number): NodeKeyKind | undefined {
  return KIND_OF.get(code);
}

export const MAX_NODE_PUBLIC_KEY = 4096;
export const MAX_NODE_KEY_SIGNATURE = 256;

export interface NodeKeyRecord {
  readonly kind: NodeKeyKind;
  /** The node (replica or client node id) whose key it is. */
  readonly node: number;
  /** 0: the key of the network file; each published key one more. */
  readonly epoch: number;
  /** Ed25519 SubjectPublicKeyInfo DER (execution, auth) or the certificate's DER (tls). */
  readonly publicKey: Uint8Array;
  /** The first sequence number at which it is in effect (0 for epoch 0). */
  readonly effectiveSeq: number;
  /** The sequence number of the batch that published it (0 for epoch 0). */
  readonly publishedSeq: number;
  /** The new key's signature over the statement (empty for epoch 0). */
  readonly possession: Uint8Array;
  /** The previous key's signature over the statement (empty for epoch 0). */
  readonly endorsement: Uint8Array;
}

export function encodeNodeKeyRecord(k: NodeKeyRecord): Uint8Array {
  return new Writer(k.publicKey.length + 256)
    .u8(NODE_KEY_KIND_CODE[k.kind])
    .u32(k.node)
    .u32(k.epoch)
    .bytes(k.publicKey)
    .u64(k.effectiveSeq)
    .u64(k.publishedSeq)
    .bytes(k.possession)
    .bytes(k.endorsement)
    .finish();
}

export function decodeNodeKeyRecord(bytes: Uint8Array): NodeKeyRecord {
  const r = new Reader(bytes);
  const code = r.u8('kind');
  const kind = nodeKeyKindOf(code);
  if (kind === undefined) throw codecError('CODEC_BAD_VALUE', `unknown node key kind ${code}`, { kind: code });
  const k: NodeKeyRecord = {
    kind,
    node: r.u32('node'),
    epoch: r.u32('epoch'),
    publicKey: r.bytes(MAX_NODE_PUBLIC_KEY, 'publicKey'),
    effectiveSeq: r.u64('effectiveSeq'),
    publishedSeq: r.u64('publishedSeq'),
    possession: r.bytes(MAX_NODE_KEY_SIGNATURE, 'possession'),
    endorsement: r.bytes(MAX_NODE_KEY_SIGNATURE, 'endorsement'),
  };
  r.end();
  return k;
}

/** A record's key in the node key table: kind, node, epoch (reads back in order). */
export function nodeKeyRecordId(k: Pick<NodeKeyRecord, 'kind' | 'node' | 'epoch'>): Uint8Array {
  return new Writer(9).u8(NODE_KEY_KIND_CODE[k.kind]).u32(k.node).u32(k.epoch).finish();
}

// ---- operator state (`consensus/operator.ts`) --------------------------------------------------

/** The operator's part of the reserved pages. */
export interface OperatorState {
  /** The highest command nonce executed (replays are refused). */
  readonly nonce: number;
  /** Block time (s) of the last rotation executed; 0 before the first. */
  readonly lastRotationAt: number;
  /** Per replica, the consensus key epoch a rotation asked it to reach. */
  readonly targets: ReadonlyMap<number, number>;
  /** Per (kind, node) (`slotName`), the node key epoch a rotation asked it to reach. */
  readonly nodeTargets: ReadonlyMap<string, number>;
  /**
   * The sequence number the network is wedged at (a checkpoint boundary: nothing is ordered beyond
   * it but the operator's unwedge), or 0 when it is not being wedged.
   */
  readonly wedgeAt: number;
  /**
   * The configuration in effect: its epoch (0: the network file the network was created with, one
   * more at each reconfiguration) and, from epoch 1 on, the SHA-256 of its network file.
   */
  readonly configuration: Configuration;
  /**
   * The network file the operator's `reconfigure` named (SHA-256), the network to restart with at
   * the wedge point; null when no reconfiguration is under way.
   */
  readonly reconfiguration: Uint8Array | null;
}

export interface Configuration {
  readonly epoch: number;
  /** SHA-256 of the network file's canonical text; null for epoch 0 (the genesis file is not recorded here). */
  readonly network: Uint8Array | null;
  /** The first sequence number ordered in this configuration (1 for epoch 0). */
  readonly fromSeq: number;
}

export const GENESIS_CONFIGURATION: Configuration = { epoch: 0, network: null, fromSeq: 1 };

export const NO_OPERATOR_STATE: OperatorState = {
  nonce: 0,
  lastRotationAt: 0,
  targets: new Map(),
  nodeTargets: new Map(),
  wedgeAt: 0,
  configuration: GENESIS_CONFIGURATION,
  reconfiguration: null,
};

/** The most nodes a list of an operator command or of the operator state names. */
export const MAX_OPERATOR_NODES = 1024;

const utf8 = new TextEncoder();

export function encodeOperatorState(o: OperatorState): Uint8Array {
  const w = new Writer(64)
    .u64(o.nonce)
    .u64(o.lastRotationAt)
    .list([...o.targets].sort((a, b) => a[0] - b[0]), (w, [r, e]) => w.u32(r).u32(e))
    .list([...o.nodeTargets].sort((a, b) => (a[0] < b[0] ? -1 : 1)), (w, [slot, e]) => w.bytes(utf8.encode(slot)).u32(e));
  // Written only while wedging or once reconfigured: the state of a network never wedged keeps the
  // bytes (and so the reserved-pages digest, and the checkpoints over it) it had before wedging
  // existed. The configuration part follows the wedge point, which is then written even when 0.
  const configured = o.configuration.epoch > 0 || o.reconfiguration !== null;
  if (o.wedgeAt > 0 || configured) w.u64(o.wedgeAt);
  if (configured) {
    w.u32(o.configuration.epoch);
    if (o.configuration.epoch > 0) w.fixed(o.configuration.network!, 32).u64(o.configuration.fromSeq);
    w.u8(o.reconfiguration === null ? 0 : 1);
    if (o.reconfiguration !== null) w.fixed(o.reconfiguration, 32);
  }
  return w.finish();
}

export function decodeOperatorState(bytes: Uint8Array): OperatorState {
  const r = new Reader(bytes);
  const nonce = r.u64('nonce');
  const lastRotationAt = r.u64('lastRotationAt');
  const targets = new Map(r.list(MAX_OPERATOR_NODES, (r) => [r.u32('replica'), r.u32('epoch')] as const, 'targets'));
  // Node key targets came with node key rotation; a state written before has none.
  const nodeTargets = new Map(
    r.done ? [] : r.list(4 * MAX_OPERATOR_NODES, (r) => [new TextDecoder().decode(r.bytes(64, 'slot')), r.u32('epoch')] as const, 'nodeTargets'),
  );
  const wedgeWritten = !r.done;
  const wedgeAt = wedgeWritten ? r.u64('wedgeAt') : 0;
  let configuration = GENESIS_CONFIGURATION;
  let reconfiguration: Uint8Array | null = null;
  if (r.done) {
    // Read as nothing follows it, a wedge point of 0 would be a second encoding of "none".
    if (wedgeWritten && wedgeAt === 0) throw new Error('operator state: a wedge point of 0 is written as none');
  } else {
    const epoch = r.u32('configuration epoch');
    configuration = epoch > 0 ? { epoch, network: r.fixed(32, 'configuration network'), fromSeq: r.u64('configuration fromSeq') } : GENESIS_CONFIGURATION;
    const pending = r.u8('reconfiguration');
    if (pending > 1) throw new Error('operator state: reconfiguration flag is neither 0 nor 1');
    reconfiguration = pending === 1 ? r.fixed(32, 'reconfiguration network') : null;
    if (epoch === 0 && reconfiguration === null) throw new Error('operator state: a genesis configuration with nothing pending is written as none');
  }
  r.end();
  return { nonce, lastRotationAt, targets, nodeTargets, wedgeAt, configuration, reconfiguration };
}
