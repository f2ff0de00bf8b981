/**
 * The reserved pages on the node's `KvStore`: the state the protocol keeps beside the application's,
 * read and written here and nowhere else — by the replica's application (`replica/ethereum-app.ts`),
 * which writes them in the atomic batch of each executed sequence number; by the offline ledger
 * check (`verifier/`), which only reads; and, for the two key tables, by a client node, which keeps
 * the key records f + 1 replicas reported (`client/checkpoints.ts`, `client/node-key-follower.ts`).
 *
 * Layout (prefixes from the node's one table, `storage/prefixes.ts`; bytes in `codec/reserved-pages.ts`):
 *   executionProgress  utf8 "progress"              → ExecutionProgress (16 bytes)
 *   clientTable        uint32 client id            → uint64 highest executed request sequence number
 *   keyTable           uint32 replica ‖ uint32 epoch → KeyRecord
 *   operatorState      utf8 "state"                 → OperatorState
 *   nodeKeyTable       uint8 kind ‖ uint32 node ‖ uint32 epoch → NodeKeyRecord
 *
 * Writes are returned as batch operations, never applied here (as `block-store.ts`'s): the replica
 * puts them into the block's batch. A stored record that does not decode is a `LEDGER_CORRUPT`
 * error naming its page (`details.page`).
 */
import { BulwarkError } from '../common/errors.ts';
import {
  NO_OPERATOR_STATE,
  decodeClientId,
  decodeExecutionProgress,
  decodeKeyRecord,
  decodeNodeKeyRecord,
  decodeOperatorState,
  decodeRequestSeq,
  encodeClientId,
  encodeExecutionProgress,
  encodeKeyRecord,
  encodeNodeKeyRecord,
  encodeOperatorState,
  encodeRequestSeq,
  keyRecordId,
  nodeKeyRecordId,
  type ExecutionProgress,
  type KeyRecord,
  type NodeKeyRecord,
  type OperatorState,
} from '../codec/reserved-pages.ts';
import { decodeCheckpointImage, encodeCheckpointImage, type CheckpointImage } from '../codec/snapshot.ts';
import type { BatchOp, KvStore } from '../storage/kvstore.ts';
import { bytesCodec, uint64Codec, utf8Codec, type Codec } from '../storage/codecs.ts';
import { createRepository, type Repository } from '../storage/repository.ts';

export { NO_OPERATOR_STATE, type ExecutionProgress, type KeyRecord, type NodeKeyRecord, type OperatorState } from '../codec/reserved-pages.ts';

/** The buckets of the reserved pages (`storage/prefixes.ts`). */
export type ReservedPage = 'executionProgress' | 'clientTable' | 'keyTable' | 'operatorState' | 'nodeKeyTable' | 'checkpointImage';

/** Everything the reserved pages hold, as read from a store. */
export interface ReservedPagesContents {
  /** Undefined before the first executed sequence number. */
  readonly progress: ExecutionProgress | undefined;
  /** Client id → its highest executed request sequence number (exactly-once). */
  readonly clients: Map<number, number>;
  /** Every published consensus key, in (replica, epoch) order. */
  readonly keys: KeyRecord[];
  /** `NO_OPERATOR_STATE` until the operator's first command. */
  readonly operator: OperatorState;
  /** Every published execution, authentication and TLS key, in (kind, node, epoch) order. */
  readonly nodeKeys: NodeKeyRecord[];
}

/** The one key of the `executionProgress` bucket. */
const PROGRESS = 'progress';
/** The one key of the `operatorState` bucket. */
const OPERATOR = 'state';

/** A codec whose decode failures are `LEDGER_CORRUPT`, naming the page and what did not decode. */
function pageCodec<T>(page: ReservedPage, what: string, encode: (value: T) => Uint8Array, decode: (bytes: Uint8Array) => T): Codec<T> {
  return {
    encode,
    decode: (bytes) => {
      try {
        return decode(bytes);
      } catch (cause) {
        const why = cause instanceof Error ? cause.message : String(cause);
        throw new BulwarkError('LEDGER_CORRUPT', `reserved page ${page}: ${what} does not decode (${why})`, { page, length: bytes.length }, { cause });
      }
    },
  };
}

export class ReservedPages {
  readonly #progress: Repository<string, ExecutionProgress>;
  readonly #clients: Repository<number, number>;
  readonly #keys: Repository<Uint8Array, KeyRecord>;
  readonly #operator: Repository<string, OperatorState>;
  readonly #nodeKeys: Repository<Uint8Array, NodeKeyRecord>;
  readonly #images: Repository<bigint, CheckpointImage>;

