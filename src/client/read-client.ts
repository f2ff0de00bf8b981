/**
 * State reads for the client node: the query goes to every replica, each answers from its own
 * state at the block asked for (the mirror's certified head, typically) and signs its answer; a
 * result counts once f + 1 replicas signed the same one for the same query and block.
 */
import { encodeMessage } from '../codec/message-codec.ts';
import type { Message, ReadReply } from '../codec/messages.ts';
import { encodeReadQuery, readReplyBytes, type ReadQuery } from '../codec/read.ts';
import { BulwarkError } from '../common/errors.ts';
import { sha256, verifyNodeAuth, type NodeAuthPublicKey } from '../crypto/index.ts';

export interface ReadResult {
  readonly ok: boolean;
  readonly result: Uint8Array;
  readonly blockHash: Uint8Array;
}

interface Pending {
  readonly blockNumber: number;
  readonly queryDigest: Uint8Array;
  readonly votes: Map<string, Set<number>>;
  readonly resolve: (r: ReadResult) => void;
  readonly timer: NodeJS.Timeout;
}

export class ReadClient {
  readonly #send: (to: number, frame: Uint8Array) => void;
  readonly #clientId: number;
  readonly #keys: readonly NodeAuthPublicKey[];
  readonly #f: number;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  invalidReplies = 0;

  constructor(o: { send: (to: number, frame: Uint8Array) => void; clientId: number; executionKeys: readonly NodeAuthPublicKey[]; f: number; timeoutMs?: number }) {
    this.#send = o.send;
    this.#clientId = o.clientId;
    this.#keys = o.executionKeys;
    this.#f = o.f;
    this.#timeoutMs = o.timeoutMs ?? 5_000;
  }

  read(query: ReadQuery, blockNumber: number): Promise<ReadResult> {
    const id = this.#nextId++;
    const frame = encodeMessage({ type: 'ReadRequest', id, blockNumber, query });
    return new Promise<ReadResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new BulwarkError('CLIENT_READ_TIMEOUT', `no f + 1 matching answers to read ${id} at block ${blockNumber}`));
      }, this.#timeoutMs);
      this.#pending.set(id, { blockNumber, queryDigest: sha256(encodeReadQuery(query)), votes: new Map(), resolve, timer });
      for (let r = 0; r < this.#keys.length; r++) this.#send(r, frame);
    });
  }

  onMessage(from: number, m: Message): void {
    if (m.type !== 'ReadReply') return;
    const p = this.#pending.get(m.id);
    if (p === undefined || m.blockNumber !== p.blockNumber) return;
    if (!this.#valid(from, m, p)) {
      this.invalidReplies++;
      return;
    }
    const key = `${m.ok ? 1 : 0}:${Buffer.from(m.blockHash).toString('hex')}:${Buffer.from(sha256(m.result)).toString('hex')}`;
    let who = p.votes.get(key);
    if (who === undefined) p.votes.set(key, (who = new Set()));
    who.add(from);
    if (who.size < this.#f + 1) return;
    clearTimeout(p.timer);
    this.#pending.delete(m.id);
    p.resolve({ ok: m.ok, result: m.result, blockHash: m.blockHash });
  }

  #valid(from: number, m: ReadReply, p: Pending): boolean {
    const pk = this.#keys[from];
    if (pk === undefined) return false;
    const bytes = readReplyBytes(this.#clientId, m.id, p.queryDigest, m.blockNumber, m.blockHash, m.ok, sha256(m.result));
    return verifyNodeAuth(pk, bytes, m.signature);
  }

  close(): void {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#pending.clear();
  }
}
