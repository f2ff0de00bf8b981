/**
 * State reads for the client node: the queries go to every replica, each answers from its own
 * state at the block asked for (the mirror's certified head, typically) and signs its answers; a
 * result counts once f + 1 replicas signed the same answers to the same queries at that block.
 */
import { encodeMessage } from '../codec/message-codec.ts';
import type { Message, ReadReply } from '../codec/messages.ts';
import { MAX_READ_QUERIES, readAnswersDigest, readQueriesDigest, readReplyBytes, type ReadQuery, type ReadResult } from '../codec/read.ts';
import { BulwarkError } from '../common/errors.ts';
import { executionKeys, type ExecutionKeys, type ExecutionKeysInput } from './execution-keys.ts';

interface Waiter {
  readonly resolve: (r: ReadResult) => void;
  readonly reject: (err: unknown) => void;
}

interface Pending {
  readonly blockNumber: number;
  readonly count: number;
  readonly queriesDigest: Uint8Array;
  readonly votes: Map<string, Set<number>>;
  readonly waiters: readonly Waiter[];
  readonly timer: NodeJS.Timeout;
}

/**
 * Reads made in one turn of the event loop travel together, up to a limit per request: many state
 * lookups, which are cheap, or a few calls and gas estimates, which run the EVM.
 */
const PER_REQUEST = { state: MAX_READ_QUERIES, evm: 16 } as const;
const bucketOf = (q: ReadQuery): keyof typeof PER_REQUEST => (q.kind === 'call' || q.kind === 'estimateGas' || q.kind === 'proof' ? 'evm' : 'state');

export class ReadClient {
  readonly #send: (to: number, frame: Uint8Array) => void;
  readonly #clientId: number;
  readonly #keys: ExecutionKeys;
  readonly #f: number;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  /** Reads of this turn, by kind and block number. */
  readonly #gathering = new Map<string, { blockNumber: number; queries: ReadQuery[]; waiters: Waiter[] }>();
  #flushScheduled = false;
  #nextId = 1;
  invalidReplies = 0;

  constructor(o: { send: (to: number, frame: Uint8Array) => void; clientId: number; executionKeys: ExecutionKeysInput; f: number; timeoutMs?: number }) {
    this.#send = o.send;
    this.#clientId = o.clientId;
    this.#keys = executionKeys(o.executionKeys);
    this.#f = o.f;
    this.#timeoutMs = o.timeoutMs ?? 5_000;
  }

  /**
   * Reads `query` at `blockNumber`. Reads made in the same turn of the event loop go out as one
   * request (one signature per replica for all of them): up to 256 state lookups, or up to 16
   * calls and gas estimates, which run the EVM.
   */
  read(query: ReadQuery, blockNumber: number): Promise<ReadResult> {
    return new Promise<ReadResult>((resolve, reject) => {
      const bucket = bucketOf(query);
      const key = `${bucket}:${blockNumber}`;
      let g = this.#gathering.get(key);
      if (g === undefined) this.#gathering.set(key, (g = { blockNumber, queries: [], waiters: [] }));
      g.queries.push(query);
      g.waiters.push({ resolve, reject });
      if (g.queries.length >= PER_REQUEST[bucket]) {
        this.#gathering.delete(key);
        this.#dispatch(blockNumber, g.queries, g.waiters);
      } else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const g of this.#gathering.values()) this.#dispatch(g.blockNumber, g.queries, g.waiters);
    this.#gathering.clear();
  }

  #dispatch(blockNumber: number, queries: ReadQuery[], waiters: Waiter[]): void {
    const id = this.#nextId++;
    const frame = encodeMessage({ type: 'ReadRequest', id, blockNumber, queries });
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      const err = new BulwarkError('CLIENT_READ_TIMEOUT', `no f + 1 matching answers to read ${id} (${queries.length} queries) at block ${blockNumber}`);
      for (const w of waiters) w.reject(err);
    }, this.#timeoutMs);
    this.#pending.set(id, { blockNumber, count: queries.length, queriesDigest: readQueriesDigest(queries), votes: new Map(), waiters, timer });
    for (let r = 0; r < this.#keys.n; r++) this.#send(r, frame);
  }

  onMessage(from: number, m: Message): void {
    if (m.type !== 'ReadReply') return;
    const p = this.#pending.get(m.id);
    if (p === undefined || m.blockNumber !== p.blockNumber) return;
    const answersDigest = readAnswersDigest(m.answers);
    if (m.answers.length !== p.count || !this.#valid(from, m, p, answersDigest)) {
      this.invalidReplies++;
      return;
    }
    const key = `${Buffer.from(m.blockHash).toString('hex')}:${Buffer.from(answersDigest).toString('hex')}`;
    let who = p.votes.get(key);
    if (who === undefined) p.votes.set(key, (who = new Set()));
    who.add(from);
    if (who.size < this.#f + 1) return;
    clearTimeout(p.timer);
    this.#pending.delete(m.id);
    p.waiters.forEach((w, i) => w.resolve({ ok: m.answers[i]!.ok, result: m.answers[i]!.result, blockHash: m.blockHash }));
  }

  #valid(from: number, m: ReadReply, p: Pending, answersDigest: Uint8Array): boolean {
    const bytes = readReplyBytes(this.#clientId, m.id, p.queriesDigest, m.blockNumber, m.blockHash, answersDigest);
    return this.#keys.verify(from, bytes, m.signature);
  }

  close(): void {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#pending.clear();
  }
}
