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
import { AUTH_KEY_GRACE_SEQS, type ReplicaCrypto, type Share, type SigningDomain } from '../../../src/consensus/crypto.ts';
import { NodeKeyBook, type NodeKeyScheme } from '../../../src/consensus/node-keys.ts';

/** Client node ids the simulator's key book knows (n .. n + this − 1). */
const MAX_SIM_CLIENTS = 16;
import { KeyBook, type KeyHistory } from '../../../src/consensus/keys.ts';
import type { KeyRecord } from '../../../src/codec/reserved-pages.ts';
import { SignerBitVector } from '../../../src/crypto/bitvector.ts';
import type { ConsensusKeyStorage, GeneratedConsensusKey, RetiredConsensusKey } from '../../../src/setup/consensus-keys.ts';

function h(...parts: (Uint8Array | string)[]): Uint8Array {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return new Uint8Array(hash.digest());
}

/** What the simulator needs of a network's keys, keyed-hash or real. */
export interface KeyRegistry {
  /** The network's key history at genesis, for one replica's state (and the crypto made over it). */
  keyHistory(): KeyHistory;
  /** One node's crypto over `history` (a fresh genesis history when none is given: a verifier's). */
  cryptoFor(self: number, history?: KeyHistory): SimNodeCrypto;
  signClientRequest(req: Omit<ClientRequest, 'signature'>): Uint8Array;
  /** A fresh consensus key for `replica`'s epoch `epoch` (its secret goes to that replica's crypto). */
  newConsensusKey(replica: number, epoch: number): { publicKey: Uint8Array; proofOfPossession: Uint8Array };
}

/**
 * A node's crypto plus what its shell does with its own secrets: the shell's `ReplicaCrypto`. The
 * registry derives every secret, so `addSecret` needs only the epoch (a secret given is ignored),
 * and execution keys follow the node key book (adding or forgetting one changes nothing).
 */
export interface SimNodeCrypto extends ReplicaCrypto<unknown> {
  addSecret(epoch: number, secret?: unknown): void;
}

/** Secrets of every node in one simulated network. */
export class SimKeyRegistry implements KeyRegistry {
  /** Replicas the network file names (`resize` at a reconfiguration). */
  n: number;
  readonly #secrets = new Map<string, Uint8Array>();
  /** Public key (hex) → its secret: what lets a verifier recompute a signature. */
  readonly #byPublic = new Map<string, Uint8Array>();
  readonly #seed: number;

  constructor(n: number, seed: number) {
    this.n = n;
    this.#seed = seed;
  }

  /**
   * The network file of a reconfiguration (`World.reconfigure`): replicas 0..n − 1, each with the
   * same secrets as before (they derive from the seed and the id). Histories and crypto made
   * before keep the old replica set: every node makes new ones when it is restarted with the file.
   */
  resize(n: number): void {
    this.n = n;
  }

  secret(kind: 'consensus' | 'execution' | 'client' | 'operator', id: number, epoch = 0): Uint8Array {
    const k = epoch === 0 ? `${kind}:${id}` : `${kind}:${id}:epoch-${epoch}`;
    let s = this.#secrets.get(k);
    if (s === undefined) {
      this.#secrets.set(k, (s = h(`sim-key:${this.#seed}:${k}`)));
      this.#byPublic.set(Buffer.from(publicOf(s)).toString('hex'), s);
    }
    return s;
  }

  /** The simulator's node key scheme: a key's "public" half names its secret in this registry. */
  readonly nodeKeyScheme: NodeKeyScheme<Uint8Array> = {
    parse: (_kind, publicKey) => this.secretOf(publicKey) ?? null,
    verify: (_kind, secret, message, signature) => Buffer.compare(h(secret, message), signature) === 0,
  };

  /** The network's execution and authentication keys (client ids n .. n + MAX_SIM_CLIENTS - 1). */
  nodeKeyBook(): NodeKeyBook<Uint8Array> {
    const initial = [
      ...Array.from({ length: this.n }, (_, r) => ({ kind: 'execution' as const, node: r, secret: this.secret('execution', r) })),
      ...Array.from({ length: MAX_SIM_CLIENTS }, (_, i) => ({ kind: 'auth' as const, node: this.n + i, secret: this.secret('client', this.n + i) })),
    ];
    return new NodeKeyBook(this.nodeKeyScheme, initial.map((k) => ({ kind: k.kind, node: k.node, publicKey: publicOf(k.secret), key: k.secret })));
  }