  constructor(kv: KvStore) {
    this.#progress = createRepository(kv, 'executionProgress', utf8Codec, pageCodec('executionProgress', 'the progress record', encodeExecutionProgress, decodeExecutionProgress));
    this.#clients = createRepository(
      kv,
      'clientTable',
      pageCodec('clientTable', 'a client id', encodeClientId, decodeClientId),
      pageCodec('clientTable', 'a request sequence number', encodeRequestSeq, decodeRequestSeq),
    );
    this.#keys = createRepository(kv, 'keyTable', bytesCodec, pageCodec('keyTable', 'a key record', encodeKeyRecord, decodeKeyRecord));
    this.#operator = createRepository(kv, 'operatorState', utf8Codec, pageCodec('operatorState', 'the operator state', encodeOperatorState, decodeOperatorState));
    this.#nodeKeys = createRepository(kv, 'nodeKeyTable', bytesCodec, pageCodec('nodeKeyTable', 'a node key record', encodeNodeKeyRecord, decodeNodeKeyRecord));
    this.#images = createRepository(kv, 'checkpointImage', uint64Codec, pageCodec('checkpointImage', 'a checkpoint image', encodeCheckpointImage, decodeCheckpointImage));
  }

  // ---- reads ----

  /** Where execution stands, or undefined before the first executed sequence number. */
  progress(): Promise<ExecutionProgress | undefined> {
    return this.#progress.get(PROGRESS);
  }

  /** The client table: client id → highest executed request sequence number. */
  async clientTable(): Promise<Map<number, number>> {
    const clients = new Map<number, number>();
    for await (const [client, requestSeq] of this.#clients.entries()) clients.set(client, requestSeq);
    return clients;
  }

  /** The published consensus keys, in (replica, epoch) order; a record that does not decode throws when reached. */
  async *keyRecords(): AsyncGenerator<KeyRecord> {
    for await (const [, record] of this.#keys.entries()) yield record;
  }

  /** The published node keys, in (kind, node, epoch) order; a record that does not decode throws when reached. */
  async *nodeKeyRecords(): AsyncGenerator<NodeKeyRecord> {
    for await (const [, record] of this.#nodeKeys.entries()) yield record;
  }

  /** The operator state; `NO_OPERATOR_STATE` until the operator's first command. */
  async operatorState(): Promise<OperatorState> {
    return (await this.#operator.get(OPERATOR)) ?? NO_OPERATOR_STATE;
  }

  /** All of it. */
  async read(): Promise<ReservedPagesContents> {
    const keys: KeyRecord[] = [];
    for await (const k of this.keyRecords()) keys.push(k);
    const nodeKeys: NodeKeyRecord[] = [];
    for await (const k of this.nodeKeyRecords()) nodeKeys.push(k);
    return { progress: await this.progress(), clients: await this.clientTable(), keys, operator: await this.operatorState(), nodeKeys };
  }

  /** The image kept for checkpoint `seq`, if any (`codec/snapshot.ts`). */
  image(seq: number): Promise<CheckpointImage | undefined> {
    return this.#images.get(BigInt(seq));
  }

  /** The sequence numbers of the checkpoint images kept, oldest first. */
  async imageSeqs(): Promise<number[]> {
    const out: number[] = [];
    for await (const seq of this.#images.keys()) out.push(Number(seq));
    return out;
  }

  // ---- writes (batch operations) ----

  imageOp(image: CheckpointImage): BatchOp {
    return this.#images.putOp(BigInt(image.seq), image);
  }

  dropImageOp(seq: number): BatchOp {
    return this.#images.delOp(BigInt(seq));
  }

  /**
   * Every page as `image` says, over whatever this store held (a snapshot installed): the image is
   * a later state of the same ledger, so each record it lacks is one the store cannot have either
   * — but a stale table entry is deleted all the same, never left to differ from the image.
   */
  async installOps(image: CheckpointImage): Promise<BatchOp[]> {
    const ops: BatchOp[] = [this.progressOp({ lastExecuted: image.seq, lastTimestamp: image.lastTimestamp })];
    for await (const [client] of this.#clients.entries()) if (!image.clients.has(client)) ops.push(this.#clients.delOp(client));
    for await (const id of this.#keys.keys()) ops.push(this.#keys.delOp(id));
    for await (const id of this.#nodeKeys.keys()) ops.push(this.#nodeKeys.delOp(id));
    for (const [client, requestSeq] of image.clients) ops.push(this.clientOp(client, requestSeq));
    for (const k of image.keys) ops.push(this.keyRecordOp(k));
    ops.push(this.operatorStateOp(image.operator));
    for (const k of image.nodeKeys) ops.push(this.nodeKeyRecordOp(k));
    ops.push(this.imageOp(image));
    return ops;
  }

  progressOp(progress: ExecutionProgress): BatchOp {
    return this.#progress.putOp(PROGRESS, progress);
  }

  /** Sets a client's highest executed request sequence number. */
  clientOp(clientId: number, requestSeq: number): BatchOp {
    return this.#clients.putOp(clientId, requestSeq);
  }

  /** Adds a published consensus key (records are never deleted). */
  keyRecordOp(record: KeyRecord): BatchOp {
    return this.#keys.putOp(keyRecordId(record), record);
  }

  operatorStateOp(state: OperatorState): BatchOp {
    return this.#operator.putOp(OPERATOR, state);
  }

  /** Adds a published node key (records are never deleted). */
  nodeKeyRecordOp(record: NodeKeyRecord): BatchOp {
    return this.#nodeKeys.putOp(nodeKeyRecordId(record), record);
  }
}
