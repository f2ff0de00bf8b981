/**
 * One simulated replica: the real state machine, a durable store that survives crashes (the folded
 * write-ahead records, the ledger of committed batches, the application's state), and the shell
 * that carries out the machine's outputs over a simulated transport.
 */
import { decodeMessage, encodeMessage } from '../../../src/codec/message-codec.ts';
import type { ClientRequest, Message, ReplicaMessage } from '../../../src/codec/messages.ts';
import { requestSigningBytes } from '../../../src/codec/signing.ts';
import { encodeKeyExchange } from '../../../src/consensus/keys.ts';
import type { ConsensusConfig } from '../../../src/consensus/config.ts';
import type { SimNodeCrypto } from './sim-crypto.ts';
import type { Input, Output } from '../../../src/consensus/io.ts';
import { emptyPersisted, foldRecords, type PersistedConsensus, type PersistRecord } from '../../../src/consensus/records.ts';
import { restoreReplica, step } from '../../../src/consensus/replica.ts';
import type { ReplicaState } from '../../../src/consensus/state.ts';
import type { SimTransport } from '../../../src/net/sim-transport.ts';
import { FakeApp } from './fake-app.ts';
import type { EventQueue } from './queue.ts';

export type Sent = { to: readonly number[]; message: Extract<Output, { kind: 'send' }>['message'] };

/** A Byzantine behaviour: rewrites what an otherwise honest replica sends. */
export interface Behaviour {
  readonly name: string;
  onSend(node: SimReplica, sent: Sent): Sent[];
}

export interface NodeObserver {
  persisted(node: SimReplica, records: readonly PersistRecord[]): void;
  executed(node: SimReplica, seq: number, summaryKey: string): void;
  fatal(node: SimReplica, reason: string): void;
  rejected(node: SimReplica, out: Extract<Output, { kind: 'reject' }>): void;
  event(node: SimReplica, detail: Extract<Output, { kind: 'event' }>['detail']): void;
}

export class SimReplica {
  readonly id: number;
  /** Twins and decorated replicas are faulty: the checkers ignore what they do. */
  readonly honest: boolean;
  readonly label: string;
  readonly behaviours: Behaviour[];
  state: ReplicaState | null = null;
  persisted: PersistedConsensus = emptyPersisted();
  readonly ledger = new Map<number, Extract<PersistRecord, { kind: 'committed' }>>();
  readonly app = new FakeApp();
  incarnation = 0;
  readonly #ticks = new Set<number>();
  readonly events: string[] = [];
  readonly #q: EventQueue;
  readonly #transport: SimTransport;
  readonly #cfg: ConsensusConfig;
  readonly crypto: SimNodeCrypto;
  readonly #observer: NodeObserver;
  readonly #clock: () => number;
  readonly #executionMs: number;
  mutateState: ((s: ReplicaState) => void) | null = null;
  /** Makes this replica's next consensus key (the registry's; a real replica generates and stores one). */
  readonly #newKey: ((epoch: number) => { publicKey: Uint8Array; proofOfPossession: Uint8Array }) | null;
  /** The key exchange this replica is waiting on: its request, and when it last sent it. */
  #exchange: { request: ClientRequest; sentAt: number } | null = null;
  /** Epochs whose private keys this replica deleted, in order (for the tests). */
  readonly retired: number[] = [];
  /** Rewrites this replica's key-exchange requests (Byzantine shells: bad proofs, replays). */
  tamperExchange: ((request: Omit<ClientRequest, 'signature'>) => Omit<ClientRequest, 'signature'>) | null = null;
  /** When set, every `persist` output is appended here, in order (store round-trip tests). */
  recordLog: (readonly PersistRecord[])[] | null = null;

  constructor(o: {
    id: number;
    label: string;
    honest: boolean;
    behaviours: Behaviour[];
    queue: EventQueue;
    transport: SimTransport;
    cfg: ConsensusConfig;
    crypto: SimNodeCrypto;
    observer: NodeObserver;
    clock: () => number;
    /** How long each execution takes, in simulated ms (default 0). */
    executionMs?: number;
    newKey?: (epoch: number) => { publicKey: Uint8Array; proofOfPossession: Uint8Array };
  }) {
    this.id = o.id;
    this.label = o.label;
    this.honest = o.honest;
    this.behaviours = o.behaviours;
    this.#q = o.queue;
    this.#transport = o.transport;
    this.#cfg = o.cfg;
    this.crypto = o.crypto;
    this.#observer = o.observer;
    this.#clock = o.clock;
    this.#executionMs = o.executionMs ?? 0;
    this.#newKey = o.newKey ?? null;
    this.#transport.onFrame((from, frame) => this.#onFrame(from, frame));
  }

  get alive(): boolean {
    return this.state !== null;
  }

