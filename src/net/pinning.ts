/**
 * Who may talk to whom, and who a connection is. A peer's identity is the node one of whose pinned
 * certificates it presented, byte for byte; the link kind it asked for (ALPN) must match that node's
 * role. Nothing the peer sends later can change either. A node may have several certificates pinned
 * (its old and new one while a rotation agreed through consensus is under way); the pins can be
 * replaced while the transport runs, and a certificate is only ever pinned for one node.
 *
 * Links: every pair of replicas, and every client node with every replica; client nodes do not talk
 * to each other. One link per pair: the higher id dials the lower. Replica ids are below client ids,
 * so client nodes dial replicas and never listen.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { equalBytes } from '../common/bytes.ts';
import { BulwarkError } from '../common/errors.ts';
import type { TlsNode } from './tls-options.ts';
import type { NodeId, NodeRole } from './transport.ts';

/** The ALPN protocol names the two kinds of link; the dialer offers exactly one. */
export const ALPN: Record<NodeRole, string> = { replica: 'bulwark-replica/1', client: 'bulwark-client/1' };

export function linked(a: TlsNode, b: TlsNode): boolean {
  return a.id !== b.id && (a.role === 'replica' || b.role === 'replica');
}

export function dials(self: TlsNode, peer: TlsNode): boolean {
  return linked(self, peer) && self.id > peer.id;
}

export type InboundVerdict =
  | { readonly ok: true; readonly node: TlsNode }
  | { readonly ok: false; readonly reason: 'no-certificate' | 'unknown-certificate'; readonly node?: undefined }
  | { readonly ok: false; readonly reason: 'wrong-role' | 'wrong-direction'; readonly node: TlsNode };

interface Pin {
  readonly node: TlsNode;
  readonly der: Uint8Array;
}

export class PinSet {
  private readonly byDigest = new Map<string, Pin>();
  private readonly nodes = new Map<NodeId, TlsNode>();
  private readonly digestsOf = new Map<NodeId, readonly string[]>();
  /** Per node, the digests of certificates pinned by an introduction and not yet by `replace`. */
  private readonly introducedOf = new Map<NodeId, ReadonlySet<string>>();

  /** Each node starts with the one certificate the node list pins (`checkNodes` made them unique). */
  constructor(nodes: readonly TlsNode[]) {
    for (const node of nodes) {
      const d = digest(node.certificate);
      this.nodes.set(node.id, node);
      this.byDigest.set(d, { node, der: node.certificate });
      this.digestsOf.set(node.id, [d]);
    }
  }

  /** The node one of whose pinned certificates is exactly `der`, if any. */
  lookup(der: Uint8Array | undefined): TlsNode | undefined {
    if (der === undefined || der.length === 0) return undefined;
    const pin = this.byDigest.get(digest(der));
    // The digest only finds the candidate; the pin is the bytes themselves.
    return pin !== undefined && equalBytes(pin.der, der) ? pin.node : undefined;
  }

  /** The node with id `id`, if the network has one. */
  node(id: NodeId): TlsNode | undefined {
    return this.nodes.get(id);
  }

  /** Whether `der` is currently pinned for node `id`. */
  isPinned(id: NodeId, der: Uint8Array | undefined): boolean {
    return this.lookup(der)?.id === id;
  }

  /** The certificates currently pinned for node `id` (DER), in the order they were given. */
  certificates(id: NodeId): readonly Uint8Array[] {
    return (this.digestsOf.get(id) ?? []).map((d) => this.byDigest.get(d)!.der);
  }

  /**
   * Pins exactly `certificates` for node `id`, all or nothing, plus the certificates an introduction
   * pinned for it that no `replace` has named yet (see `introduce`). Refused (NET_IDENTITY_INVALID)
   * for an unknown node, an empty list or an empty certificate, and for a certificate pinned for
   * another node: one certificate identifying two nodes would let one of them act as the other.
   */
  replace(id: NodeId, certificates: readonly Uint8Array[]): void {
    const refuse = (why: string): BulwarkError =>
      new BulwarkError('NET_IDENTITY_INVALID', `cannot pin these certificates for node ${id}: ${why}`, { node: id });
    const node = this.nodes.get(id);
    if (node === undefined) throw refuse('no such node');
    if (certificates.length === 0) throw refuse('a node needs at least one pinned certificate');
    const next = new Map<string, Pin>();
    for (const certificate of certificates) {
      if (certificate.length === 0) throw refuse('an empty certificate');
      const owner = this.lookup(certificate);
      if (owner !== undefined && owner.id !== id) throw refuse(`a certificate is pinned for node ${owner.id}`);
      // A copy: the caller's buffer may be reused, the pin must not change with it.
      next.set(digest(certificate), { node, der: Uint8Array.from(certificate) });
    }
    // An introduced certificate the caller has not named stays; one it named is the caller's from now on.
    const introduced = new Set<string>();
    for (const d of this.introducedOf.get(id) ?? []) {
      if (next.has(d)) continue;
      introduced.add(d);
      next.set(d, this.byDigest.get(d)!);
    }
    for (const d of this.digestsOf.get(id) ?? []) this.byDigest.delete(d);
    for (const [d, pin] of next) this.byDigest.set(d, pin);
    this.digestsOf.set(id, [...next.keys()]);
    this.introducedOf.set(id, introduced);
  }

