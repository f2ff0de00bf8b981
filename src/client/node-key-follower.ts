/**
 * What a client node knows of the replicas' execution keys, of every node's TLS certificate and of
 * its own key rotations (`consensus/node-keys.ts`), learnt from the replicas' status answers — polled,
 * and pushed unsolicited by each replica as soon as it executes a publication, long before the key
 * takes effect.
 *
 * A record is taken when f + 1 replicas report it (so at least one honest one executed it) and it
 * is possessed by its key and endorsed by the key before it, which this node already holds. Taken
 * records are kept (prefix `nodeKeyTable`), so the history survives a restart and `verify-ledger`
 * checks block certificates against the keys in effect then. The position (executed and stable
 * sequence numbers) and this node's rotation targets are likewise what f + 1 replicas report.
 */
import { RetryingWriter } from './retrying-writer.ts';
import type { Message } from '../codec/messages.ts';
import { slotName, type NodeKeyBook } from '../consensus/node-keys.ts';
import { decodeNodeKeyRecord, type NodeKeyRecord } from '../codec/reserved-pages.ts';
import { decodeOperatorState } from '../codec/reserved-pages.ts';
import type { NodeAuthPublicKey } from '../crypto/node-auth.ts';
import { BulwarkError } from '../common/errors.ts';
import { ReservedPages } from '../ledger/reserved-pages.ts';
import type { KvStore } from '../storage/index.ts';
import { reachedByFPlusOne } from '../consensus/config.ts';
import { takeReportedRecords } from './reported-records.ts';

interface Report {
  readonly records: ReadonlySet<string>;
  readonly executed: number;
  readonly stable: number;
  /** This node's rotation targets (slot → epoch) in the replica's operator state. */
  readonly targets: ReadonlyMap<string, number>;
  /** The last operator command nonce the replica executed. */
  readonly operatorNonce: number;
  /** The highest of this node's request numbers the replica executed. */
  readonly requestSeq: number;
  /** The configuration epoch in the replica's operator state, and its first sequence number. */
  readonly configuration: { readonly epoch: number; readonly fromSeq: number; readonly network: string | null };
}

export class NodeKeyFollower {
  readonly book: NodeKeyBook<NodeAuthPublicKey>;
  /** Records kept for restarts: a failed write (a full disk) is reported and tried again, not thrown. */
  readonly #writer: RetryingWriter;
  /** A write of a kept record failed (it is tried again). */
  onStoreError: (err: unknown) => void = () => undefined;

  /** Writes of kept records that failed (each tried again). */
  get storeFailures(): number {
    return this.#writer.failures;
  }
  /** The node key table (`ledger/reserved-pages.ts`): the records taken, as a replica's reserved pages hold them. */
  readonly #pages: ReservedPages;
  readonly #self: number;
  readonly #n: number;
  readonly #f: number;
  readonly #reports = new Map<number, Report>();
  /** Called after a report changed what this node knows (new keys, position, targets). */
  onChange: () => void = () => undefined;
  refused = 0;

  private constructor(kv: KvStore, book: NodeKeyBook<NodeAuthPublicKey>, self: number, n: number, f: number) {
    this.#writer = new RetryingWriter(kv, (err) => this.onStoreError(err));
    this.book = book;
    this.#pages = new ReservedPages(kv);
    this.#self = self;
    this.#n = n;
    this.#f = f;
  }

  /** `book`: the network file's keys; the records kept before a restart are added to it. */
  static async open(kv: KvStore, book: NodeKeyBook<NodeAuthPublicKey>, o: { self: number; n: number; f: number }): Promise<NodeKeyFollower> {
    const follower = new NodeKeyFollower(kv, book, o.self, o.n, o.f);
    // A record that does not decode is `LEDGER_CORRUPT` from the repository.
    for await (const record of follower.#pages.nodeKeyRecords()) {
      // A node a reconfiguration removed: its records stay, it is no node of this network file.
      if (!book.has(record.kind, record.node)) continue;
      if (book.problem(record) !== null || !book.add(record)) {
        throw new BulwarkError('LEDGER_CORRUPT', `the node key table holds a ${record.kind} key that does not follow (node ${record.node}, epoch ${record.epoch})`);
      }
    }
    return follower;
  }

