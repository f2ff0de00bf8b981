/**
 * The production `NodeKeyScheme` (`consensus/node-keys.ts`): execution and authentication keys are
 * Ed25519 (SubjectPublicKeyInfo DER); a TLS key is the P-384 key of a certificate (its DER), and
 * signs with ECDSA-SHA384 like every P-384 node key here. Anything malformed parses as null and
 * verifies as false; nothing throws on bad input.
 */
import { X509Certificate } from 'node:crypto';
import type { NodeKeyKind, NodeKeyScheme } from '../consensus/node-keys.ts';
import { ENDORSEMENT_DOMAIN, POSSESSION_DOMAIN, nodeKeySigningBytes, nodeKeyStatement, type NodeKeyPublication } from '../consensus/node-keys.ts';
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
