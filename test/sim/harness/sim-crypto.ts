/**
 * `ConsensusCrypto` over keyed SHA-256 for the simulator: a "signature" by replica r is
 * H(secret_r ‖ domain ‖ message), and verification recomputes it from the key registry, which only
 * the verifier can read. A decorator holding one replica's crypto can sign only as that replica,
 * as with BLS, while ten thousand seeded runs stay fast. Aggregates hash the signers' shares in
 * signer order, so one bad share spoils the aggregate and the collector's fallback is exercised.
 */
import { createHash } from 'node:crypto';
import type { Certificate, ClientRequest } from '../../../src/codec/messages.ts';
import { requestSigningBytes } from '../../../src/codec/signing.ts';
import type { ConsensusCrypto, Share, SigningDomain } from '../../../src/consensus/crypto.ts';
import { SignerBitVector } from '../../../src/crypto/bitvector.ts';

function h(...parts: (Uint8Array | string)[]): Uint8Array {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return new Uint8Array(hash.digest());
}

/** What the simulator needs of a network's keys, keyed-hash or real. */
export interface KeyRegistry {
  cryptoFor(self: number): ConsensusCrypto;
  signClientRequest(req: Omit<ClientRequest, 'signature'>): Uint8Array;
}

/** Secrets of every node in one simulated network. */
export class SimKeyRegistry implements KeyRegistry {
  readonly n: number;
  readonly #secrets = new Map<string, Uint8Array>();

  constructor(n: number, seed: number) {
    this.n = n;
    this.#seed = seed;
  }

  readonly #seed: number;

  secret(kind: 'consensus' | 'execution' | 'client', id: number): Uint8Array {
    const k = `${kind}:${id}`;
    let s = this.#secrets.get(k);
    if (s === undefined) this.#secrets.set(k, (s = h(`sim-key:${this.#seed}:${k}`)));
    return s;
  }

  share(id: number, domain: SigningDomain, message: Uint8Array): Uint8Array {
    return h(this.secret('consensus', id), domain, message);
  }

  aggregate(shares: readonly Share[]): Uint8Array {
    const sorted = [...shares].sort((a, b) => a.replica - b.replica);
    return h('aggregate', ...sorted.map((s) => s.signature));
  }

  signClientRequest(req: Omit<ClientRequest, 'signature'>): Uint8Array {
    return h(this.secret('client', req.clientId), requestSigningBytes(req));
  }

  executionSignature(replica: number, message: Uint8Array): Uint8Array {
    return h(this.secret('execution', replica), message);
  }

  /** One replica's view of cryptography: it signs with its own secrets only. */
  cryptoFor(self: number): ConsensusCrypto {
    const decode = (cert: Certificate) => {
      try {
        return SignerBitVector.decode(this.n, cert.signers);
      } catch {
        return null;
      }
    };
    const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;
    return {
      digest: (b) => h(b),
      sign: (domain, message) => this.share(self, domain, message),
      verifyShare: (domain, replica, message, signature) =>
        replica >= 0 && replica < this.n && equal(this.share(replica, domain, message), signature),
      combine: (shares) => {
        return {
          signers: SignerBitVector.fromIndices(this.n, shares.map((s) => s.replica)).encode(),
          signature: this.aggregate(shares),
        };
      },
      verifyCertificate: (domain, message, cert, minSigners) => {
        const bv = decode(cert);
        if (bv === null || bv.count() < minSigners) return false;
        const expected = [...bv.indices()].map((replica) => ({ replica, signature: this.share(replica, domain, message) }));
        return equal(this.aggregate(expected), cert.signature);
      },
      signExecution: (message) => this.executionSignature(self, message),
      verifyExecution: (replica, message, signature) => equal(this.executionSignature(replica, message), signature),
      verifyRequest: (request) => {
        if (request.clientId < this.n) return false;
        return equal(this.signClientRequest(request), request.signature);
      },
    };
  }
}
