/**
 * The BFT client of a client node: signs each request with the node's authentication key, sends it
 * to the primary, re-sends it to every replica when no answer comes in time, and accepts a result
 * only when f + 1 replicas sent matching replies whose execution signature and Merkle proof verify.
 * Several requests may be outstanding; the replicas execute a client's requests in `requestSeq`
 * order, so they are sent in that order.
 */
import { BulwarkError } from '../common/errors.ts';
import { decodeMessage, encodeMessage } from '../codec/message-codec.ts';
import type { ClientRequest, ExecSummary, Message, Reply, ReplyEntry } from '../codec/messages.ts';
import { replyBytes, requestSigningBytes } from '../codec/signing.ts';
import { resultLeaf } from '../consensus/execution.ts';
import { merkleRootFromProof } from '../consensus/merkle.ts';
import { sha256, signNodeAuth, type NodeAuthPrivateKey } from '../crypto/index.ts';
import type { Transport } from '../net/transport.ts';
import { executionKeys, type ExecutionKeys, type ExecutionKeysInput } from './execution-keys.ts';

export interface BftClientOptions {
  readonly transport: Transport;
  readonly clientId: number;
  /** The authentication key requests are signed with; a function when it rotates (asked again at each retransmission). */
  readonly authKey: NodeAuthPrivateKey | (() => NodeAuthPrivateKey);
  /** Replica i's execution key at index i, or the key history. */
  readonly executionKeys: ExecutionKeysInput;
  readonly f: number;
  /** First request sequence number to use: above any this client id ever used (unless `requestSeqs` is given). */
  readonly firstRequestSeq?: number;
  /** Where request sequence numbers come from (a durable `RequestCounter`); else counted from `firstRequestSeq`. */
  readonly requestSeqs?: { next(): number };
  readonly retryMs?: number;
  readonly timeoutMs?: number;
  /** When false, frames are fed through `onMessage` by the owner (which shares the transport). */
  readonly subscribe?: boolean;
}

export interface Committed {
  readonly requestSeq: number;
  readonly seq: number;
  readonly summary: ExecSummary;
  readonly result: Uint8Array;
  /** The replicas whose matching replies made the quorum. */
  readonly replicas: readonly number[];
}

interface Pending {
  request: ClientRequest;
  frame: Uint8Array;
  /** The key the request is signed with. */
  key: NodeAuthPrivateKey;
  /** reply key → replicas that sent it */
  readonly votes: Map<string, Set<number>>;
  readonly resolve: (c: Committed) => void;
  readonly reject: (e: Error) => void;
  readonly timers: NodeJS.Timeout[];
}

export class BftClient {
  readonly #o: BftClientOptions;
  readonly #n: number;
  readonly #keys: ExecutionKeys;
  readonly #seqs: { next(): number };
  /** Where new requests go first: the primary of the highest view f + 1 replicas reported. */
  #primary = 0;
  readonly #views = new Map<number, number>();
  readonly #pending = new Map<number, Pending>();
  /** Execution signatures already checked, per replica and batch. */
  readonly #verified = new Set<string>();
  invalidReplies = 0;
  /** Requests failed because a later one of this client ran first (`#dropSuperseded`). */
  superseded = 0;
  #highestResolved = 0;

  constructor(o: BftClientOptions) {
    this.#o = o;
    this.#keys = executionKeys(o.executionKeys);
    this.#n = this.#keys.n;
    let next = o.firstRequestSeq ?? Date.now() * 1000;
    this.#seqs = o.requestSeqs ?? { next: () => next++ };
    if (o.subscribe !== false) o.transport.onFrame((from, frame) => this.#onFrame(from, frame));
  }

  #authKey(): NodeAuthPrivateKey {
    const k = this.#o.authKey;
    return typeof k === 'function' ? k() : k;
  }

