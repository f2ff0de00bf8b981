/**
 * A simulated client node, behaving as the BFT client will: one request at a time, sent to the
 * primary it believes in and to every replica after a timeout; the result accepted on f + 1
 * matching replies whose execution signature and Merkle proof verify.
 */
import { decodeMessage, encodeMessage } from '../../../src/codec/message-codec.ts';
import type { ClientRequest, Message, Reply, ReplyEntry } from '../../../src/codec/messages.ts';
import { replyBytes } from '../../../src/codec/signing.ts';
import type { ConsensusCrypto } from '../../../src/consensus/crypto.ts';
import { resultLeaf } from '../../../src/consensus/execution.ts';
import { merkleRootFromProof } from '../../../src/consensus/merkle.ts';
import type { SimTransport } from '../../../src/net/sim-transport.ts';
import type { EventQueue } from './queue.ts';
import type { KeyRegistry } from './sim-crypto.ts';
import { summaryKey } from './node.ts';

export interface Accepted {
  readonly requestSeq: number;
  readonly seq: number;
  readonly result: string;
  readonly at: number;
}

export class SimClient {
  readonly id: number;
  readonly accepted: Accepted[] = [];
  #n: number;
  #f: number;
  readonly #q: EventQueue;
  readonly #t: SimTransport;
  readonly #reg: KeyRegistry;
  #verifier: ConsensusCrypto;
  #remaining: number;
  #nextSeq = 1;
  #outstanding: { req: ClientRequest; replies: Map<number, string>; attempt: number } | null = null;
  readonly #retryMs: number;
  badReplies = 0;
  /** Block notices with a valid execution signature: seq → summary key → replicas. */
  readonly notices = new Map<number, Map<string, Set<number>>>();

  constructor(o: {
    id: number;
    n: number;
    f: number;
    requests: number;
    queue: EventQueue;
    transport: SimTransport;
    registry: KeyRegistry;
    retryMs: number;
  }) {
    this.id = o.id;
    this.#n = o.n;
    this.#f = o.f;
    this.#remaining = o.requests;
    this.#q = o.queue;
    this.#t = o.transport;
    this.#reg = o.registry;
    this.#verifier = o.registry.cryptoFor(-1);
    this.#retryMs = o.retryMs;
    this.#t.onFrame((from, frame) => this.#onFrame(from, frame));
  }

  get done(): boolean {
    return this.#remaining === 0 && this.#outstanding === null;
  }

  get remaining(): number {
    return this.#remaining + (this.#outstanding === null ? 0 : 1);
  }

  start(): void {
    this.#t.open();
    this.#next();
  }

  /**
   * Restarted with a reconfiguration's network file (`World.reconfigure`): n replicas, f + 1
   * matching replies, and their execution keys as the registry now names them. A request
   * outstanding is sent on to the new replica set at its next retry.
   */
  reconfigure(n: number, f: number): void {
    this.#n = n;
    this.#f = f;
    this.#verifier = this.#reg.cryptoFor(-1);
  }

  /** Payloads to send next, in order, before the generated ones (operator commands, say). */
  readonly #custom: Uint8Array[] = [];

  /** Sends `payload` as this client's next request (after the one outstanding). */
  submit(payload: Uint8Array): void {
    this.#custom.push(payload);
    this.add(1);
  }

  /** More requests, e.g. after a scenario's fault was healed. */
  add(requests: number): void {
    const idle = this.#outstanding === null;
    this.#remaining += requests;
    if (idle) this.#next();
  }

  #next(): void {
    if (this.#remaining === 0) return;
    this.#remaining--;
    const unsigned = {
      clientId: this.id,
      requestSeq: this.#nextSeq++,
      flags: 0,
      payload: this.#custom.shift() ?? new TextEncoder().encode(`c${this.id}-r${this.#nextSeq - 1}`),
    };
    const req: ClientRequest = { ...unsigned, signature: this.#reg.signClientRequest(unsigned) };
    this.#outstanding = { req, replies: new Map(), attempt: 0 };
    this.#sendOutstanding();
  }

  #sendOutstanding(): void {
    const o = this.#outstanding;
    if (o === null) return;
    const frame = encodeMessage({ type: 'Request', request: o.req });
    // First to the primary of view 0's successor guess; after a timeout, to everyone.
    const targets = o.attempt === 0 ? [0] : [...Array(this.#n).keys()];
    for (const t of targets) this.#t.send(t, frame);
    const attempt = ++o.attempt;
    const seq = o.req.requestSeq;
    this.#q.after(this.#retryMs, () => {
      if (this.#outstanding?.req.requestSeq === seq && this.#outstanding.attempt === attempt) this.#sendOutstanding();
    });
  }

  #onFrame(from: number, frame: Uint8Array): void {
    let m: Message;
    try {
      m = decodeMessage(frame);
    } catch {
      this.badReplies++;
      return;
    }
    if (m.type === 'BlockNotice' && from < this.#n) {
      if (!this.#verifier.verifyExecution(from, replyBytes(m.seq, m.summary, m.resultsRoot), m.signature, m.seq)) {
        this.badReplies++;
        return;
      }
      let bySummary = this.notices.get(m.seq);
      if (bySummary === undefined) this.notices.set(m.seq, (bySummary = new Map()));
      const key = summaryKey(m.summary);
      let who = bySummary.get(key);
      if (who === undefined) bySummary.set(key, (who = new Set()));
      who.add(from);
      return;
    }
    if (m.type !== 'Reply' || from >= this.#n) return;
    const o = this.#outstanding;
    const entry = m.entries.find((e) => e.requestSeq === o?.req.requestSeq);
    if (o === null || entry === undefined || m.clientId !== this.id) return;
    if (!this.#valid(from, m, entry)) {
      this.badReplies++;
      return;
    }
    const key = `${m.seq}|${summaryKey(m.summary)}|${Buffer.from(entry.result).toString('hex')}`;
    o.replies.set(from, key);
    const matching = [...o.replies.values()].filter((k) => k === key).length;
    if (matching < this.#f + 1) return;
    this.accepted.push({ requestSeq: entry.requestSeq, seq: m.seq, result: Buffer.from(entry.result).toString('hex'), at: this.#q.now });
    this.#outstanding = null;
    this.#next();
  }

  #valid(from: number, m: Reply, e: ReplyEntry): boolean {
    const h = (b: Uint8Array) => this.#verifier.digest(b);
    const root = merkleRootFromProof(h, resultLeaf({ clientId: m.clientId, requestSeq: e.requestSeq }, e.result), e.index, m.count, e.proof);
    if (root === null || Buffer.compare(root, m.resultsRoot) !== 0) return false;
    return this.#verifier.verifyExecution(from, replyBytes(m.seq, m.summary, m.resultsRoot), m.signature, m.seq);
  }
}
