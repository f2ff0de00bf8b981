/**
 * The production `ConsensusCrypto`: BLS12-381 over `@chainsafe/blst` for consensus shares,
 * certificates and checkpoints (domain-separated, keys registered only with a verified proof of
 * possession), Ed25519 for execution signatures and client requests, SHA-256 for digests.
 * Anything malformed from the network verifies as false; nothing here throws on bad input.
 */
import type { Certificate, ClientRequest } from '../codec/messages.ts';
import { requestSigningBytes } from '../codec/signing.ts';
import {
  DOMAIN_CHECKPOINT,
  DOMAIN_CONSENSUS,
  SignerBitVector,
  aggregateSerializedBlsSignatures,
  blsSign,
  blsSignatureFromBytes,
  blsSignatureToBytes,
  blsVerify,
  sha256,
  signNodeAuth,
  verifyAggregate,
  verifyAggregates,
  verifyNodeAuth,
  type BlsPublicKey,
  type BlsSecretKey,
  type BlsSignature,
  type NodeAuthPrivateKey,
  type NodeAuthPublicKey,
} from '../crypto/index.ts';
import type { CertificateCheck, ConsensusCrypto, Share, SigningDomain } from './crypto.ts';

export interface ConsensusKeys {
  readonly consensusSecret: BlsSecretKey;
  /** Replica i's consensus key at index i; each one's proof of possession already verified. */
  readonly consensusPublic: readonly BlsPublicKey[];
  readonly executionSecret: NodeAuthPrivateKey;
  readonly executionPublic: readonly NodeAuthPublicKey[];
  readonly clientPublic: ReadonlyMap<number, NodeAuthPublicKey>;
}

function domainOf(d: SigningDomain) {
  return d === 'consensus' ? DOMAIN_CONSENSUS : DOMAIN_CHECKPOINT;
}

function decodeSig(bytes: Uint8Array): BlsSignature | null {
  try {
    return blsSignatureFromBytes(bytes);
  } catch {
    return null;
  }
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const checkKey = (domain: SigningDomain, message: Uint8Array, cert: Certificate, minSigners: number) =>
  `${domain}:${minSigners}:${hex(cert.signers)}:${hex(cert.signature)}:${hex(message)}`;
/** Certificates verified ahead of time, remembered until looked up (bounded). */
const PREVERIFIED_MAX = 4096;

export function createBlsConsensusCrypto(keys: ConsensusKeys): ConsensusCrypto {
  const n = keys.consensusPublic.length;
  const preverified = new Set<string>();
  const signers = (cert: Certificate): SignerBitVector | null => {
    try {
      return SignerBitVector.decode(n, cert.signers);
    } catch {
      return null;
    }
  };
  return {
    digest: sha256,
    sign: (domain, message) => blsSignatureToBytes(blsSign(domainOf(domain), keys.consensusSecret, message)),
    verifyShare(domain, replica, message, signature) {
      const pk = keys.consensusPublic[replica];
      const sig = decodeSig(signature);
      return pk !== undefined && sig !== null && blsVerify(domainOf(domain), pk, message, sig);
    },
    combine(shares: readonly Share[]): Certificate {
      const signers = SignerBitVector.fromIndices(n, shares.map((sh) => sh.replica)).encode();
      const sum = shares.length === 0 ? null : aggregateSerializedBlsSignatures(shares.map((sh) => sh.signature));
      // A share that is not even a curve point spoils the aggregate, which then fails its check
      // and sends the collector to per-share verification.
      return { signers, signature: sum ?? new Uint8Array(96) };
    },
    preverify(checks: readonly CertificateCheck[]) {
      const good: { key: string; check: Parameters<typeof verifyAggregates>[0][number] }[] = [];
      for (const c of checks) {
        const bv = signers(c.cert);
        const sig = decodeSig(c.cert.signature);
        if (bv === null || sig === null || bv.count() < c.minSigners) continue;
        const key = checkKey(c.domain, c.message, c.cert, c.minSigners);
        if (!preverified.has(key)) good.push({ key, check: { domain: domainOf(c.domain), message: c.message, signature: sig, signers: bv, minSigners: c.minSigners } });
      }
      if (good.length < 2 || !verifyAggregates(good.map((g) => g.check), keys.consensusPublic)) return;
      if (preverified.size + good.length > PREVERIFIED_MAX) preverified.clear();
      for (const g of good) preverified.add(g.key);
    },
    verifyCertificate(domain, message, cert, minSigners) {
      if (preverified.size > 0) {
        const key = checkKey(domain, message, cert, minSigners);
        if (preverified.delete(key)) return true;
      }
      const bv = signers(cert);
      const sig = decodeSig(cert.signature);
      if (bv === null || sig === null || bv.count() < minSigners) return false;
      try {
        return verifyAggregate(domainOf(domain), message, sig, bv, keys.consensusPublic, minSigners);
      } catch {
        return false;
      }
    },
    signExecution: (message) => signNodeAuth(keys.executionSecret, message),
    verifyExecution(replica, message, signature) {
      const pk = keys.executionPublic[replica];
      return pk !== undefined && verifyNodeAuth(pk, message, signature);
    },
    verifyRequest(request: ClientRequest) {
      const pk = keys.clientPublic.get(request.clientId);
      return pk !== undefined && verifyNodeAuth(pk, requestSigningBytes(request), request.signature);
    },
  };
}
