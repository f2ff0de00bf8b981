/**
 * A replica's consensus secret keys over time (ARCHITECTURE "Keys", `consensus/keys.ts`): epoch 0 is
 * the bootstrap key from the trusted setup (`bootstrap-consensus.key`), each later epoch a key the
 * replica generated itself (`keys/consensus-<epoch>.key`, `layout.ts`). Same key-file format and
 * passphrase sealing as every other key.
 *
 * `generate` returns only once the key is durably on disk, because the replica publishes the public
 * key next: a crash after publishing must never lose the secret, and a key generated before a crash
 * but not yet published is found and returned again rather than replaced by a second one.
 *
 * `retire` erases a key that is no longer in effect (tombstone, overwrite in place, unlink:
 * `key-dir.ts`); tombstones and temp files left by a crash are erased the same way on `open`.
 *
 * One process per directory (the replica's RocksDB lock on `data/` ensures it); within it, generate
 * and retire run one at a time.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import {
  blsPublicKeyOf,
  blsPublicKeyToBytes,
  blsSecretKeyFromBytes,
  blsSecretKeyToBytes,
  blsSignatureToBytes,
  generateBlsSecretKey,
  provePossession,
  type BlsSecretKey,
} from '../crypto/bls.ts';
import { isKeyFileSealed, readKeyFile, syncDirectory } from '../crypto/key-file.ts';
import type { ScryptCost } from '../crypto/key-seal.ts';
import { eraseLeftovers, exists, leftoverPattern, listEpochs, retireFile, SerialQueue, writeSecret } from './key-dir.ts';
import { CONSENSUS_KEY_DIR, consensusKeyFile, type ConsensusKeyFileSpec } from './layout.ts';

/** Epochs travel as u32 in key-exchange requests (`consensus/keys.ts`). */
export const MAX_CONSENSUS_EPOCH = 0xffff_ffff;

export interface ConsensusKeyStoreOptions {
  /** Opens sealed keys, and seals the keys `generate` writes; without it they are written plain. */
  readonly passphrase?: string;
  readonly cost?: ScryptCost;
  /** The bootstrap secret when the caller already read and checked it (`loadNodeDirectory`). */
  readonly bootstrap?: BlsSecretKey;
}

/** `Secret`: a BLS secret key, but for the simulator's keyed-hash keys. */
export interface GeneratedConsensusKey<Secret = BlsSecretKey> {
  readonly epoch: number;
  readonly secret: Secret;
  /** Compressed G1 public key (48 bytes). */
  readonly publicKey: Uint8Array;
  /** The key's signature over its own public key in the PoP domain (`provePossession`), 96 bytes. */
  readonly proofOfPossession: Uint8Array;
  readonly path: string;
  /** False when the key was already there (generated before a crash, not yet published). */
  readonly created: boolean;
}

export interface RetiredConsensusKey {
  readonly epoch: number;
  readonly path: string;
  /** Bytes overwritten before the file was unlinked; 0 when there was nothing left to erase. */
  readonly bytes: number;
  /** False when the key file was already gone (retired before): nothing was done. */
  readonly erased: boolean;
}

/**
 * What a replica's shell asks of the place its consensus keys are kept (`replica/replica-node.ts`):
 * a key for the next epoch, durably kept before it is returned (the shell publishes its public half
 * next, and a key made before a crash is returned again, `created: false`), and the erasure of a
 * key no longer in effect. `ConsensusKeyStore` keeps them in key files; the simulator keeps them in
 * memory (`test/sim/harness/memory-keys.ts`).
 */
export interface ConsensusKeyStorage<Secret = BlsSecretKey> {
  generate(epoch: number): Promise<GeneratedConsensusKey<Secret>>;
  retire(epoch: number): Promise<RetiredConsensusKey>;
}

const KEY_NAME = /^consensus-(\d+)\.key$/;
/** Tombstones of `retire` and temp files of `writeKeyFile`. */
const LEFTOVER = leftoverPattern('consensus-\\d+\\.key|bootstrap-consensus\\.key');
const ERASE_FAILED = 'CONSENSUS_KEY_ERASE_FAILED';