  start(): void {
    this.incarnation++;
    this.#ticks.clear();
    this.state = restoreReplica({
      cfg: this.#cfg,
      id: this.id,
      crypto: this.crypto,
      now: this.#clock(),
      persisted: structuredClonePersisted(this.persisted),
      app: this.app.state,
    });
    this.mutateState?.(this.state);
    this.#exchange = null;
    this.#transport.open();
    this.feed({ kind: 'tick', now: this.#clock() });
  }

  /**
   * What the replica process does about its keys after each step: while it is still on its
   * bootstrap key, make the next key (kept across crashes, like a key file) and publish it
   * through consensus, again every second until executed; and delete every private key whose
   * successor is in effect from the stable checkpoint on.
   */
  #keys(): void {
    const s = this.state;
    if (s === null || !s.cfg.keyExchange || this.#newKey === null) return;
    const latest = this.crypto.latestKey(this.id).epoch;
    const target = Math.max(1, s.operator.targets.get(this.id) ?? 0);
    const next = latest + 1;
    if (latest < target && this.crypto.keyAt(this.id, s.lastExecuted + 1).epoch === latest) {
      const now = this.#clock();
      if (this.#exchange === null || this.#exchange.request.requestSeq !== next) {
        const key = this.#newKey(next);
        this.crypto.addSecret(next);
        let unsigned: Omit<ClientRequest, 'signature'> = { clientId: this.id, requestSeq: next, flags: 0, payload: encodeKeyExchange({ epoch: next, ...key }) };
        if (this.tamperExchange !== null) unsigned = this.tamperExchange(unsigned);
        const request = { ...unsigned, signature: this.crypto.signRequest(requestSigningBytes(unsigned), s.lastExecuted + 1) };
        this.#exchange = { request, sentAt: -Infinity };
      }
      if (now - this.#exchange.sentAt >= 1_000) {
        this.#exchange.sentAt = now;
        this.feed({ kind: 'message', from: this.id, message: { type: 'Request', request: this.#exchange.request }, now });
      }
    }
    const inEffect = this.crypto.keyAt(this.id, s.lastStable + 1).epoch;
    for (const epoch of this.crypto.secretEpochs()) {
      if (epoch < inEffect) {
        this.crypto.forgetSecret(epoch);
        this.retired.push(epoch);
      }
    }
  }

  /** Everything not in the durable store is lost. */
  crash(): void {
    this.state = null;
    this.incarnation++;
    this.#transport.shut();
  }

  #onFrame(from: number, frame: Uint8Array): void {
    let message: Message;
    try {
      message = decodeMessage(frame);
    } catch {
      this.events.push(`undecodable frame from ${from}`);
      return;
    }
    this.feed({ kind: 'message', from, message, now: this.#clock() });
  }

  feed(input: Input): void {
    if (this.state === null) return;
    const { outputs, wakeAt } = step(this.state, input);
    this.#carryOut(outputs);
    if (wakeAt !== null) this.#scheduleTick(wakeAt);
    if (!this.#inKeys) {
      this.#inKeys = true;
      try {
        this.#keys();
      } finally {
        this.#inKeys = false;
      }
    }
  }

  #inKeys = false;

  #scheduleTick(at: number): void {
    const simAt = at - (this.#clock() - this.#q.now);
    if (this.#ticks.has(simAt)) return;
    this.#ticks.add(simAt);
    const inc = this.incarnation;
    this.#q.at(simAt, () => {
      this.#ticks.delete(simAt);
      if (this.incarnation === inc) this.feed({ kind: 'tick', now: this.#clock() });
    });
  }

  #carryOut(outputs: readonly Output[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case 'send':
          this.#send({ to: o.to, message: o.message });
          break;
        case 'persist':
          foldRecords(this.persisted, o.records);
          this.recordLog?.push(o.records);
          for (const r of o.records) if (r.kind === 'committed') this.ledger.set(r.seq, r);
          this.#observer.persisted(this, o.records);
          break;
        case 'execute': {
          const { summary, results } = this.app.execute(o.seq, o.timestamp, o.requests, o.keyRecords, o.internal, o.operator, o.nodeKeyRecords);
          this.#observer.executed(this, o.seq, summaryKey(summary));
          const inc = this.incarnation;
          this.#q.after(this.#executionMs, () => {
            if (this.incarnation === inc) this.feed({ kind: 'executed', seq: o.seq, summary, results, now: this.#clock() });
          });
          break;
        }
        case 'serve':
          for (let seq = o.fromSeq; seq <= o.toSeq; seq++) {
            const r = this.ledger.get(seq);
            if (r === undefined) break;
            this.#send({ to: [o.to], message: { type: 'CommittedBatch', seq, batch: r.batch, commit: r.commit } });
          }
          break;
        case 'reject':
          this.#observer.rejected(this, o);
          break;
        case 'event':
          if (this.events.length > 4000) this.events.splice(0, 2000);
          this.events.push(`${this.#q.now}: ${JSON.stringify(o.detail)}`);
          this.#observer.event(this, o.detail);
          break;
        case 'fatal':
          this.#observer.fatal(this, o.reason);
          break;
      }
    }
  }

  #send(sent: Sent): void {
    let all: Sent[] = [sent];
    for (const b of this.behaviours) all = all.flatMap((s) => b.onSend(this, s));
    for (const s of all) {
      const frame = encodeMessage(s.message as Message);
      for (const to of s.to) this.#transport.send(to, frame);
    }
  }

  /** Sends a message as this replica, bypassing its state machine (for decorators' replays). */
  inject(to: readonly number[], message: ReplicaMessage): void {
    const frame = encodeMessage(message);
    for (const t of to) this.#transport.send(t, frame);
  }
}

export function summaryKey(s: { blockNumber: number; blockHash: Uint8Array; stateRoot: Uint8Array; reservedDigest: Uint8Array }): string {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return `${s.blockNumber}/${hex(s.blockHash)}/${hex(s.stateRoot)}/${hex(s.reservedDigest)}`;
}

/** The machine mutates what it restores from; the store must not change with it. */
function structuredClonePersisted(p: PersistedConsensus): PersistedConsensus {
  return {
    ...p,
    votes: new Map(p.votes),
    prepared: new Map(p.prepared),
    commitVotes: new Map(p.commitVotes),
    committed: new Map(p.committed),
    replies: new Map(p.replies),
  };
}
