/**
 * The application consensus executes on a replica: each committed batch's client requests carry
 * raw Ethereum transactions, which the executor runs as one block — made only if at least one
 * transaction is valid (ARCHITECTURE "Blocks and time"). In the same atomic RocksDB batch as the
 * block go the reserved pages the protocol depends on: each client's highest executed request
 * sequence (exactly-once) and the last executed sequence number with its block timestamp. A batch
 * without a block writes those alone. So after any crash, `state()` is exactly what the replica
 * had executed, and `restoreReplica` starts from it.
 */
import { decodeNodeKeyRecord, encodeNodeKeyRecord, nodeKeyRecordId, type NodeKeyRecord } from '../consensus/node-keys.ts';
import { BulwarkError } from '../common/errors.ts';
import { Writer } from '../codec/binary.ts';
import type { ClientRequest, ExecSummary } from '../codec/messages.ts';
import { decodeTxPayload, encodeRequestResult, type RequestResult, type TxOutcome } from '../codec/tx-payload.ts';
import type { AppState } from '../consensus/replica.ts';
import { decodeKeyRecord, encodeKeyRecord, keyRecordId, type KeyRecord } from '../consensus/keys.ts';
import { reservedPagesDigest } from '../consensus/reserved-pages.ts';
import { NO_OPERATOR_STATE, decodeOperatorState, encodeOperatorState, type OperatorState } from '../consensus/operator.ts';
import { keccak256 } from '../crypto/index.ts';
import type { Executor } from '../execution/executor.ts';
import { createRepository, utf8Codec, bytesCodec, type BatchOp, type Codec, type KvStore, type Repository } from '../storage/index.ts';

const clientIdCodec: Codec<number> = {
  encode: (n) => new Writer(4).u32(n).finish(),
  decode: (b) => {
    if (b.length !== 4) throw new BulwarkError('LEDGER_CORRUPT', 'a client-table key is 4 bytes', { length: b.length });
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  },
};

interface Progress {
  readonly seq: number;
  readonly lastTimestamp: number;
}

export interface AppExecution {
  readonly summary: ExecSummary;
  /** One encoded `RequestResult` per request, in order. */
  readonly results: Uint8Array[];
  /** Whether a block was made. */
  readonly block: boolean;
}

export class EthereumApp {
  readonly #executor: Executor;
  readonly #kv: KvStore;
  readonly #progress: Repository<string, Uint8Array>;
  readonly #table: Repository<number, Uint8Array>;
  readonly #keyTable: Repository<Uint8Array, Uint8Array>;
  readonly #clients: Map<number, number>;
  readonly #keys: KeyRecord[];
  readonly #operatorTable: Repository<string, Uint8Array>;
  #operator: OperatorState;
  readonly #nodeKeyTable: Repository<Uint8Array, Uint8Array>;
  readonly #nodeKeys: NodeKeyRecord[];
  #at: Progress;

  private constructor(
    executor: Executor,
    kv: KvStore,
    clients: Map<number, number>,
    keys: KeyRecord[],
    operator: OperatorState,
    nodeKeys: NodeKeyRecord[],
    at: Progress,
  ) {
    this.#executor = executor;
    this.#kv = kv;
    this.#progress = createRepository(kv, 'executionProgress', utf8Codec, bytesCodec);
    this.#table = createRepository(kv, 'clientTable', clientIdCodec, bytesCodec);
    this.#keyTable = createRepository(kv, 'keyTable', bytesCodec, bytesCodec);
    this.#clients = clients;
    this.#keys = keys;
    this.#operatorTable = createRepository(kv, 'operatorState', utf8Codec, bytesCodec);
    this.#operator = operator;
    this.#nodeKeyTable = createRepository(kv, 'nodeKeyTable', bytesCodec, bytesCodec);
    this.#nodeKeys = nodeKeys;
    this.#at = at;
  }

  /** `kv` must be the executor's store: the reserved pages are written in its block batches. */
  static async open(executor: Executor, kv: KvStore): Promise<EthereumApp> {
    const progress = createRepository(kv, 'executionProgress', utf8Codec, bytesCodec);
    const table = createRepository(kv, 'clientTable', clientIdCodec, bytesCodec);
    const clients = new Map<number, number>();
    for await (const [client, b] of table.entries()) clients.set(client, readU64(b, 'client table entry'));
    const keys: KeyRecord[] = [];
    for await (const [, b] of createRepository(kv, 'keyTable', bytesCodec, bytesCodec).entries()) keys.push(decodeKeyRecord(b));
    const stored = await progress.get('progress');
    const at: Progress =
      stored === undefined
        ? { seq: 0, lastTimestamp: Number(executor.head.header.timestamp) }
        : { seq: readU64(stored.subarray(0, 8), 'progress'), lastTimestamp: readU64(stored.subarray(8, 16), 'progress') };
    const storedOperator = await createRepository(kv, 'operatorState', utf8Codec, bytesCodec).get('state');
    const operator = storedOperator === undefined ? NO_OPERATOR_STATE : decodeOperatorState(storedOperator);
    const nodeKeys: NodeKeyRecord[] = [];
    for await (const [, b] of createRepository(kv, 'nodeKeyTable', bytesCodec, bytesCodec).entries()) nodeKeys.push(decodeNodeKeyRecord(b));
    return new EthereumApp(executor, kv, clients, keys, operator, nodeKeys, at);
  }

