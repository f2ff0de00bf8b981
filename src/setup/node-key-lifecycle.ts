/**
 * A node's side of execution, authentication and TLS key rotation (`consensus/node-keys.ts`),
 * shared by replicas and client nodes:
 *
 *  - `nextPublication`: when the operator asked this node for a new key epoch, generate the key
 *    (durably, `NodeKeyStorage`) and make its publication, possessed by the new key and endorsed by
 *    the old one; the caller sends it through consensus in a request of its own;
 *  - `sync`: pin every peer's TLS certificates as the key history says at this node's position
 *    (`NodeKeyBook.tlsPins`), and present this node's own certificate: a replica the one in effect
 *    there, a client node its newest published one;
 *  - `retire`: erase the private keys older than the one in effect at the stable checkpoint.
 *
 * The caller tells it where it stands (executed and stable sequence numbers): a replica from its
 * state machine, a client node from what f + 1 replicas report.
 */
import type { Logger } from 'pino';
import type { NodeAuthPrivateKey, NodeAuthPublicKey } from '../crypto/node-auth.ts';
import { DEFAULT_MAX_INTRODUCTION_RECORDS, encodeTlsIntroduction, signNodeKeyPublication } from '../consensus/node-key-scheme.ts';
import { kindsFor, slotName, type NodeKeyBook } from '../consensus/node-keys.ts';
import { encodeNodeKeyPublication } from '../codec/key-requests.ts';
import type { NodeKeyKind } from '../codec/reserved-pages.ts';
import type { IntroductionLimits } from '../net/tls-options.ts';
import type { TlsTransport } from '../net/tls-transport.ts';
import type { HeldNodeKey, NodeKeyStorage, TlsSubject } from './node-key-store.ts';
import { tlsIntroductionProblem } from './tls-introduction.ts';

/** A held key in the form signing takes (a TLS key signs with ECDSA P-384). */
export function signingKeyOf(k: HeldNodeKey): NodeAuthPrivateKey {
  return k.kind === 'tls' ? { algorithm: 'p384', type: 'private', key: k.privateKey } : k.privateKey;
}

/**
 * The transport options that let peers who missed TLS rotations accept this node's certificate,
 * and this node accept theirs: its own introduction (its newest `maxRecords` TLS records, each
 * endorsed by the key before), and the check of a peer's against the records this node has from
 * consensus (`tlsIntroductionProblem`; true, or why not). A peer more than `maxRecords` rotations
 * ahead of what this node knows cannot be introduced: it waits for the node to catch up.
 */
export function tlsIntroductions(book: NodeKeyBook<NodeAuthPublicKey>, self: number) {
  return {
    introduction: (limits?: IntroductionLimits) => {
      const records = book.history('tls', self).slice(-(limits?.maxRecords ?? DEFAULT_MAX_INTRODUCTION_RECORDS));
      return records.length === 0 ? null : encodeTlsIntroduction(records);
    },
    introduce: (node: number, presented: Uint8Array, _pinned: readonly Uint8Array[], introduction: Uint8Array, limits?: IntroductionLimits) =>
      tlsIntroductionProblem(book, node, presented, introduction, limits?.maxRecords ?? DEFAULT_MAX_INTRODUCTION_RECORDS) ?? true,
  };
}

export interface NodeKeyLifecycleParts {
  readonly id: number;
  readonly role: 'replica' | 'client';
  /** Where this node's keys are kept: `NodeKeyStore` (key files) in production. */
  readonly store: NodeKeyStorage;
  /** The key history (records only are read here). */
  readonly book: NodeKeyBook<unknown>;
  /** The TLS pins and the identity this node presents: `TlsTransport`'s, in production. */
  readonly transport: Pick<TlsTransport, 'setPins' | 'setIdentity'>;
  /** Every node id of the network (their TLS pins follow the book). */
  readonly nodes: readonly number[];
  readonly tlsSubject: TlsSubject;
  readonly log: Logger;
}

export interface NodeKeyPublicationDraft {
  readonly kind: NodeKeyKind;
  readonly epoch: number;
  readonly key: HeldNodeKey;
  /** The request payload (`encodeNodeKeyPublication`). */
  readonly payload: Uint8Array;
}

export class NodeKeyLifecycle {
  readonly #p: NodeKeyLifecycleParts;
  /** The book's state the pins were last set for (cheap check after every step). */
  #pinned = '';
  /** The epoch of the TLS certificate this node presents. */
  #presented: number;

  constructor(parts: NodeKeyLifecycleParts, presentedTlsEpoch: number) {
    this.#p = parts;
    this.#presented = presentedTlsEpoch;
  }

  get presentedTlsEpoch(): number {
    return this.#presented;
  }

  /** The kinds for which the operator asked for an epoch this node has not published. */
  due(targets: ReadonlyMap<string, number>): NodeKeyKind[] {
    const { book, id, role } = this.#p;
    return kindsFor(role).filter((kind) => (book.latest(kind, id)?.epoch ?? 0) < (targets.get(slotName(kind, id)) ?? 0));
  }