  /** A decoded message from the transport, for owners that route frames themselves. */
  onMessage(from: number, m: Message): void {
    if (from < 0 || from >= this.#n || m.type !== 'Reply' || m.clientId !== this.#o.clientId) return;
    if (!this.#signatureValid(from, m)) {
      this.invalidReplies++;
      return;
    }
    this.#learnPrimary(from, m.view);
    for (const e of m.entries) this.#vote(from, m, e);
    this.#dropSuperseded(this.#highestResolved);
  }

  /** Orders `payload`; resolves once f + 1 replicas vouch for its result. */
  submit(payload: Uint8Array): Promise<Committed> {
    const unsigned = { clientId: this.#o.clientId, requestSeq: this.#seqs.next(), flags: 0, payload };
    const signed = (key: NodeAuthPrivateKey) => {
      const request: ClientRequest = { ...unsigned, signature: signNodeAuth(key, requestSigningBytes(unsigned)) };
      return { request, frame: encodeMessage({ type: 'Request', request }), key };
    };
    const first = signed(this.#authKey());
    const { request } = first;
    return new Promise<Committed>((resolve, reject) => {
      const p: Pending = { ...first, votes: new Map(), resolve, reject, timers: [] };
      this.#pending.set(request.requestSeq, p);
      this.#o.transport.send(this.#primary, p.frame);
      const retry = this.#o.retryMs ?? 1_500;
      const again = () => {
        if (!this.#pending.has(request.requestSeq)) return;
        // The key rotated since it was signed: signed again, so it is not refused once the old key's grace is over.
        const key = this.#authKey();
        if (key !== p.key) Object.assign(p, signed(key));
        for (let r = 0; r < this.#n; r++) this.#o.transport.send(r, p.frame);
        p.timers.push(setTimeout(again, retry));
      };
      p.timers.push(setTimeout(again, retry));
      p.timers.push(
        setTimeout(() => {
          if (!this.#pending.delete(request.requestSeq)) return;
          for (const t of p.timers) clearTimeout(t);
          reject(new BulwarkError('CLIENT_TIMEOUT', `request ${request.requestSeq} not committed in time`, { requestSeq: request.requestSeq }));
        }, this.#o.timeoutMs ?? 60_000),
      );
    });
  }

  #onFrame(from: number, frame: Uint8Array): void {
    if (from < 0 || from >= this.#n) return;
    let m;
    try {
      m = decodeMessage(frame);
    } catch {
      this.invalidReplies++;
      return;
    }
    this.onMessage(from, m);
  }

  /** A view reported by f + 1 replicas is reached by an honest one: its primary is the best guess. */
  #learnPrimary(from: number, view: number): void {
    this.#views.set(from, view);
    const views = [...this.#views.values()].sort((a, b) => b - a);
    const agreed = views[this.#o.f];
    if (agreed !== undefined) this.#primary = agreed % this.#n;
  }

  #signatureValid(from: number, m: Reply): boolean {
    const key = `${from}:${m.seq}:${Buffer.from(m.resultsRoot).toString('hex')}`;
    if (this.#verified.has(key)) return true;
    if (!this.#keys.verify(from, replyBytes(m.seq, m.summary, m.resultsRoot), m.signature, m.seq)) return false;
    if (this.#verified.size > 10_000) this.#verified.clear();
    this.#verified.add(key);
    return true;
  }

  #vote(from: number, m: Reply, e: ReplyEntry): void {
    const p = this.#pending.get(e.requestSeq);
    if (p === undefined) return;
    const root = merkleRootFromProof(sha256, resultLeaf({ clientId: m.clientId, requestSeq: e.requestSeq }, e.result), e.index, m.count, e.proof);
    if (root === null || Buffer.compare(root, m.resultsRoot) !== 0) {
      this.invalidReplies++;
      return;
    }
    const key = `${m.seq}:${Buffer.from(m.summary.blockHash).toString('hex')}:${Buffer.from(m.summary.stateRoot).toString('hex')}:${Buffer.from(e.result).toString('hex')}`;
    let voters = p.votes.get(key);
    if (voters === undefined) p.votes.set(key, (voters = new Set()));
    voters.add(from);
    if (voters.size < this.#o.f + 1) return;
    this.#pending.delete(e.requestSeq);
    for (const t of p.timers) clearTimeout(t);
    p.resolve({ requestSeq: e.requestSeq, seq: m.seq, summary: m.summary, result: e.result, replicas: [...voters] });
    this.#highestResolved = Math.max(this.#highestResolved, e.requestSeq);
  }

  /**
   * Replicas run a client's requests in request order only (exactly-once keeps the highest one
   * executed): once `executed` ran, an earlier request still outstanding never will (a view change
   * can have the new primary order a later request first). It fails now, retriably, instead of at
   * its timeout a minute later; its caller submits its content again under a new number. (The f + 1
   * replicas that answered `executed` answered, earlier on the same links, any batch before it
   * that ran the earlier request; one in the same batch is in the same Reply, voted on first.)
   */
  #dropSuperseded(executed: number): void {
    for (const [seq, p] of this.#pending) {
      if (seq >= executed) continue;
      this.#pending.delete(seq);
      for (const t of p.timers) clearTimeout(t);
      this.superseded++;
      p.reject(new BulwarkError('CLIENT_SUPERSEDED', `request ${seq} was overtaken by request ${executed}, executed first; it will not run`, { requestSeq: seq }));
    }
  }

  /** Fails every outstanding request (on shutdown). */
  close(): void {
    for (const [seq, p] of this.#pending) {
      for (const t of p.timers) clearTimeout(t);
      p.reject(new BulwarkError('CLIENT_CLOSED', `request ${seq} abandoned: client closed`));
    }
    this.#pending.clear();
  }
}