export class ConsensusKeyStore implements ConsensusKeyStorage {
  readonly dir: string;
  readonly #passphrase: string | undefined;
  readonly #cost: ScryptCost | undefined;
  readonly #secrets = new Map<number, BlsSecretKey>();
  readonly #queue = new SerialQueue();

  private constructor(dir: string, options: ConsensusKeyStoreOptions) {
    this.dir = dir;
    this.#passphrase = options.passphrase;
    this.#cost = options.cost;
  }

  /**
   * Loads every consensus secret in `dir`, by epoch, after erasing what a crash left behind.
   * Throws KEY_FILE_NOT_FOUND naming the bootstrap file when there is no consensus key at all, and
   * the key-file errors (KEY_FILE_MALFORMED, _WRONG_KIND, _WRONG_PASSPHRASE, …) naming the file.
   */
  static async open(dir: string, options: ConsensusKeyStoreOptions = {}): Promise<ConsensusKeyStore> {
    const store = new ConsensusKeyStore(dir, options);
    await eraseLeftovers(dir, LEFTOVER, ERASE_FAILED);
    await eraseLeftovers(join(dir, CONSENSUS_KEY_DIR), LEFTOVER, ERASE_FAILED);
    await store.#loadBootstrap(options.bootstrap);
    for (const epoch of await listEpochs(join(dir, CONSENSUS_KEY_DIR), KEY_NAME, MAX_CONSENSUS_EPOCH, invalidName)) {
      store.#secrets.set(epoch, await readSecret(store.path(epoch), consensusKeyFile(epoch), store.#passphrase));
    }
    if (store.#secrets.size === 0) {
      const path = store.path(0);
      const message = `no consensus key: key file ${path} does not exist and ${join(dir, CONSENSUS_KEY_DIR)} holds no consensus-<epoch>.key`;
      throw new BulwarkError('KEY_FILE_NOT_FOUND', message, { path });
    }
    return store;
  }

