/**
 * The application the simulator executes: a hash chain over executed requests, standing in for
 * the EVM. Deterministic, so honest replicas that execute the same batches in the same order agree
 * on every summary, and any divergence shows in the state root. Its durable state (last executed,
 * summary, the client table) is updated atomically per batch, as the executor's RocksDB batch is.
 *
 * `FakeReplicaApp` puts it behind `ReplicaApplication`, so that the production shell
 * (`ReplicaNode`) runs on it: it has no blocks to serve and answers no reads.
 */
import { createHash } from 'node:crypto';
import type { ClientRequest, ExecSummary } from '../../../src/codec/messages.ts';
import type { AppState } from '../../../src/consensus/replica.ts';
import { GENESIS_APP } from '../../../src/consensus/replica.ts';
import type { KeyRecord } from '../../../src/codec/reserved-pages.ts';
import type { OperatorState } from '../../../src/codec/reserved-pages.ts';
import type { NodeKeyRecord } from '../../../src/codec/reserved-pages.ts';
import { takeUpReconfiguration } from '../../../src/consensus/operator.ts';
import type { AppExecution, RawBlock, ReplicaApplication, ReplicaReads } from '../../../src/replica/application.ts';

function h(...parts: (Uint8Array | string)[]): Uint8Array {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return new Uint8Array(hash.digest());
}

export class FakeApp {
  state: AppState = GENESIS_APP;

  execute(
    seq: number,
    timestamp: number,
    requests: readonly ClientRequest[],
    keyRecords: readonly KeyRecord[] = [],
    internal: readonly ClientRequest[] = [],
    operatorState: OperatorState | null = null,
    nodeKeyRecords: readonly NodeKeyRecord[] = [],
  ): { summary: ExecSummary; results: Uint8Array[] } {
    const prev = this.state;
    const results = requests.map((r) => h('result', String(r.clientId), String(r.requestSeq), r.payload));
    const clients = new Map(prev.clients);
    for (const r of [...requests, ...internal]) clients.set(r.clientId, Math.max(clients.get(r.clientId) ?? 0, r.requestSeq));
    const makesBlock = requests.length > 0;
    const stateRoot = makesBlock ? h(prev.summary.stateRoot, String(seq), ...results) : prev.summary.stateRoot;
    const blockNumber = prev.summary.blockNumber + (makesBlock ? 1 : 0);
    const blockHash = makesBlock ? h(prev.summary.blockHash, stateRoot, String(timestamp)) : prev.summary.blockHash;
    // The published keys are reserved pages too, written with the batch.
    const keys = [...prev.keys, ...keyRecords];
    const operator = operatorState ?? prev.operator;
    const nodeKeys = [...prev.nodeKeys, ...nodeKeyRecords];
    const reservedDigest = reservedDigestOf(clients, keys, operator, nodeKeys);
    const summary: ExecSummary = { blockNumber, blockHash, stateRoot, reservedDigest };
    this.state = { lastExecuted: seq, summary, lastTimestamp: makesBlock ? timestamp : prev.lastTimestamp, clients, keys, operator, nodeKeys };
    return { summary, results };
  }

  /**
   * Where this store stands against the network file of configuration epoch `network.epoch`
   * (SHA-256 `network.digest`), as `checkConfiguration` (`src/node/configuration.ts`) decides it
   * from the reserved pages at a replica's start: `take-up` at the wedge point of the
   * reconfiguration that names the file, `behind` when the store predates it (a new member's empty
   * store, or one down through the change), else `current`.
   */
  configurationCheck(network: { readonly epoch: number; readonly digest: Uint8Array }): 'current' | 'take-up' | 'behind' {
    const op = this.state.operator;
    const named = op.reconfiguration !== null && Buffer.compare(op.reconfiguration, network.digest) === 0;
    if (named) {
      if (network.epoch !== op.configuration.epoch + 1) throw new Error(`fake app: the file says epoch ${network.epoch}, not ${op.configuration.epoch + 1}`);
      return this.state.lastExecuted < op.wedgeAt ? 'behind' : 'take-up';
    }
    if (network.epoch > op.configuration.epoch) return 'behind';
    if (network.epoch < op.configuration.epoch) throw new Error(`fake app: the file is older than the store's configuration epoch ${op.configuration.epoch}`);
    return 'current';
  }