  /**
   * The publication of the next key of the first kind due whose current key is in effect at
   * `nextSeq` (the state machine refuses one published before), generated now or found on disk
   * from before a crash; null when none is due.
   */
  async nextPublication(targets: ReadonlyMap<string, number>, nextSeq: number): Promise<NodeKeyPublicationDraft | null> {
    const { book, id, store, log } = this.#p;
    for (const kind of this.due(targets)) {
      const current = book.latest(kind, id)!;
      if (current.effectiveSeq > nextSeq) continue;
      const previous = store.key(kind, current.epoch);
      if (previous === undefined) {
        log.error({ kind, epoch: current.epoch }, 'cannot rotate: the private key in effect is not on disk, so it cannot endorse the next one');
        continue;
      }
      const epoch = current.epoch + 1;
      const key = await store.generate(kind, epoch, kind === 'tls' ? this.#p.tlsSubject : undefined);
      const publication = signNodeKeyPublication({ kind, node: id, epoch, publicKey: key.publicKey }, signingKeyOf(key), signingKeyOf(previous));
      log.info({ kind, epoch, created: key.created, path: key.path }, `${kind} key generated; publishing it`);
      return { kind, epoch, key, payload: encodeNodeKeyPublication(publication) };
    }
    return null;
  }

  /**
   * Pins every node's TLS certificates for position (`executed`, `stable`) and presents this
   * node's certificate in effect there; does nothing when nothing changed since the last call.
   */
  sync(executed: number, stable: number): void {
    const { book, id, nodes, transport, store, log } = this.#p;
    const last = book.lastSwitch;
    const state = `${last}|${book.publishedCount}|${executed + 1 >= last}|${stable >= last}`;
    if (state === this.#pinned) return;
    this.#pinned = state;
    try {
      for (const node of nodes) {
        const pins = book.tlsPins(node, executed, stable);
        if (node !== id && pins.length > 0) transport.setPins(node, pins);
      }
      // A replica switches at the agreed sequence number. A client node switches as soon as its
      // publication is known: replicas accept the new certificate from then on and stop accepting
      // the old one once their stable checkpoint is past the switch, which a client node — learning
      // where the replicas stand from their status answers — could otherwise miss, and be shut out.
      const epoch = (this.#p.role === 'client' ? book.latest('tls', id) : book.recordAt('tls', id, executed + 1))?.epoch ?? 0;
      const own = book.tlsPins(id, executed, stable);
      const presented = store.key('tls', this.#presented);
      if (epoch !== this.#presented) {
        const key = store.key('tls', epoch);
        if (key === undefined) {
          log.error({ epoch }, 'the TLS key in effect is not on disk: presenting the previous certificate');
        } else {
          // The transport presents only a pinned certificate: both, for the moment of the switch.
          transport.setPins(id, [...own, ...(presented === undefined ? [] : [presented.publicKey])]);
          transport.setIdentity(key.certificatePem, key.privateKey);
          log.info({ epoch, previous: this.#presented }, 'TLS certificate switched; links re-established under it');
          this.#presented = epoch;
        }
      }
      const current = store.key('tls', this.#presented);
      const keep = current !== undefined && !own.some((p) => Buffer.compare(p, current.publicKey) === 0) ? [current.publicKey] : [];
      transport.setPins(id, [...own, ...keep]);
    } catch (err) {
      // A pin set the transport refuses leaves the previous one: logged, never fatal.
      log.error({ err }, 'TLS pins or certificate not changed');
    }
  }

  /** Whether any private key older than the one in effect at `stable + 1` is still held. */
  retireDue(stable: number): boolean {
    return kindsFor(this.#p.role).some((kind) => this.#p.store.epochs(kind).some((e) => e < this.#keepFrom(kind, stable)));
  }

  /** The oldest epoch of `kind` still needed at `stable`; the TLS certificate presented stays until the switch happened. */
  #keepFrom(kind: NodeKeyKind, stable: number): number {
    const inEffect = this.#p.book.recordAt(kind, this.#p.id, stable + 1)?.epoch ?? 0;
    return kind === 'tls' ? Math.min(inEffect, this.#presented) : inEffect;
  }

  /** Erases those keys (overwritten, then removed), logging each; `forget` drops one from memory first. */
  async retire(stable: number, forget: (kind: NodeKeyKind, epoch: number) => void = () => undefined): Promise<void> {
    const { store, role, log } = this.#p;
    for (const kind of kindsFor(role)) {
      const keep = this.#keepFrom(kind, stable);
      for (const epoch of store.epochs(kind)) {
        if (epoch >= keep) continue;
        forget(kind, epoch);
        const retired = await store.retire(kind, epoch);
        log.info({ kind, epoch, inEffect: keep, path: retired.path, bytes: retired.bytes, erased: retired.erased }, `retired ${kind} key deleted (overwritten, then removed)`);
      }
    }
  }
}