  /** Every consensus secret held, by epoch, oldest first. */
  secrets(): ReadonlyMap<number, BlsSecretKey> {
    return new Map(this.epochs().map((e) => [e, this.#secrets.get(e)!]));
  }

  /** The epochs held, ascending. */
  epochs(): number[] {
    return [...this.#secrets.keys()].sort((a, b) => a - b);
  }

  secret(epoch: number): BlsSecretKey | undefined {
    return this.#secrets.get(epoch);
  }

  /** The key generated last; never retired. */
  newest(): { readonly epoch: number; readonly secret: BlsSecretKey } {
    const epoch = this.epochs().at(-1)!; // never empty: open refuses that, retire keeps the newest
    return { epoch, secret: this.#secrets.get(epoch)! };
  }

  /** Where the key of `epoch` lives (whether or not it is there). */
  path(epoch: number): string {
    return join(this.dir, consensusKeyFile(epoch).file);
  }

  /**
   * A fresh key for `epoch` (> every epoch held), from the CSPRNG, durably written and read back
   * before it is returned; or the key already held for `epoch`, with `created: false`.
   */
  generate(epoch: number): Promise<GeneratedConsensusKey> {
    return this.#queue.run(async () => {
      checkEpoch(epoch, 1);
      const path = this.path(epoch);
      const held = this.#secrets.get(epoch);
      if (held !== undefined) return describe(epoch, held, path, false);
      const newest = this.newest().epoch;
      if (epoch <= newest) {
        const message = `refusing to generate consensus key epoch ${epoch}: epoch ${newest} is newer, and a retired epoch is never reused`;
        throw new BulwarkError('CONSENSUS_KEY_STALE_EPOCH', message, { epoch, newest, path });
      }
      const spec = consensusKeyFile(epoch);
      // Never replace a file already under this name: it may hold a key that was published.
      const found = await exists(path);
      if (!found) await this.#write(path, spec);
      // Read back what a restart will read: a key this directory cannot open must not be published.
      const secret = await readSecret(path, spec, this.#passphrase);
      this.#secrets.set(epoch, secret);
      return describe(epoch, secret, path, !found);
    });
  }

  /**
   * Erases the key of `epoch` from disk (tombstone, overwrite, sync, unlink, sync the directory) and
   * forgets it. Idempotent: a key already gone gives `erased: false`. Refuses the newest key.
   */
  retire(epoch: number): Promise<RetiredConsensusKey> {
    return this.#queue.run(async () => {
      checkEpoch(epoch, 0);
      const path = this.path(epoch);
      const newest = this.newest().epoch;
      if (epoch >= newest) {
        const message = `refusing to retire consensus key epoch ${epoch}: the newest key is epoch ${newest}, and a replica must keep it`;
        throw new BulwarkError('CONSENSUS_KEY_RETIRE_NEWEST', message, { epoch, newest, path });
      }
      const bytes = await retireFile(path, ERASE_FAILED);
      this.#secrets.delete(epoch);
      return { epoch, path, bytes: bytes ?? 0, erased: bytes !== null };
    });
  }

  async #loadBootstrap(given: BlsSecretKey | undefined): Promise<void> {
    const path = this.path(0);
    if (given === undefined) {
      const secret = await readSecret(path, consensusKeyFile(0), this.#passphrase).catch(nullIfMissing);
      if (secret !== null) this.#secrets.set(0, secret);
      return;
    }
    // Not read again, but a sealed directory must not get plain keys because a passphrase was left out.
    if (this.#passphrase === undefined && (await exists(path)) && (await isKeyFileSealed(path))) {
      throw new BulwarkError('KEY_FILE_PASSPHRASE_REQUIRED', `key file ${path} is encrypted; a passphrase is needed`, { path });
    }
    this.#secrets.set(0, given);
  }

  async #write(path: string, spec: ConsensusKeyFileSpec): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await syncDirectory(this.dir); // the new keys/ entry itself
    const material = blsSecretKeyToBytes(generateBlsSecretKey());
    await writeSecret(path, spec, material, { passphrase: this.#passphrase, cost: this.#cost });
  }

}

function describe(epoch: number, secret: BlsSecretKey, path: string, created: boolean): GeneratedConsensusKey {
  const publicKey = blsPublicKeyToBytes(blsPublicKeyOf(secret));
  return { epoch, secret, publicKey, proofOfPossession: blsSignatureToBytes(provePossession(secret)), path, created };
}

function checkEpoch(epoch: number, min: number): void {
  if (!Number.isInteger(epoch) || epoch < min || epoch > MAX_CONSENSUS_EPOCH) {
    throw new BulwarkError('CONSENSUS_KEY_BAD_EPOCH', `consensus key epoch must be an integer in ${min}..${MAX_CONSENSUS_EPOCH}, got ${epoch}`, {
      epoch,
    });
  }
}

async function readSecret(path: string, spec: ConsensusKeyFileSpec, passphrase: string | undefined): Promise<BlsSecretKey> {
  const file = await readKeyFile(path, { kind: spec.kind, algorithm: spec.algorithm, ...(passphrase === undefined ? {} : { passphrase }) });
  try {
    return blsSecretKeyFromBytes(file.material);
  } catch (cause) {
    const why = 'a BLS12-381 secret key';
    throw new BulwarkError('KEY_FILE_MALFORMED', `key file ${path} does not hold ${why}`, { path, why }, { cause });
  }
}

function invalidName(path: string): BulwarkError {
  const message = `${path} is not a consensus key name (consensus-<epoch>.key, epoch 1..${MAX_CONSENSUS_EPOCH})`;
  return new BulwarkError('CONSENSUS_KEY_DIR_INVALID', message, { path });
}

function nullIfMissing(cause: unknown): null {
  if (isBulwarkError(cause, 'KEY_FILE_NOT_FOUND')) return null;
  throw cause;
}