  /**
   * Takes up the reconfiguration naming `network`: the operator state `recordConfiguration` writes
   * to the reserved pages, and the summary's reserved digest over it (`EthereumApp` computes its
   * summary from the pages as they stand).
   */
  takeUpReconfiguration(network: Uint8Array): void {
    const next = takeUpReconfiguration(this.state.operator, network);
    if (next === null) throw new Error('fake app: no reconfiguration names this network file');
    const s = this.state;
    this.state = { ...s, operator: next, summary: { ...s.summary, reservedDigest: reservedDigestOf(s.clients, s.keys, next, s.nodeKeys) } };
  }
}

/** The fake reserved pages' digest: the client table, the keys, the operator state. */
function reservedDigestOf(
  clients: ReadonlyMap<number, number>,
  keys: readonly KeyRecord[],
  operator: OperatorState,
  nodeKeys: readonly NodeKeyRecord[],
): Uint8Array {
  return h(
    ...[...clients].sort((a, b) => a[0] - b[0]).map(([c, s]) => `${c}:${s};`),
    ...keys.map((k) => `key:${k.replica}:${k.epoch}:${k.effectiveSeq}:${Buffer.from(k.publicKey).toString('hex')};`),
    `operator:${operator.nonce}:${operator.lastRotationAt}:${[...operator.targets].join(';')}:${[...operator.nodeTargets].join(';')}:${operator.wedgeAt}`,
    ...nodeKeys.map((k) => `node-key:${k.kind}:${k.node}:${k.epoch}:${k.effectiveSeq}:${Buffer.from(k.publicKey).toString('hex')};`),
    // Only once a reconfiguration was ordered, so that every other scenario's digests are as they were.
    ...(operator.reconfiguration === null && operator.configuration.epoch === 0 ? [] : [configurationKey(operator)]),
  );
}

function configurationKey(op: OperatorState): string {
  const hex = (b: Uint8Array | null) => (b === null ? '-' : Buffer.from(b).toString('hex'));
  return `configuration:${op.configuration.epoch}:${hex(op.configuration.network)}:${op.configuration.fromSeq}:${hex(op.reconfiguration)};`;
}

/** The fake application as the production shell's `ReplicaApplication`. */
export class FakeReplicaApp implements ReplicaApplication {
  readonly app: FakeApp;

  constructor(app: FakeApp = new FakeApp()) {
    this.app = app;
  }

  state(): AppState {
    return this.app.state;
  }

  async execute(
    seq: number,
    timestamp: number,
    requests: readonly ClientRequest[],
    keyRecords: readonly KeyRecord[] = [],
    internal: readonly ClientRequest[] = [],
    operator: OperatorState | null = null,
    nodeKeyRecords: readonly NodeKeyRecord[] = [],
  ): Promise<AppExecution> {
    if (seq !== this.app.state.lastExecuted + 1) throw new Error(`fake app: sequence ${seq} after ${this.app.state.lastExecuted}`);
    const before = this.app.state.summary.blockNumber;
    const r = this.app.execute(seq, timestamp, requests, keyRecords, internal, operator, nodeKeyRecords);
    return { ...r, block: r.summary.blockNumber > before };
  }

  head(): { readonly number: number; readonly hash: Uint8Array } {
    const s = this.app.state.summary;
    return { number: s.blockNumber, hash: s.blockHash };
  }

  /** No blocks: a mirror asking gets none. */
  async block(_n: number): Promise<RawBlock | undefined> {
    return undefined;
  }

  /** No state to read: every read is left unanswered, as one for a block not reached. */
  reads(): ReplicaReads {
    return { answer: async () => 'behind' };
  }

  cacheBytes(): number {
    return 0;
  }
}
