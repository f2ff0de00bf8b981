/**
 * Where each replica says it stands (view, view change under way, last executed and stable
 * sequence numbers, head block), for `bft_status`: asked of every replica at once, each answer
 * signed with that replica's execution key and checked here. A replica that does not answer in
 * time is reported as silent. Each answer is that replica's own account; the summary takes, for
 * each figure, the value that at least f + 1 replicas (so at least one honest one) report reaching.
 */
import { encodeMessage } from '../codec/message-codec.ts';
import type { Message, NodeStatus } from '../codec/messages.ts';
import { nodeStatusBytes } from '../codec/signing.ts';
import { executionKeys, type ExecutionKeys, type ExecutionKeysInput } from './execution-keys.ts';

export interface StatusRound {
  /** By replica id; null for a replica that did not answer in time. */
  readonly replicas: readonly (NodeStatus | null)[];
}

export class NodeStatusClient {
  readonly #send: (to: number, frame: Uint8Array) => void;
  readonly #clientId: number;
  readonly #keys: ExecutionKeys;
  #nextId = 1;
  readonly #rounds = new Map<number, { answers: (NodeStatus | null)[]; done: () => void }>();
  invalid = 0;

  constructor(o: { send: (to: number, frame: Uint8Array) => void; clientId: number; executionKeys: ExecutionKeysInput }) {
    this.#send = o.send;
    this.#clientId = o.clientId;
    this.#keys = executionKeys(o.executionKeys);
  }

  /** Asks every replica; resolves when all answered or after `timeoutMs`. */
  query(timeoutMs = 500): Promise<StatusRound> {
    const id = this.#nextId++;
    const answers: (NodeStatus | null)[] = Array.from({ length: this.#keys.n }, () => null);
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const rounds = this.#rounds;
      function done(): void {
        clearTimeout(timer);
        rounds.delete(id);
        resolve({ replicas: answers });
      }
      this.#rounds.set(id, { answers, done });
      const frame = encodeMessage({ type: 'NodeStatusRequest', id });
      for (let r = 0; r < this.#keys.n; r++) this.#send(r, frame);
    });
  }

  onMessage(from: number, m: Message): void {
    if (m.type !== 'NodeStatus') return;
    const round = this.#rounds.get(m.id);
    if (round === undefined || from < 0 || from >= this.#keys.n) return;
    if (!this.#keys.verify(from, nodeStatusBytes(this.#clientId, m), m.signature)) {
      this.invalid++;
      return;
    }
    round.answers[from] = m;
    if (round.answers.every((a) => a !== null)) round.done();
  }
}
