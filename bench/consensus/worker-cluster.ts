/**
 * The consensus benchmark's network: four replica threads connected pairwise by MessageChannels,
 * and the clients in the main thread (Ed25519-signed or link-authenticated requests to the
 * primary; a request completes on f + 1 replies whose execution signature verifies, checked once
 * per replica and batch).
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { decodeMessage, encodeMessage } from '../../src/codec/message-codec.ts';
import type { ClientRequest } from '../../src/codec/messages.ts';
import { replyBytes } from '../../src/codec/signing.ts';
import type { ConsensusCrypto } from '../../src/consensus/crypto.ts';
import { RealKeys } from '../../test/sim/harness/real-keys.ts';

export interface WorkerClusterOptions {
  readonly batch: number;
  readonly clients: number;
  readonly inFlightPerClient: number;
  readonly auth: 'signature' | 'link';
}

export class WorkerCluster {
  readonly n = 4;
  readonly #workers: Worker[] = [];
  readonly #ports: MessagePort[] = [];
  readonly #keys: RealKeys;
  readonly #verifier: ConsensusCrypto;
  readonly #opts: WorkerClusterOptions;
  readonly #sentAt = new Map<string, number>();
  readonly #replies = new Map<string, number>();
  readonly #verified = new Set<string>();
  readonly #nextSeq = new Map<number, number>();
  #pending: { clientId: number; frame: Uint8Array }[] = [];
  #flushScheduled = false;
  readonly latencies: number[] = [];
  completed = 0;

  constructor(opts: WorkerClusterOptions) {
    this.#opts = opts;
    this.#keys = new RealKeys(this.n, opts.clients, 1);
    this.#verifier = this.#keys.cryptoFor(0);
    for (let id = 0; id < this.n; id++) {
      this.#workers.push(
        new Worker(new URL('./replica-worker.mjs', import.meta.url), {
          workerData: { id, n: this.n, clients: opts.clients, batch: opts.batch, auth: opts.auth },
        }),
      );
    }
    for (let a = 0; a < this.n; a++) {
      for (let b = a + 1; b < this.n; b++) {
        const ch = new MessageChannel();
        this.#workers[a]!.postMessage({ kind: 'peer', id: b, port: ch.port1 }, [ch.port1]);
        this.#workers[b]!.postMessage({ kind: 'peer', id: a, port: ch.port2 }, [ch.port2]);
      }
      const ch = new MessageChannel();
      this.#workers[a]!.postMessage({ kind: 'clients', port: ch.port1 }, [ch.port1]);
      ch.port2.on('message', (box: { from: number; frames: Uint8Array[] }) => this.#onReplies(box));
      this.#ports.push(ch.port2);
    }
  }

  #submit(clientId: number): void {
    const requestSeq = (this.#nextSeq.get(clientId) ?? 0) + 1;
    this.#nextSeq.set(clientId, requestSeq);
    const unsigned = { clientId, requestSeq, flags: 0, payload: new Uint8Array(100).fill(requestSeq & 0xff) };
    const signature = this.#opts.auth === 'signature' ? this.#keys.signClientRequest(unsigned) : new Uint8Array(64);
    const r: ClientRequest = { ...unsigned, signature };
    this.#sentAt.set(`${clientId}:${requestSeq}`, performance.now());
    this.#pending.push({ clientId, frame: encodeMessage({ type: 'Request', request: r }) });
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flushRequests());
    }
  }

  /** All clients' frames of one turn in one message; `from` is per frame, so one box per client. */
  #flushRequests(): void {
    this.#flushScheduled = false;
    const byClient = new Map<number, Uint8Array[]>();
    for (const { clientId, frame } of this.#pending) {
      let list = byClient.get(clientId);
      if (list === undefined) byClient.set(clientId, (list = []));
      list.push(frame);
    }
    this.#pending = [];
    for (const [from, frames] of byClient) this.#ports[0]!.postMessage({ from, to: 0, frames });
  }

  #onReplies(box: { from: number; frames: Uint8Array[] }): void {
    for (const f of box.frames) {
      const m = decodeMessage(f);
      if (m.type !== 'Reply') continue;
      const batchKey = `${box.from}:${m.seq}`;
      if (!this.#verified.has(batchKey)) {
        if (!this.#verifier.verifyExecution(box.from, replyBytes(m.seq, m.summary, m.resultsRoot), m.signature, m.seq)) continue;
        this.#verified.add(batchKey);
      }
      for (const e of m.entries) this.#onResult(m.clientId, e.requestSeq);
    }
  }

  #onResult(clientId: number, requestSeq: number): void {
    const key = `${clientId}:${requestSeq}`;
    const sent = this.#sentAt.get(key);
    if (sent === undefined) return;
    const count = (this.#replies.get(key) ?? 0) + 1;
    if (count < 2) {
      this.#replies.set(key, count);
      return;
    }
    this.#replies.delete(key);
    this.#sentAt.delete(key);
    this.latencies.push(performance.now() - sent);
    this.completed++;
    this.#submit(clientId);
  }

  start(): void {
    for (let c = this.n; c < this.n + this.#opts.clients; c++) {
      for (let i = 0; i < this.#opts.inFlightPerClient; i++) this.#submit(c);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