  state(): AppState {
    return {
      lastExecuted: this.#at.seq,
      summary: this.#summary(),
      lastTimestamp: this.#at.lastTimestamp,
      clients: new Map(this.#clients),
      keys: [...this.#keys],
      operator: this.#operator,
      nodeKeys: [...this.#nodeKeys],
    };
  }

  /**
   * Runs one committed batch's fresh requests (the `execute` output of the state machine), and
   * writes the keys it published into the reserved pages in the same atomic batch.
   */
  async execute(
    seq: number,
    timestamp: number,
    requests: readonly ClientRequest[],
    keyRecords: readonly KeyRecord[] = [],
    internal: readonly ClientRequest[] = [],
    operator: OperatorState | null = null,
    nodeKeyRecords: readonly NodeKeyRecord[] = [],
  ): Promise<AppExecution> {
    if (seq !== this.#at.seq + 1) {
      throw new BulwarkError('APP_OUT_OF_ORDER', `sequence ${seq} after ${this.#at.seq}`, { seq, last: this.#at.seq });
    }
    const decoded = requests.map((r) => {
      try {
        return decodeTxPayload(r.payload);
      } catch {
        return null; // a malformed payload is a deterministic outcome, answered as such
      }
    });
    const rawTxs = decoded.flatMap((d) => d ?? []);
    const at: Progress = { seq, lastTimestamp: requests.length > 0 ? timestamp : this.#at.lastTimestamp };
    // The client table records every executed request, the replicas' own (key exchanges) too.
    const executed = [...requests, ...internal];
    const clients = new Map(this.#clients);
    for (const r of executed) clients.set(r.clientId, Math.max(clients.get(r.clientId) ?? 0, r.requestSeq));
    const ops = [
      ...this.#reservedOps(at, executed),
      ...keyRecords.map((k) => this.#keyTable.putOp(keyRecordId(k), encodeKeyRecord(k))),
      ...(operator === null ? [] : [this.#operatorTable.putOp('state', encodeOperatorState(operator))]),
      ...nodeKeyRecords.map((k) => this.#nodeKeyTable.putOp(nodeKeyRecordId(k), encodeNodeKeyRecord(k))),
    ];
    let outcomes: TxOutcome[] = [];
    let block = false;
    if (rawTxs.length === 0) {
      await this.#kv.write(ops, { sync: true });
    } else {
      const head = this.#executor.head;
      const out = await this.#executor.execute(head.hash(), rawTxs, BigInt(timestamp), { extraOps: ops, commitEmpty: false });
      block = out.committed;
      outcomes = outcomesOf(rawTxs, out.rawTransactions.length, out.rejected);
    }
    this.#at = at;
    for (const [c, s] of clients) this.#clients.set(c, s);
    this.#keys.push(...keyRecords);
    if (operator !== null) this.#operator = operator;
    this.#nodeKeys.push(...nodeKeyRecords);
    const results: Uint8Array[] = [];
    let next = 0;
    for (const d of decoded) {
      const result: RequestResult = d === null ? { malformed: true } : { malformed: false, txs: outcomes.slice(next, next + d.length) };
      if (d !== null) next += d.length;
      results.push(encodeRequestResult(result));
    }
    return { summary: this.#summary(), results, block };
  }

  #reservedOps(at: Progress, requests: readonly ClientRequest[]): BatchOp[] {
    const ops: BatchOp[] = [this.#progress.putOp('progress', new Writer(16).u64(at.seq).u64(at.lastTimestamp).finish())];
    const last = new Map<number, number>();
    for (const r of requests) last.set(r.clientId, r.requestSeq);
    for (const [client, s] of last) ops.push(this.#table.putOp(client, new Writer(8).u64(s).finish()));
    return ops;
  }

  #reservedDigest(): Uint8Array {
    return reservedPagesDigest(this.#clients, this.#keys, this.#operator, this.#nodeKeys);
  }

  #summary(): ExecSummary {
    const h = this.#executor.head;
    return {
      blockNumber: Number(h.header.number),
      blockHash: h.hash(),
      stateRoot: h.header.stateRoot,
      reservedDigest: this.#reservedDigest(),
    };
  }
}

/** Maps the executor's output back onto the input order: included ones in order, rejected ones by index. */
function outcomesOf(
  rawTxs: readonly Uint8Array[],
  includedCount: number,
  rejected: readonly { index: number; hash: Uint8Array | undefined; reason: string }[],
): TxOutcome[] {
  const byIndex = new Map(rejected.map((r) => [r.index, r]));
  const out: TxOutcome[] = [];
  let position = 0;
  for (let i = 0; i < rawTxs.length; i++) {
    const rej = byIndex.get(i);
    if (rej !== undefined) out.push({ hash: rej.hash ?? keccak256(rawTxs[i]!), included: false, reason: rej.reason });
    else out.push({ hash: keccak256(rawTxs[i]!), included: true, index: position++ });
  }
  if (position !== includedCount) {
    throw new BulwarkError('APP_RESULT_MISMATCH', `${position} transactions thought included, the block has ${includedCount}`);
  }
  return out;
}

function readU64(b: Uint8Array, what: string): number {
  if (b.length !== 8) throw new BulwarkError('LEDGER_CORRUPT', `${what}: expected 8 bytes`, { length: b.length });
  const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BulwarkError('LEDGER_CORRUPT', `${what}: value out of range`);
  return Number(v);
}