  newConsensusKey(replica: number, epoch: number): { publicKey: Uint8Array; proofOfPossession: Uint8Array } {
    const secret = this.secret('consensus', replica, epoch);
    const publicKey = publicOf(secret);
    return { publicKey, proofOfPossession: h('sim-pop', secret, publicKey) };
  }

  /** The secret behind a public key, if it is one the registry made (a made-up key has none). */
  secretOf(publicKey: Uint8Array): Uint8Array | undefined {
    return this.#byPublic.get(Buffer.from(publicKey).toString('hex'));
  }

  shareWith(secret: Uint8Array, domain: SigningDomain, message: Uint8Array): Uint8Array {
    return h(secret, domain, message);
  }

  /** A share by replica `id` with its bootstrap key (decorators forging old-key messages use it). */
  share(id: number, domain: SigningDomain, message: Uint8Array): Uint8Array {
    return this.shareWith(this.secret('consensus', id), domain, message);
  }

  aggregate(shares: readonly Share[]): Uint8Array {
    const sorted = [...shares].sort((a, b) => a.replica - b.replica);
    return h('aggregate', ...sorted.map((s) => s.signature));
  }

  /** The authentication key epoch each client signs with (0 unless a test rotated it). */
  readonly clientEpoch = new Map<number, number>();

  signClientRequest(req: Omit<ClientRequest, 'signature'>): Uint8Array {
    return h(this.secret('client', req.clientId, this.clientEpoch.get(req.clientId) ?? 0), requestSigningBytes(req));
  }

  /** A node key's public half (the scheme finds its secret through it). */
  nodePublicKey(secret: Uint8Array): Uint8Array {
    return publicOf(secret);
  }

  /** A signature under a node key (execution, authentication) of the simulator's scheme. */
  signNodeKey(secret: Uint8Array, message: Uint8Array): Uint8Array {
    return h(secret, message);
  }

  /** The operator's signature on a command (keyed hash, as every signature here). */
  signOperator(message: Uint8Array): Uint8Array {
    return h(this.secret('operator', 0), 'operator', message);
  }

  executionSignature(replica: number, message: Uint8Array, epoch = 0): Uint8Array {
    return h(this.secret('execution', replica, epoch), message);
  }

  keyHistory(): KeyHistory {
    const consensus = new KeyBook<Uint8Array>(
      Array.from({ length: this.n }, (_, r) => {
        const secret = this.secret('consensus', r);
        return { publicKey: publicOf(secret), proofOfPossession: h('sim-pop', secret, publicOf(secret)), key: secret };
      }),
    );
    return { consensus, node: this.nodeKeyBook() };
  }

