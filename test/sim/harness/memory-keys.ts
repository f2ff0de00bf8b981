/**
 * Key storage in memory, for the production shell under simulation: the same contract as the key
 * files (`ConsensusKeyStore`, `NodeKeyStore`) — a key for an epoch is returned again rather than
 * replaced, a retired epoch is never reused, the newest key is never retired, retiring twice does
 * nothing — with nothing on disk. Keys are fresh (CSPRNG), as the file-backed stores make them.
 * `retired` lists what was erased, oldest first, for scenarios to check.
 */
import { BulwarkError } from '../../../src/common/errors.ts';
import { blsPublicKeyOf, blsPublicKeyToBytes, blsSignatureToBytes, generateBlsSecretKey, provePossession, type BlsSecretKey } from '../../../src/crypto/bls.ts';
import { generateNodeAuthKeyPair } from '../../../src/crypto/node-auth.ts';
import type { ConsensusKeyStorage, GeneratedConsensusKey, RetiredConsensusKey } from '../../../src/setup/consensus-keys.ts';
import { DEFAULT_CERT_VALIDITY_DAYS } from '../../../src/setup/generate.ts';
import { randomKeySource } from '../../../src/setup/key-source.ts';
import {
  holdEd25519Key,
  holdTlsKey,
  type GeneratedNodeKey,
  type HeldNodeKey,
  type HeldNodeKeyOf,
  type NodeKeyKind,
  type NodeKeyStorage,
  type RetiredNodeKey,
  type TlsSubject,
} from '../../../src/setup/node-key-store.ts';
import { makeTlsIdentity } from '../../../src/setup/node-keys.ts';

export class MemoryConsensusKeyStore implements ConsensusKeyStorage {
  readonly #secrets: Map<number, BlsSecretKey>;
  readonly retired: number[] = [];

  /** `secrets`: the keys held at the start, by epoch (the bootstrap key as epoch 0). */
  constructor(secrets: ReadonlyMap<number, BlsSecretKey>) {
    if (secrets.size === 0) throw new BulwarkError('KEY_FILE_NOT_FOUND', 'no consensus key');
    this.#secrets = new Map(secrets);
  }

  epochs(): number[] {
    return [...this.#secrets.keys()].sort((a, b) => a - b);
  }

  async generate(epoch: number): Promise<GeneratedConsensusKey> {
    const path = `memory:consensus-${epoch}`;
    const held = this.#secrets.get(epoch);
    if (held !== undefined) return describe(epoch, held, path, false);
    const newest = this.epochs().at(-1)!;
    if (epoch <= newest) throw new BulwarkError('CONSENSUS_KEY_STALE_EPOCH', `consensus key epoch ${epoch} is not after ${newest}`, { epoch, newest });
    const secret = generateBlsSecretKey();
    this.#secrets.set(epoch, secret);
    return describe(epoch, secret, path, true);
  }

  async retire(epoch: number): Promise<RetiredConsensusKey> {
    const newest = this.epochs().at(-1)!;
    if (epoch >= newest) throw new BulwarkError('CONSENSUS_KEY_RETIRE_NEWEST', `consensus key epoch ${epoch} is the newest`, { epoch, newest });
    const erased = this.#secrets.delete(epoch);
    if (erased) this.retired.push(epoch);
    return { epoch, path: `memory:consensus-${epoch}`, bytes: 0, erased };
  }
}

function describe(epoch: number, secret: BlsSecretKey, path: string, created: boolean): GeneratedConsensusKey {
  const publicKey = blsPublicKeyToBytes(blsPublicKeyOf(secret));
  return { epoch, secret, publicKey, proofOfPossession: blsSignatureToBytes(provePossession(secret)), path, created };
}

export class MemoryNodeKeyStore implements NodeKeyStorage {
  readonly #keys = new Map<NodeKeyKind, Map<number, HeldNodeKey>>();
  readonly retired: { kind: NodeKeyKind; epoch: number }[] = [];

  /** `keys`: the keys held at the start (every kind this node has, epoch 0 at least). */
  constructor(keys: readonly HeldNodeKey[]) {
    for (const k of keys) {
      let held = this.#keys.get(k.kind);
      if (held === undefined) this.#keys.set(k.kind, (held = new Map()));
      held.set(k.epoch, k);
    }
  }

  /** The keys a file-backed store holds, in memory from now on. */
  static copyOf(store: NodeKeyStorage, kinds: readonly NodeKeyKind[]): MemoryNodeKeyStore {
    return new MemoryNodeKeyStore(kinds.flatMap((kind) => store.epochs(kind).map((e) => store.key(kind, e)!)));
  }

  epochs(kind: NodeKeyKind): number[] {
    return [...this.#held(kind).keys()].sort((a, b) => a - b);
  }

  key<K extends NodeKeyKind>(kind: K, epoch: number): HeldNodeKeyOf<K> | undefined {
    return this.#held(kind).get(epoch) as HeldNodeKeyOf<K> | undefined;
  }

  async generate<K extends NodeKeyKind>(kind: K, epoch: number, tlsSubject?: TlsSubject): Promise<GeneratedNodeKey<K>> {
    const path = `memory:${kind}-${epoch}`;
    const held = this.key(kind, epoch);
    if (held !== undefined) return { ...held, path, created: false };
    const newest = this.epochs(kind).at(-1)!;
    if (epoch <= newest) throw new BulwarkError('NODE_KEY_STALE_EPOCH', `${kind} key epoch ${epoch} is not after ${newest}`, { kind, epoch, newest });
    let key: HeldNodeKey;
    if (kind === 'tls') {
      if (tlsSubject === undefined) throw new BulwarkError('NODE_KEY_TLS_SUBJECT_REQUIRED', `a new TLS key (epoch ${epoch}) needs a subject`);
      const policy = { now: new Date(), validityDays: tlsSubject.validityDays ?? DEFAULT_CERT_VALIDITY_DAYS };
      key = holdTlsKey(epoch, makeTlsIdentity(randomKeySource, `tls/${epoch}`, tlsSubject.commonName, tlsSubject.host, policy));
    } else {
      key = holdEd25519Key(kind as 'execution' | 'auth', epoch, generateNodeAuthKeyPair('ed25519').privateKey);
    }
    this.#held(kind).set(epoch, key);
    return { ...(key as HeldNodeKeyOf<K>), path, created: true };
  }

  async retire(kind: NodeKeyKind, epoch: number): Promise<RetiredNodeKey> {
    const newest = this.epochs(kind).at(-1)!;
    if (epoch >= newest) throw new BulwarkError('NODE_KEY_RETIRE_NEWEST', `${kind} key epoch ${epoch} is the newest`, { kind, epoch, newest });
    const erased = this.#held(kind).delete(epoch);
    if (erased) this.retired.push({ kind, epoch });
    return { kind, epoch, path: `memory:${kind}-${epoch}`, bytes: 0, erased };
  }

  #held(kind: NodeKeyKind): Map<number, HeldNodeKey> {
    const held = this.#keys.get(kind);
    if (held === undefined) throw new BulwarkError('NODE_KEY_KIND_NOT_HELD', `this store holds no ${kind} keys`, { kind });
    return held;
  }
}
