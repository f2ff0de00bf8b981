/**
 * The other keys over time (issue #7, ARCHITECTURE "Keys" step 4): a replica's execution key
 * (replies, block notices, read answers, status), a client node's authentication key (its
 * requests), and every node's TLS certificate. Each rotates on the operator's command
 * (`operator.ts`) through the same flow as consensus keys (`keys.ts`):
 *
 *  1. the node generates the next key and publishes it in a request of its own — a replica's
 *     signed with its consensus key, a client node's with its authentication key — carrying a
 *     proof of possession (the new key's signature over the statement) and an endorsement (the
 *     previous key's signature over the same statement);
 *  2. the state machine executes it deterministically (the operator asked for that epoch, it is
 *     the next one, the previous key is in effect, both signatures hold) and records it in the
 *     reserved pages (prefix `nodeKeyTable`), covered by the checkpoint digest;
 *  3. it takes effect at the same agreed sequence number as a consensus key published there
 *     (`effectiveSeqFor`): every replica that checks anything signed at or after it has executed
 *     the publication;
 *  4. the node erases the retired private key once the new one is in effect.
 *
 * The endorsement chains every key to the one in the network file: a client node that missed a
 * rotation can check a record it is shown against the key it knows, before it counts the f + 1
 * replicas reporting it.
 */
import { ENDORSEMENT_DOMAIN, POSSESSION_DOMAIN, nodeKeySigningBytes, nodeKeyStatement, type NodeKeyPublication } from '../codec/key-requests.ts';
import type { NodeKeyKind, NodeKeyRecord } from '../codec/reserved-pages.ts';

export const NODE_KEY_KINDS: readonly NodeKeyKind[] = ['execution', 'auth', 'tls'];

/** Which kinds a node of each role holds. */
export function kindsFor(role: 'replica' | 'client'): readonly NodeKeyKind[] {
  return role === 'replica' ? ['execution', 'tls'] : ['auth', 'tls'];
}

/** The name of a (kind, node) pair in maps: operator targets, books. */
export function slotName(kind: NodeKeyKind, node: number): string {
  return `${kind}:${node}`;
}

export function parseSlotName(name: string): { kind: NodeKeyKind; node: number } {
  const [kind, node] = name.split(':');
  return { kind: kind as NodeKeyKind, node: Number(node) };
}