  /** One replica's view of cryptography: it signs with its own secrets only, and verifies against `history`. */
  cryptoFor(self: number, history: KeyHistory = this.keyHistory()): SimNodeCrypto {
    const decode = (cert: Certificate) => {
      try {
        return SignerBitVector.decode(this.n, cert.signers);
      } catch {
        return null;
      }
    };
    const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;
    // The books hold what this crypto parsed: keyed-hash secrets.
    const book = history.consensus as KeyBook<Uint8Array>;
    const nodeKeys = history.node as NodeKeyBook<Uint8Array>;
    const held = new Set<number>(self >= 0 ? [0] : []);
    const secretAt = (seq: number): Uint8Array => {
      const epoch = book.recordAt(self, seq).epoch;
      if (!held.has(epoch)) throw new Error(`replica ${self} holds no secret for key epoch ${epoch} (sequence ${seq})`);
      return this.secret('consensus', self, epoch);
    };
    const possessed = (record: KeyRecord): Uint8Array | null => {
      const secret = this.secretOf(record.publicKey);
      return secret !== undefined && equal(h('sim-pop', secret, record.publicKey), record.proofOfPossession) ? secret : null;
    };
    const verifyWith = (secret: Uint8Array | undefined, domain: SigningDomain, message: Uint8Array, signature: Uint8Array) =>
      secret !== undefined && equal(this.shareWith(secret, domain, message), signature);
    return {
      digest: (b) => h(b),
      sign: (domain, message, seq) => this.shareWith(secretAt(seq), domain, message),
      verifyShare: (domain, replica, message, signature, seq) => verifyWith(book.keyAt(replica, seq), domain, message, signature),
      combine: (shares) => {
        return {
          signers: SignerBitVector.fromIndices(this.n, shares.map((s) => s.replica)).encode(),
          signature: this.aggregate(shares),
        };
      },
      verifyCertificate: (domain, message, cert, minSigners, seq) => {
        const bv = decode(cert);
        if (bv === null || bv.count() < minSigners) return false;
        const keys = book.keysAt(seq);
        const expected = [...bv.indices()].map((replica) => ({ replica, signature: this.shareWith(keys[replica]!, domain, message) }));
        return equal(this.aggregate(expected), cert.signature);
      },
      signExecution: (message, seq) => this.executionSignature(self, message, nodeKeys.recordAt('execution', self, seq)?.epoch ?? 0),
      verifyExecution: (replica, message, signature, seq) => {
        const key = nodeKeys.keyAt('execution', replica, seq);
        return key !== undefined && this.nodeKeyScheme.verify('execution', key, message, signature);
      },
      verifyRequest: (request, seq) => {
        const bytes = requestSigningBytes(request);
        if (request.clientId < this.n) return verifyWith(book.keyAt(request.clientId, seq), 'consensus', bytes, request.signature);
        return nodeKeys.keysFor('auth', request.clientId, seq, AUTH_KEY_GRACE_SEQS).some((k) => this.nodeKeyScheme.verify('auth', k, bytes, request.signature));
      },
      signRequest: (bytes, seq) => this.shareWith(secretAt(seq), 'consensus', bytes),
      possessedKey: (record) => possessed(record),
      verifyOperator: (message, signature) => equal(this.signOperator(message), signature),
      canSign: (seq) => self >= 0 && held.has(book.recordAt(self, seq).epoch),
      addSecret: (epoch) => void held.add(epoch),
      forgetSecret: (epoch) => void held.delete(epoch),
      secretEpochs: () => [...held].sort((a, b) => a - b),
      addExecutionSecret: () => undefined,
      forgetExecutionSecret: () => undefined,
    };
  }
}

/**
 * A replica's consensus keys from a registry (keyed-hash or real), as the production shell's key
 * storage: `generate` has the registry make the key of that epoch, which the replica's crypto then
 * takes up (`addSecret`, by epoch), and nothing is kept here but which epochs are held. Same contract
 * as the key files: an epoch generated again gives the same key, a past or the newest one is refused.
 */
export class RegistryConsensusKeyStore implements ConsensusKeyStorage<unknown> {
  readonly #registry: KeyRegistry;
  readonly #replica: number;
  readonly #held = new Map<number, { publicKey: Uint8Array; proofOfPossession: Uint8Array } | null>([[0, null]]);
  readonly retired: number[] = [];

  constructor(registry: KeyRegistry, replica: number) {
    this.#registry = registry;
    this.#replica = replica;
  }

  epochs(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  async generate(epoch: number): Promise<GeneratedConsensusKey<unknown>> {
    const path = `registry:consensus-${this.#replica}-${epoch}`;
    const held = this.#held.get(epoch);
    if (held) return { epoch, secret: null, ...held, path, created: false };
    if (held === null || epoch <= this.epochs().at(-1)!) throw new Error(`consensus key epoch ${epoch} is not after the newest`);
    const key = this.#registry.newConsensusKey(this.#replica, epoch);
    this.#held.set(epoch, key);
    return { epoch, secret: null, ...key, path, created: true };
  }

  async retire(epoch: number): Promise<RetiredConsensusKey> {
    if (epoch >= this.epochs().at(-1)!) throw new Error(`consensus key epoch ${epoch} is the newest`);
    const erased = this.#held.delete(epoch);
    if (erased) this.retired.push(epoch);
    return { epoch, path: `registry:consensus-${this.#replica}-${epoch}`, bytes: 0, erased };
  }
}

function publicOf(secret: Uint8Array): Uint8Array {
  return h('sim-pub', secret);
}
