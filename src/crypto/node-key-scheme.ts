/**
 * The production `NodeKeyScheme` (`consensus/node-keys.ts`): execution and authentication keys are
 * Ed25519 (SubjectPublicKeyInfo DER); a TLS key is the P-384 key of a certificate (its DER), and
 * signs with ECDSA-SHA384 like every P-384 node key here. Anything malformed parses as null and
 * verifies as false; nothing throws on bad input.
 */
import { X509Certificate } from 'node:crypto';
import type { NodeKeyKind, NodeKeyScheme } from '../consensus/node-keys.ts';
import {
  ENDORSEMENT_DOMAIN,
  POSSESSION_DOMAIN,
  decodeNodeKeyRecord,
  encodeNodeKeyRecord,
  nodeKeySigningBytes,
  nodeKeyStatement,
  type NodeKeyPublication,
  type NodeKeyRecord,
} from '../consensus/node-keys.ts';
import { Reader, Writer } from '../codec/binary.ts';

const INTRODUCTION_TAG = new TextEncoder().encode('bulwark/tls-introduction/v1');
import { importNodeAuthPublicKey, signNodeAuth, verifyNodeAuth, type NodeAuthPrivateKey, type NodeAuthPublicKey } from './node-auth.ts';

export const nodeKeyScheme: NodeKeyScheme<NodeAuthPublicKey> = {
  parse(kind: NodeKeyKind, publicKey: Uint8Array): NodeAuthPublicKey | null {
    try {
      if (kind !== 'tls') return importNodeAuthPublicKey(publicKey, 'ed25519');
      const key = new X509Certificate(Buffer.from(publicKey)).publicKey;
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') return null;
      return { algorithm: 'p384', type: 'public', key };
    } catch {
      return null;
    }
  },
  verify: (_kind, key, message, signature) => verifyNodeAuth(key, message, signature),
};

/**
 * A publication of `publicKey` as `node`'s `kind` key `epoch`: signed by the new key (possession)
 * and the previous one (endorsement).
 */
export function signNodeKeyPublication(
  p: Pick<NodeKeyPublication, 'kind' | 'node' | 'epoch' | 'publicKey'>,
  newKey: NodeAuthPrivateKey,
  previousKey: NodeAuthPrivateKey,
): NodeKeyPublication {
  const statement = nodeKeyStatement(p);
  return {
    ...p,
    possession: signNodeAuth(newKey, nodeKeySigningBytes(POSSESSION_DOMAIN, statement)),
    endorsement: signNodeAuth(previousKey, nodeKeySigningBytes(ENDORSEMENT_DOMAIN, statement)),
  };
}

/**
 * A node's TLS introduction: its published TLS certificate records (`node-keys.ts`), oldest first.
 * Sent first on every link, it lets a peer that missed some rotations (down, or far behind, when
 * they happened) accept a certificate it does not pin yet: each certificate is endorsed by the key
 * of the one before, back to a certificate the peer pins (`verifyTlsIntroduction`).
 */
export function encodeTlsIntroduction(records: readonly NodeKeyRecord[]): Uint8Array {
  return new Writer(256).raw(INTRODUCTION_TAG).list(records, (w, r) => w.bytes(encodeNodeKeyRecord(r))).finish();
}

/**
 * Whether `introduction` proves `presented` is `node`'s TLS certificate: a run of its records, each
 * the next epoch, possessed by its own key and endorsed by the previous certificate's, starting from
 * a certificate in `pinned` and ending at `presented`. Never throws.
 */
export function verifyTlsIntroduction(node: number, presented: Uint8Array, pinned: readonly Uint8Array[], introduction: Uint8Array): boolean {
  let records: NodeKeyRecord[];
  try {
    const r = new Reader(introduction);
    const tag = r.fixed(INTRODUCTION_TAG.length, 'tag');
    if (!tag.every((b, i) => b === INTRODUCTION_TAG[i])) return false;
    records = r.list(1024, (r) => decodeNodeKeyRecord(r.bytes(8192, 'record')), 'records');
    r.end();
  } catch {
    return false;
  }
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
  const isPinned = (der: Uint8Array) => pinned.some((p) => same(p, der));
  /** The record possessed by its key and endorsed by the key of `previous` (a certificate's DER). */
  const follows = (r: NodeKeyRecord, previous: Uint8Array) => {
    if (r.kind !== 'tls' || r.node !== node) return false;
    const key = nodeKeyScheme.parse('tls', r.publicKey);
    const before = nodeKeyScheme.parse('tls', previous);
    if (key === null || before === null) return false;
    const statement = nodeKeyStatement(r);
    return verifyNodeAuth(key, nodeKeySigningBytes(POSSESSION_DOMAIN, statement), r.possession) && verifyNodeAuth(before, nodeKeySigningBytes(ENDORSEMENT_DOMAIN, statement), r.endorsement);
  };
  let last: NodeKeyRecord | null = null;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (last !== null) {
      // Once anchored, every record must follow the one before it.
      if (r.epoch !== last.epoch + 1 || !follows(r, last.publicKey)) return false;
      last = r;
      continue;
    }
    // Not anchored yet: this record anchors the chain if a pinned certificate endorsed it.
    const anchors = i > 0 ? [records[i - 1]!.publicKey].filter(isPinned) : pinned;
    if (anchors.some((a) => follows(r, a))) last = r;
  }
  return last !== null && same(last.publicKey, presented);
}