  /** Where f + 1 replicas report having reached. */
  position(): { executed: number; stable: number } {
    const reports = [...this.#reports.values()];
    return { executed: reachedByFPlusOne(reports.map((r) => r.executed), this.#f), stable: reachedByFPlusOne(reports.map((r) => r.stable), this.#f) };
  }

  /** The operator command nonce f + 1 replicas report executed (0 before any report): a command at or below it is a replay. */
  operatorNonce(): number {
    return reachedByFPlusOne([...this.#reports.values()].map((r) => r.operatorNonce), this.#f);
  }

  /** The highest of this node's request numbers f + 1 replicas report executed (0 before any report). */
  requestSeq(): number {
    return reachedByFPlusOne([...this.#reports.values()].map((r) => r.requestSeq), this.#f);
  }

  /** This node's rotation targets that f + 1 replicas report. */
  targets(): Map<string, number> {
    const slots = new Set([...this.#reports.values()].flatMap((r) => [...r.targets.keys()]));
    const reports = [...this.#reports.values()];
    return new Map([...slots].map((slot) => [slot, reachedByFPlusOne(reports.map((r) => r.targets.get(slot) ?? 0), this.#f)]));
  }

  /**
   * The first sequence number of configuration epoch `epoch`, once f + 1 replicas report the same
   * (one of them honest); undefined before. What a client node records beside the network file of
   * the epoch (`ledger/configurations.ts`) so that `verify-ledger` checks its certificates by epoch.
   */
  configurationStart(epoch: number): number | undefined {
    const counts = new Map<number, number>();
    for (const r of this.#reports.values()) {
      if (r.configuration.epoch === epoch) counts.set(r.configuration.fromSeq, (counts.get(r.configuration.fromSeq) ?? 0) + 1);
    }
    for (const [fromSeq, count] of counts) if (count > this.#f) return fromSeq;
    return undefined;
  }

  /**
   * The newest configuration f + 1 replicas report alike — its epoch and its network file's SHA-256
   * (hex) — or undefined while none beyond the network as created is so reported.
   */
  agreedConfiguration(): { epoch: number; network: string } | undefined {
    const counts = new Map<string, { epoch: number; network: string; count: number }>();
    for (const r of this.#reports.values()) {
      if (r.configuration.network === null) continue;
      const key = `${r.configuration.epoch}:${r.configuration.network}`;
      const c = counts.get(key) ?? { epoch: r.configuration.epoch, network: r.configuration.network, count: 0 };
      c.count++;
      counts.set(key, c);
    }
    let best: { epoch: number; network: string } | undefined;
    for (const c of counts.values()) if (c.count > this.#f && (best === undefined || c.epoch > best.epoch)) best = { epoch: c.epoch, network: c.network };
    return best;
  }

  /** The configuration epoch f + 1 replicas report having reached (one of them honest). */
  configurationEpoch(): number {
    return reachedByFPlusOne([...this.#reports.values()].map((r) => r.configuration.epoch), this.#f);
  }

  onMessage(from: number, m: Message): void {
    if (m.type !== 'NodeStatus' || from < 0 || from >= this.#n) return;
    let targets = new Map<string, number>();
    let operatorNonce = 0;
    let configuration: Report['configuration'] = { epoch: 0, fromSeq: 1, network: null };
    try {
      const operator = decodeOperatorState(m.operator);
      operatorNonce = operator.nonce;
      const digest = operator.configuration.network;
      configuration = { epoch: operator.configuration.epoch, fromSeq: operator.configuration.fromSeq, network: digest === null ? null : Buffer.from(digest).toString('hex') };
      targets = new Map([...operator.nodeTargets].filter(([slot]) => slot === slotName('auth', this.#self) || slot === slotName('tls', this.#self)));
    } catch {
      this.refused++;
    }
    // Each replica's latest report replaces its previous one: one that floods records holds at
    // most one report's worth, and cannot crowd out the others'.
    this.#reports.set(from, {
      records: new Set(m.nodeKeys.map((k) => Buffer.from(k).toString('hex'))),
      executed: m.lastExecuted,
      stable: m.lastStable,
      targets,
      operatorNonce,
      requestSeq: m.requestSeq,
      configuration,
    });
    this.#learn();
    this.onChange();
  }

  #learn(): void {
    takeReportedRecords(
      [...this.#reports.values()].map((r) => r.records),
      this.#f,
      (bytes) => {
        let record: NodeKeyRecord;
        try {
          record = decodeNodeKeyRecord(bytes);
        } catch {
          this.refused++;
          return 'drop';
        }
        const latest = this.book.latest(record.kind, record.node);
        if (latest === undefined || record.epoch <= latest.epoch) return 'drop';
        if (record.epoch !== latest.epoch + 1) return 'wait';
        if (this.book.problem(record) !== null || !this.book.add(record)) {
          this.refused++;
          return 'drop';
        }
        this.#writer.write([this.#pages.nodeKeyRecordOp(record)]);
        return 'taken';
      },
    );
  }
}