/** How a book reads and checks keys: real (Ed25519, P-384 certificates) or the simulator's. */
export interface NodeKeyScheme<K> {
  /** The key a record's bytes carry, or null if they are not a valid key of that kind. */
  parse(kind: NodeKeyKind, publicKey: Uint8Array): K | null;
  verify(kind: NodeKeyKind, key: K, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Every node's keys of every kind by epoch, and which is in effect at a sequence number. */
export class NodeKeyBook<K> {
  readonly #scheme: NodeKeyScheme<K>;
  readonly #keys = new Map<string, { record: NodeKeyRecord; key: K }[]>();
  #lastSwitch = 0;
  #published = 0;

  /** `initial`: the epoch-0 keys of the network file (trusted, not re-checked). */
  constructor(scheme: NodeKeyScheme<K>, initial: readonly { kind: NodeKeyKind; node: number; publicKey: Uint8Array; key: K }[]) {
    this.#scheme = scheme;
    for (const i of initial) {
      const record: NodeKeyRecord = { ...i, epoch: 0, effectiveSeq: 0, publishedSeq: 0, possession: new Uint8Array(), endorsement: new Uint8Array() };
      this.#keys.set(slotName(i.kind, i.node), [{ record, key: i.key }]);
    }
  }

  /** The highest sequence number at which any key took or takes effect (0: none published). */
  get lastSwitch(): number {
    return this.#lastSwitch;
  }

  /** How many records were published (epoch ≥ 1): a cheap change counter. */
  get publishedCount(): number {
    return this.#published;
  }

  has(kind: NodeKeyKind, node: number): boolean {
    return this.#keys.has(slotName(kind, node));
  }

  latest(kind: NodeKeyKind, node: number): NodeKeyRecord | undefined {
    const list = this.#keys.get(slotName(kind, node));
    return list?.[list.length - 1]!.record;
  }

  /** The key of `node` in effect at `seq`. */
  keyAt(kind: NodeKeyKind, node: number, seq: number): K | undefined {
    return this.#entryAt(kind, node, seq)?.key;
  }

  recordAt(kind: NodeKeyKind, node: number, seq: number): NodeKeyRecord | undefined {
    return this.#entryAt(kind, node, seq)?.record;
  }

  /** Every key of `node` of that kind, newest first (for messages not tied to a sequence number). */
  keysNewestFirst(kind: NodeKeyKind, node: number): K[] {
    return (this.#keys.get(slotName(kind, node)) ?? []).map((e) => e.key).reverse();
  }

  /**
   * The keys a signature over something at `seq` may be made with: the one in effect there, and —
   * for `grace` sequence numbers after a switch — the one before it (a client node's requests signed
   * just before it learnt of the switch are still ordered, not lost).
   */
  keysFor(kind: NodeKeyKind, node: number, seq: number, grace: number): K[] {
    const list = this.#keys.get(slotName(kind, node));
    if (list === undefined) return [];
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i]!;
      if (e.record.effectiveSeq > seq) continue;
      return i > 0 && seq < e.record.effectiveSeq + grace ? [e.key, list[i - 1]!.key] : [e.key];
    }
    return [];
  }

  /**
   * Why the record cannot follow the node's latest key — not the next epoch, not a valid key, a
   * possession or endorsement signature that does not hold — or null if it can.
   */
  problem(record: NodeKeyPublication): string | null {
    const list = this.#keys.get(slotName(record.kind, record.node));
    if (list === undefined) return `node ${record.node} has no ${record.kind} key`;
    const last = list[list.length - 1]!;
    if (record.epoch !== last.record.epoch + 1) return `epoch ${record.epoch} is not the next one (${last.record.epoch + 1})`;
    const key = this.#scheme.parse(record.kind, record.publicKey);
    if (key === null) return `not a valid ${record.kind} key`;
    const statement = nodeKeyStatement(record);
    if (!this.#scheme.verify(record.kind, key, nodeKeySigningBytes(POSSESSION_DOMAIN, statement), record.possession)) return 'invalid proof of possession';
    if (!this.#scheme.verify(record.kind, last.key, nodeKeySigningBytes(ENDORSEMENT_DOMAIN, statement), record.endorsement)) {
      return `not endorsed by ${record.kind} key epoch ${last.record.epoch}`;
    }
    return null;
  }

  /** Adds a record already checked (`problem` null) or restored; one already known is ignored. */
  add(record: NodeKeyRecord): boolean {
    const list = this.#keys.get(slotName(record.kind, record.node));
    if (list === undefined) return false;
    const last = list[list.length - 1]!;
    if (record.epoch <= last.record.epoch) return true;
    if (record.epoch !== last.record.epoch + 1 || record.effectiveSeq <= last.record.effectiveSeq) return false;
    const key = this.#scheme.parse(record.kind, record.publicKey);
    if (key === null) return false;
    list.push({ record, key });
    this.#lastSwitch = Math.max(this.#lastSwitch, record.effectiveSeq);
    this.#published++;
    return true;
  }

  /**
   * The TLS certificates (DER) to accept from `node` when this side has executed up to `executed`
   * and its stable checkpoint is `stable`: the one in effect; a newer one already published (the
   * node may be ahead and present it); the one before it until the stable checkpoint is past the
   * switch (the node may be behind and present that one still).
   */
  tlsPins(node: number, executed: number, stable: number): Uint8Array[] {
    const list = this.#keys.get(slotName('tls', node));
    if (list === undefined) return [];
    const at = this.recordAt('tls', node, executed + 1)!;
    const pins = [at.publicKey];
    const latest = list[list.length - 1]!.record;
    if (latest.epoch > at.epoch) pins.push(latest.publicKey);
    if (at.epoch > 0 && at.effectiveSeq > stable) pins.push(list[at.epoch - 1]!.record.publicKey);
    return pins;
  }

  /** The published records (epoch ≥ 1) of one node's keys of one kind, oldest first. */
  history(kind: NodeKeyKind, node: number): NodeKeyRecord[] {
    return (this.#keys.get(slotName(kind, node)) ?? []).slice(1).map((e) => e.record);
  }

  /** Every published record (epoch ≥ 1). */
  published(): NodeKeyRecord[] {
    return [...this.#keys.values()].flatMap((list) => list.slice(1).map((e) => e.record));
  }

  #entryAt(kind: NodeKeyKind, node: number, seq: number): { record: NodeKeyRecord; key: K } | undefined {
    const list = this.#keys.get(slotName(kind, node));
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i > 0; i--) if (list[i]!.record.effectiveSeq <= seq) return list[i]!;
    return list[0];
  }
}
