/**
 * The production `NodeKeyScheme` (`node-keys.ts`): execution and authentication keys are
 * Ed25519 (SubjectPublicKeyInfo DER); a TLS key is the P-384 key of a certificate (its DER), and
 * signs with ECDSA-SHA384 like every P-384 node key here. Anything malformed parses as null and
 * verifies as false; nothing throws on bad input.
 */
import { X509Certificate } from 'node:crypto';
import type { NodeKeyScheme } from './node-keys.ts';
import type { NodeKeyKind } from '../codec/reserved-pages.ts';
import { ENDORSEMENT_DOMAIN, POSSESSION_DOMAIN, nodeKeySigningBytes, nodeKeyStatement, type NodeKeyPublication } from '../codec/key-requests.ts';
import { decodeNodeKeyRecord, encodeNodeKeyRecord, type NodeKeyRecord } from '../codec/reserved-pages.ts';
import { Reader, Writer } from '../codec/binary.ts';

const INTRODUCTION_TAG = new TextEncoder().encode('bulwark/tls-introduction/v1');
import { importNodeAuthPublicKey, signNodeAuth, verifyNodeAuth, type NodeAuthPrivateKey, type NodeAuthPublicKey } from '../crypto/node-auth.ts';

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

/** Records an introduction carries unless told otherwise (`TlsTuning.maxIntroductionRecords`). */
export const DEFAULT_MAX_INTRODUCTION_RECORDS = 16;

/**
 * The records of an introduction, oldest first; null if the bytes are not one or it carries more
 * than `maxRecords` (refused before any is decoded). Decoding only: nothing is verified.
 */
export function decodeTlsIntroduction(introduction: Uint8Array, maxRecords: number): NodeKeyRecord[] | null {
  try {
    const r = new Reader(introduction);
    const tag = r.fixed(INTRODUCTION_TAG.length, 'tag');
    if (!tag.every((b, i) => b === INTRODUCTION_TAG[i])) return null;
    const records = r.list(maxRecords, (r) => decodeNodeKeyRecord(r.bytes(8192, 'record')), 'records');
    r.end();
    return records;
  } catch {
    return null;
  }
}

/**
 * Why the shape of `node`'s introduction of `presented` is wrong, before any signature: not its
 * TLS records, not consecutive epochs from 1 on, or not ending at the certificate presented.
 */
export function tlsIntroductionShapeProblem(node: number, presented: Uint8Array, records: readonly NodeKeyRecord[]): string | null {
  if (records.length === 0) return 'no records';
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.kind !== 'tls' || r.node !== node) return `a record of node ${r.node}'s ${r.kind} key`;
    if (r.epoch < 1 || (i > 0 && r.epoch !== records[i - 1]!.epoch + 1)) return `epoch ${r.epoch} out of order`;
  }
  if (Buffer.compare(records[records.length - 1]!.publicKey, presented) !== 0) return 'the newest record is not the certificate presented';
  return null;
}

/**
 * Why TLS record `r` does not follow the certificate `previous` (DER): endorsed by its key
 * (checked first: it is what a forger lacks), possessed by its own. Two parses and at most two
 * P-384 verifications.
 */
export function tlsRecordStepProblem(r: NodeKeyRecord, previous: Uint8Array): string | null {
  const before = nodeKeyScheme.parse('tls', previous);
  const key = nodeKeyScheme.parse('tls', r.publicKey);
  if (before === null || key === null) return 'not a P-384 certificate';
  const statement = nodeKeyStatement(r);
  if (!verifyNodeAuth(before, nodeKeySigningBytes(ENDORSEMENT_DOMAIN, statement), r.endorsement)) return 'not endorsed by the previous certificate';
  if (!verifyNodeAuth(key, nodeKeySigningBytes(POSSESSION_DOMAIN, statement), r.possession)) return 'invalid proof of possession';
  return null;
}

/**
 * Whether `introduction` proves `presented` is `node`'s TLS certificate: at most `maxRecords` of
 * its records, each the next epoch, possessed by its own key and endorsed by the previous
 * certificate's, starting from a certificate in `pinned` and ending at `presented`. The shape is
 * checked before any signature, and the chain from the newest pinned certificate it passes through,
 * so the work is at most a few verifications per record after it. Never throws.
 *
 * This knows only the pins; a node that knows its peers' records from consensus judges with
 * `setup/tls-introduction.ts`, which also refuses records that conflict with them.
 */
export function verifyTlsIntroduction(
  node: number,
  presented: Uint8Array,
  pinned: readonly Uint8Array[],
  introduction: Uint8Array,
  maxRecords = DEFAULT_MAX_INTRODUCTION_RECORDS,
): boolean {
  const records = decodeTlsIntroduction(introduction, maxRecords);
  if (records === null || tlsIntroductionShapeProblem(node, presented, records) !== null) return false;
  const isPinned = (der: Uint8Array) => pinned.some((p) => Buffer.compare(p, der) === 0);
  // The chain starts after the newest record whose certificate is pinned, or at the first record.
  let start = 0;
  for (let i = records.length - 1; i > 0; i--) {
    if (isPinned(records[i - 1]!.publicKey)) {
      start = i;
      break;
    }
  }
  const anchors = start > 0 ? [records[start - 1]!.publicKey] : pinned;
  if (!anchors.some((a) => tlsRecordStepProblem(records[start]!, a) === null)) return false;
  for (let i = start + 1; i < records.length; i++) if (tlsRecordStepProblem(records[i]!, records[i - 1]!.publicKey) !== null) return false;
  return true;
}