  /**
   * Pins `certificate` for node `id` as well, on the strength of an introduction: it stays pinned
   * through `replace` calls that do not name it, until one does (from then on `replace` treats it
   * like any other pin). Refused (NET_IDENTITY_INVALID) for an unknown node, an empty certificate and
   * one pinned for another node; a certificate already pinned for `id` is left as it is.
   */
  introduce(id: NodeId, certificate: Uint8Array): void {
    const refuse = (why: string): BulwarkError =>
      new BulwarkError('NET_IDENTITY_INVALID', `cannot pin an introduced certificate for node ${id}: ${why}`, { node: id });
    const node = this.nodes.get(id);
    if (node === undefined) throw refuse('no such node');
    if (certificate.length === 0) throw refuse('an empty certificate');
    const owner = this.lookup(certificate);
    if (owner !== undefined) {
      if (owner.id !== id) throw refuse(`the certificate is pinned for node ${owner.id}`);
      return;
    }
    const d = digest(certificate);
    this.byDigest.set(d, { node, der: Uint8Array.from(certificate) });
    this.digestsOf.set(id, [...(this.digestsOf.get(id) ?? []), d]);
    this.introducedOf.set(id, new Set([...(this.introducedOf.get(id) ?? []), d]));
  }

  /** Whether `der` is pinned for node `id` by an introduction that no `replace` has named yet. */
  isIntroduced(id: NodeId, der: Uint8Array): boolean {
    return this.isPinned(id, der) && (this.introducedOf.get(id)?.has(digest(der)) ?? false);
  }

  /**
   * Why a certificate not pinned for anyone cannot be introduced as node `id`'s, if it cannot: its
   * public key or its subject is that of a certificate pinned for another node (a node holding
   * another's key, or a look-alike of another's name). Cheap: one parse of `der`, pins parsed once.
   */
  claimedElsewhere(id: NodeId, der: Uint8Array): string | null {
    const presented = factsOf(der);
    if (presented === null) return 'not a certificate';
    for (const pin of this.byDigest.values()) {
      if (pin.node.id === id) continue;
      const facts = factsOf(pin.der);
      if (facts === null) continue;
      if (facts.publicKey === presented.publicKey) return `its public key is node ${pin.node.id}'s`;
      if (facts.subject === presented.subject) return `its subject is node ${pin.node.id}'s (${facts.subject})`;
    }
    return null;
  }

  /** Checks an authenticated inbound connection on a listening node (always a replica). */
  judgeInbound(self: TlsNode, der: Uint8Array | undefined, alpn: string | false | null): InboundVerdict {
    if (der === undefined || der.length === 0) return { ok: false, reason: 'no-certificate' };
    const node = this.lookup(der);
    if (node === undefined) return { ok: false, reason: 'unknown-certificate' };
    // A client certificate may only open a client link, a replica certificate only a replica link.
    if (alpn !== ALPN[node.role]) return { ok: false, reason: 'wrong-role', node };
    if (!dials(node, self)) return { ok: false, reason: 'wrong-direction', node };
    return { ok: true, node };
  }
}

interface CertificateFacts {
  /** SubjectPublicKeyInfo DER, hex. */
  readonly publicKey: string;
  readonly subject: string;
}

/** Pins are kept as they are, so their facts are computed once per pinned buffer. */
const facts = new WeakMap<Uint8Array, CertificateFacts | null>();

function factsOf(der: Uint8Array): CertificateFacts | null {
  let f = facts.get(der);
  if (f !== undefined) return f;
  try {
    const x = new X509Certificate(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
    f = { publicKey: x.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'), subject: x.subject };
  } catch {
    f = null;
  }
  facts.set(der, f);
  return f;
}

function digest(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
