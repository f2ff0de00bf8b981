/**
 * The production cryptography for simulated replicas: BLS12-381 consensus keys (with proofs of
 * possession checked before use), Ed25519 execution and client keys, all derived from the seed.
 * Slower than the keyed-hash registry, so used by the scenarios that prove the wiring, not by sweeps.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { ClientRequest } from '../../../src/codec/messages.ts';
import { requestSigningBytes } from '../../../src/codec/signing.ts';
import { blsKeyHistory, createBlsConsensusCrypto, nodeKeyBookFor, type BlsConsensusCrypto, type ConsensusKeys } from '../../../src/consensus/bls-crypto.ts';
import type { KeyHistory } from '../../../src/consensus/keys.ts';
import type { SimNodeCrypto } from './sim-crypto.ts';
import {
  blsPublicKeyOf,
  blsPublicKeyToBytes,
  blsSignatureToBytes,
  generateBlsSecretKey,
  provePossession,
  sha256,
  signNodeAuth,
  verifyPossession,
  type BlsSecretKey,
  type NodeAuthPrivateKey,
  type NodeAuthPublicKey,
} from '../../../src/crypto/index.ts';

function ed25519From(seed: Uint8Array): { priv: NodeAuthPrivateKey; pub: NodeAuthPublicKey } {
  // PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return {
    priv: { algorithm: 'ed25519', key } as NodeAuthPrivateKey,
    pub: { algorithm: 'ed25519', key: createPublicKey(key) } as NodeAuthPublicKey,
  };
}

export class RealKeys {
  readonly n: number;
  readonly #bls: BlsSecretKey[] = [];
  readonly #exec: { priv: NodeAuthPrivateKey; pub: NodeAuthPublicKey }[] = [];
  readonly #clients = new Map<number, { priv: NodeAuthPrivateKey; pub: NodeAuthPublicKey }>();

  constructor(n: number, clients: number, seed: number) {
    this.n = n;
    const derive = (label: string) => sha256(new TextEncoder().encode(`real-keys:${seed}:${label}`));
    this.#derive = derive;
    for (let i = 0; i < n; i++) {
      const sk = generateBlsSecretKey(derive(`bls:${i}`));
      if (!verifyPossession(blsPublicKeyOf(sk), provePossession(sk))) throw new Error('proof of possession');
      this.#bls.push(sk);
      this.#exec.push(ed25519From(derive(`exec:${i}`)));
    }
    for (let c = n; c < n + clients; c++) this.#clients.set(c, ed25519From(derive(`client:${c}`)));
  }

  /** Generated keys by replica and epoch (deterministic from the seed, like the bootstrap ones). */
  readonly #generated = new Map<string, BlsSecretKey>();
  readonly #crypto = new Map<number, BlsConsensusCrypto>();
  readonly #derive: (label: string) => Uint8Array;

  newConsensusKey(replica: number, epoch: number): { publicKey: Uint8Array; proofOfPossession: Uint8Array } {
    const sk = generateBlsSecretKey(this.#derive(`bls:${replica}:epoch-${epoch}`));
    this.#generated.set(`${replica}:${epoch}`, sk);
    return { publicKey: blsPublicKeyToBytes(blsPublicKeyOf(sk)), proofOfPossession: blsSignatureToBytes(provePossession(sk)) };
  }

  keyHistory(): KeyHistory {
    return blsKeyHistory({
      consensusPublic: this.#bls.map((sk) => blsPublicKeyOf(sk)),
      nodeKeys: nodeKeyBookFor({
        replicas: this.#exec.map((k, id) => ({ id, executionKey: k.pub })),
        clients: [...this.#clients].map(([id, k]) => ({ id, authKey: k.pub })),
      }),
    });
  }

  cryptoFor(self: number, history: KeyHistory = this.keyHistory()): SimNodeCrypto {
    const keys: ConsensusKeys = {
      self,
      consensusSecrets: new Map(self >= 0 ? [[0, this.#bls[self]!]] : []),
      history,
      executionSecrets: new Map([[0, this.#exec[Math.max(self, 0)]!.priv]]),
    };
    const crypto = createBlsConsensusCrypto(keys);
    this.#crypto.set(self, crypto);
    return {
      ...crypto,
      addSecret: (epoch) => {
        const sk = this.#generated.get(`${self}:${epoch}`);
        if (sk === undefined) throw new Error(`no generated key for replica ${self} epoch ${epoch}`);
        crypto.addSecret(epoch, sk);
      },
    };
  }

  signClientRequest(req: Omit<ClientRequest, 'signature'>): Uint8Array {
    const k = this.#clients.get(req.clientId);
    if (k === undefined) return new Uint8Array(64);
    return signNodeAuth(k.priv, requestSigningBytes(req));
  }
}
