/**
 * Who may talk to whom, and who a connection is. A peer's identity is the node whose pinned
 * certificate it presented, byte for byte; the link kind it asked for (ALPN) must match that node's
 * role. Nothing the peer sends later can change either.
 *
 * Links: every pair of replicas, and every client node with every replica; client nodes do not talk
 * to each other. One link per pair: the higher id dials the lower. Replica ids are below client ids,
 * so client nodes dial replicas and never listen.
 */
import { createHash } from 'node:crypto';
import { equalBytes } from '../common/bytes.ts';
import type { TlsNode } from './tls-options.ts';
import type { NodeRole } from './transport.ts';

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

export class PinSet {
  private readonly byDigest = new Map<string, TlsNode>();

  constructor(nodes: readonly TlsNode[]) {
    for (const node of nodes) this.byDigest.set(digest(node.certificate), node);
  }

  /** The node whose pinned certificate is exactly `der`, if any. */
  lookup(der: Uint8Array | undefined): TlsNode | undefined {
    if (der === undefined || der.length === 0) return undefined;
    const node = this.byDigest.get(digest(der));
    // The digest only finds the candidate; the pin is the bytes themselves.
    return node !== undefined && equalBytes(node.certificate, der) ? node : undefined;
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

function digest(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}
