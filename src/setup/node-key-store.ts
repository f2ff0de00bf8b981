/**
 * A node's rotating keys other than its consensus keys, over epochs: a replica's Ed25519 execution
 * key, a client node's Ed25519 authentication key, and the P-384 TLS key (with its certificate) of
 * both. Epoch 0 is what `bulwark init` wrote (`execution.key`, `auth.key`, `tls.key` + `tls.crt`),
 * each later epoch a key the node generated itself (`keys/<kind>-<epoch>.key`, and for TLS
 * `keys/tls-<epoch>.crt` beside it; `layout.ts`). Same key-file format and passphrase sealing as
 * every other key; new keys are sealed exactly when a passphrase is given.
 *
 * As for consensus keys (`consensus-keys.ts`): `generate` returns only once the key is durably on
 * disk, because the node publishes the public half next, and a key already on disk (generated before
 * a crash) is returned again rather than replaced. A TLS certificate is written before its key file,
 * so the key file is the epoch's commit point: a certificate without its key is a crash's leftover.
 * `retire` erases the key file (tombstone, overwrite, unlink: `key-dir.ts`) and then unlinks the
 * certificate, epoch 0's `tls.crt` too: it is public, but left behind it would name a key that is gone.
 * A retire cut short between the two leaves the certificate: `open` removes `keys/tls-<epoch>.crt`,
 * retiring again removes `tls.crt` (which `open` leaves alone: without `tls.key` and a newer key it is
 * a broken directory to report, not a leftover to clean).
 *
 * One process per directory, as for consensus keys; within it, generate and retire run one at a time.
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import { equalBytes } from '../common/bytes.ts';
import { isKeyFileSealed, readKeyFile, syncDirectory } from '../crypto/key-file.ts';
import type { ScryptCost } from '../crypto/key-seal.ts';
import {
  exportNodeAuthPrivateKey,
  exportNodeAuthPublicKey,
  generateNodeAuthKeyPair,
  importNodeAuthPrivateKey,
  nodeAuthPublicKeyOf,
  type NodeAuthPrivateKey,
} from '../crypto/node-auth.ts';
import { parseCertificatePem, type PinnedCertificate } from './certificate.ts';
import { eraseLeftovers, errnoOf, exists, leftoverPattern, listEpochs, removeFile, retireFile, writeFileDurably, SerialQueue, writeSecret } from './key-dir.ts';
import { DEFAULT_CERT_VALIDITY_DAYS } from './generate.ts';
import { randomKeySource } from './key-source.ts';
import { KEY_DIR, KEY_FILES, nodeKeyFile, tlsCertificateFile, type NodeKeyKind } from './layout.ts';
import { makeTlsIdentity, type TlsIdentity } from './node-keys.ts';
import { exportTlsKeyPkcs8, importTlsKeyPkcs8, tlsPublicKeyOf } from './tls-key.ts';

export type { NodeKeyKind } from './layout.ts';

/** Epochs travel as u32, as consensus key epochs do. */
export const MAX_NODE_KEY_EPOCH = 0xffff_ffff;

export interface HeldEd25519Key<K extends 'execution' | 'auth'> {
  readonly kind: K;
  readonly epoch: number;
  readonly privateKey: NodeAuthPrivateKey;
  /** SPKI DER (`exportNodeAuthPublicKey`), the form the network file pins. */
  readonly publicKey: Uint8Array;
}

export interface HeldTlsKey {
  readonly kind: 'tls';
  readonly epoch: number;
  readonly privateKey: KeyObject;
  readonly certificate: PinnedCertificate;
  /** `certificate.pem`. */
  readonly certificatePem: string;
  /** The certificate's DER bytes (`certificate.der`), which peers pin. */
  readonly publicKey: Uint8Array;
}

export type HeldNodeKey = HeldEd25519Key<'execution'> | HeldEd25519Key<'auth'> | HeldTlsKey;
export type HeldNodeKeyOf<K extends NodeKeyKind> = Extract<HeldNodeKey, { readonly kind: K }>;
export type GeneratedNodeKey<K extends NodeKeyKind> = HeldNodeKeyOf<K> & {
  readonly path: string;
  /** False when the key was already there (generated before a crash, not yet published). */
  readonly created: boolean;
};

export interface RetiredNodeKey {
  readonly kind: NodeKeyKind;
  readonly epoch: number;
  /** The key file (for TLS the certificate beside it is removed too). */
  readonly path: string;
  /** Key-file bytes overwritten before the file was unlinked; 0 when there was nothing left to erase. */
  readonly bytes: number;
  /** False when the key file was already gone (retired before). */
  readonly erased: boolean;
}

/** Subject of a generated TLS certificate (informative only: peers pin the certificate's bytes). */
export interface TlsSubject {
  readonly commonName: string;
  readonly host: string;
  /** Default: `bulwark init`'s (DEFAULT_CERT_VALIDITY_DAYS). */
  readonly validityDays?: number;
}

export interface NodeKeyStoreOptions {
  /** Opens sealed keys, and seals the keys `generate` writes; without it they are written plain. */
  readonly passphrase?: string;
  readonly cost?: ScryptCost;
  /** Epoch-0 keys the caller already read and checked (`loadNodeDirectory`); the others are read here. */
  readonly epoch0?: { readonly [K in NodeKeyKind]?: HeldNodeKeyOf<K> };
}

/**
 * What a node's key lifecycle asks of the place its execution, authentication and TLS keys are kept
 * (`node-key-lifecycle.ts`): the keys held by kind and epoch, a key for a new epoch durably kept
 * before it is returned (a key made before a crash is returned again, `created: false`), and the
 * erasure of a key no longer in effect. `NodeKeyStore` keeps them in key files; the simulator keeps
 * them in memory (`test/sim/harness/memory-keys.ts`).
 */
export interface NodeKeyStorage {
  /** The epochs held of `kind`, ascending. */
  epochs(kind: NodeKeyKind): number[];
  key<K extends NodeKeyKind>(kind: K, epoch: number): HeldNodeKeyOf<K> | undefined;
  generate<K extends NodeKeyKind>(kind: K, epoch: number, tlsSubject?: TlsSubject): Promise<GeneratedNodeKey<K>>;
  retire(kind: NodeKeyKind, epoch: number): Promise<RetiredNodeKey>;
}

const ERASE_FAILED = 'NODE_KEY_ERASE_FAILED';
const CERTIFICATE_NAME = /^tls-(\d+)\.crt$/;

export class NodeKeyStore implements NodeKeyStorage {
  readonly dir: string;
  readonly kinds: readonly NodeKeyKind[];
  readonly #passphrase: string | undefined;
  readonly #cost: ScryptCost | undefined;
  readonly #keys = new Map<NodeKeyKind, Map<number, HeldNodeKey>>();
  readonly #queue = new SerialQueue();

  private constructor(dir: string, kinds: readonly NodeKeyKind[], options: NodeKeyStoreOptions) {
    this.dir = dir;
    this.kinds = [...kinds];
    this.#passphrase = options.passphrase;
    this.#cost = options.cost;
  }

  /**
   * Loads every key of `kinds` in `dir`, by epoch, after erasing what a crash left behind. Throws
   * KEY_FILE_NOT_FOUND naming the epoch-0 file for a kind with no key at all, and the key-file errors
   * (KEY_FILE_MALFORMED, _WRONG_KIND, _WRONG_PASSPHRASE, …) naming the file.
   */
  static async open(dir: string, kinds: readonly NodeKeyKind[], options: NodeKeyStoreOptions = {}): Promise<NodeKeyStore> {
    const store = new NodeKeyStore(dir, kinds, options);
    const leftovers = leftoverPattern(kinds.flatMap(fileNamesOf).join('|'));
    await eraseLeftovers(dir, leftovers, ERASE_FAILED);
    await eraseLeftovers(join(dir, KEY_DIR), leftovers, ERASE_FAILED);
    for (const kind of store.kinds) await store.#load(kind, options.epoch0?.[kind]);
    return store;
  }

  /** The epochs held of `kind`, ascending. */
  epochs(kind: NodeKeyKind): number[] {
    return [...this.#held(kind).keys()].sort((a, b) => a - b);
  }

  key<K extends NodeKeyKind>(kind: K, epoch: number): HeldNodeKeyOf<K> | undefined {
    return this.#held(kind).get(epoch) as HeldNodeKeyOf<K> | undefined;
  }

  /** The key of `kind` generated last; never retired. */
  newest<K extends NodeKeyKind>(kind: K): HeldNodeKeyOf<K> {
    return this.key(kind, this.epochs(kind).at(-1)!)!; // never empty: open refuses that, retire keeps the newest
  }

  /** Where the key file of `kind` and `epoch` lives (whether or not it is there). */
  path(kind: NodeKeyKind, epoch: number): string {
    return join(this.dir, nodeKeyFile(kind, epoch).file);
  }

  /**
   * A fresh key of `kind` for `epoch` (> every epoch held), from the CSPRNG, durably written and read
   * back before it is returned; or the key already held or on disk for `epoch`, with `created: false`.
   * A new TLS key needs `tlsSubject` for its certificate.
   */
  generate<K extends NodeKeyKind>(kind: K, epoch: number, tlsSubject?: TlsSubject): Promise<GeneratedNodeKey<K>> {
    return this.#queue.run(async () => {
      checkEpoch(kind, epoch, 1);
      const path = this.path(kind, epoch);
      const held = this.key(kind, epoch);
      if (held !== undefined) return { ...held, path, created: false };
      const newest = this.newest(kind).epoch;
      if (epoch <= newest) {
        const message = `refusing to generate ${kind} key epoch ${epoch}: epoch ${newest} is newer, and a retired epoch is never reused`;
        throw new BulwarkError('NODE_KEY_STALE_EPOCH', message, { kind, epoch, newest, path });
      }
      // Never replace a key file already under this name: it may hold a key that was published.
      const found = await exists(path);
      if (!found) await this.#write(kind, epoch, tlsSubject);
      // Read back what a restart will read: a key this directory cannot open must not be published.
      const key = (await this.#read(kind, epoch)) as HeldNodeKeyOf<K>;
      this.#held(kind).set(epoch, key);
      return { ...key, path, created: !found };
    });
  }

  /**
   * Erases the key file of `kind` and `epoch` (tombstone, overwrite, sync, unlink, sync the directory),
   * then for TLS unlinks its certificate, and forgets the key. Idempotent: a key already gone gives
   * `erased: false`. Refuses the newest key of its kind.
   */
  retire(kind: NodeKeyKind, epoch: number): Promise<RetiredNodeKey> {
    return this.#queue.run(async () => {
      checkEpoch(kind, epoch, 0);
      const path = this.path(kind, epoch);
      const newest = this.newest(kind).epoch;
      if (epoch >= newest) {
        const message = `refusing to retire ${kind} key epoch ${epoch}: the newest ${kind} key is epoch ${newest}, and a node must keep it`;
        throw new BulwarkError('NODE_KEY_RETIRE_NEWEST', message, { kind, epoch, newest, path });
      }
      const bytes = await retireFile(path, ERASE_FAILED);
      if (kind === 'tls') await removeFile(join(this.dir, tlsCertificateFile(epoch)), ERASE_FAILED);
      this.#held(kind).delete(epoch);
      return { kind, epoch, path, bytes: bytes ?? 0, erased: bytes !== null };
    });
  }

  #held(kind: NodeKeyKind): Map<number, HeldNodeKey> {
    const held = this.#keys.get(kind);
    if (held === undefined) {
      throw new BulwarkError('NODE_KEY_KIND_NOT_HELD', `this store holds ${this.kinds.join(', ')} keys, not ${kind} keys`, { kind, dir: this.dir });
    }
    return held;
  }

  async #load(kind: NodeKeyKind, given: HeldNodeKey | undefined): Promise<void> {
    const held = new Map<number, HeldNodeKey>();
    this.#keys.set(kind, held);
    const zero = given === undefined ? await this.#read(kind, 0).catch(nullIfMissing) : await this.#checkGiven(kind, given);
    if (zero !== null) held.set(0, zero);
    const keysDir = join(this.dir, KEY_DIR);
    for (const epoch of await listEpochs(keysDir, keyNamePattern(kind), MAX_NODE_KEY_EPOCH, (p) => invalidName(kind, p))) {
      held.set(epoch, await this.#read(kind, epoch));
    }
    if (kind === 'tls') {
      // Written before its key file, removed after it: a certificate alone is a crash's leftover.
      const certificates = await listEpochs(keysDir, CERTIFICATE_NAME, MAX_NODE_KEY_EPOCH, (p) => invalidName(kind, p));
      for (const epoch of certificates) if (!held.has(epoch)) await removeFile(join(this.dir, tlsCertificateFile(epoch)), ERASE_FAILED);
    }
    if (held.size === 0) {
      const path = this.path(kind, 0);
      const message = `no ${kind} key: key file ${path} does not exist and ${keysDir} holds no ${kind}-<epoch>.key`;
      throw new BulwarkError('KEY_FILE_NOT_FOUND', message, { path, kind });
    }
  }

  /** A key handed over in memory is not read again, but a sealed directory must not get plain keys because a passphrase was left out. */
  async #checkGiven(kind: NodeKeyKind, given: HeldNodeKey): Promise<HeldNodeKey> {
    const path = this.path(kind, 0);
    if (given.kind !== kind || given.epoch !== 0) {
      throw new BulwarkError('SETUP_INTERNAL', `the epoch-0 ${kind} key given is a ${given.kind} key of epoch ${given.epoch}`, { path });
    }
    if (this.#passphrase === undefined && (await exists(path)) && (await isKeyFileSealed(path))) {
      throw new BulwarkError('KEY_FILE_PASSPHRASE_REQUIRED', `key file ${path} is encrypted; a passphrase is needed`, { path });
    }
    return given;
  }

  async #read(kind: NodeKeyKind, epoch: number): Promise<HeldNodeKey> {
    const spec = nodeKeyFile(kind, epoch);
    const path = join(this.dir, spec.file);
    const opts = this.#passphrase === undefined ? {} : { passphrase: this.#passphrase };
    const { material } = await readKeyFile(path, { kind: spec.kind, algorithm: spec.algorithm, ...opts });
    if (kind !== 'tls') {
      const privateKey = decode(path, 'an Ed25519 private key', () => importNodeAuthPrivateKey(material, 'ed25519'));
      return holdEd25519Key(kind, epoch, privateKey);
    }
    const key = decode(path, 'a P-384 TLS key', () => importTlsKeyPkcs8(material));
    const certificate = await readCertificate(join(this.dir, tlsCertificateFile(epoch)), path);
    const spki = (k: KeyObject): Uint8Array => new Uint8Array(k.export({ format: 'der', type: 'spki' }));
    if (!equalBytes(spki(tlsPublicKeyOf(key)), spki(certificate.publicKey))) {
      throw new BulwarkError('NODE_KEY_MISMATCH', `key file ${path} does not match the certificate beside it`, { path });
    }
    return holdTlsKey(epoch, { key, certificate });
  }

  async #write(kind: NodeKeyKind, epoch: number, tlsSubject: TlsSubject | undefined): Promise<void> {
    const spec = nodeKeyFile(kind, epoch);
    const path = join(this.dir, spec.file);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await syncDirectory(this.dir); // the new keys/ entry itself
    let material: Uint8Array;
    if (kind === 'tls') {
      if (tlsSubject === undefined) {
        throw new BulwarkError('NODE_KEY_TLS_SUBJECT_REQUIRED', `a new TLS key (epoch ${epoch}) needs a subject for its certificate`, { path });
      }
      const policy = { now: new Date(), validityDays: tlsSubject.validityDays ?? DEFAULT_CERT_VALIDITY_DAYS };
      const identity = makeTlsIdentity(randomKeySource, `tls/${epoch}`, tlsSubject.commonName, tlsSubject.host, policy);
      // The certificate first: the key file, written last, is what makes the epoch exist.
      await writeFileDurably(join(this.dir, tlsCertificateFile(epoch)), identity.certificate.pem, 0o644);
      material = exportTlsKeyPkcs8(identity.key);
    } else {
      material = exportNodeAuthPrivateKey(generateNodeAuthKeyPair('ed25519').privateKey, 'der');
    }
    await writeSecret(path, spec, material, { passphrase: this.#passphrase, cost: this.#cost });
  }

}

export function holdEd25519Key<K extends 'execution' | 'auth'>(kind: K, epoch: number, privateKey: NodeAuthPrivateKey): HeldEd25519Key<K> {
  return { kind, epoch, privateKey, publicKey: exportNodeAuthPublicKey(nodeAuthPublicKeyOf(privateKey)) };
}

export function holdTlsKey(epoch: number, identity: TlsIdentity): HeldTlsKey {
  const { certificate } = identity;
  return { kind: 'tls', epoch, privateKey: identity.key, certificate, certificatePem: certificate.pem, publicKey: certificate.der };
}

/** The TLS key in the form the transport takes. */
export function tlsIdentityOf(key: HeldTlsKey): TlsIdentity {
  return { key: key.privateKey, certificate: key.certificate };
}

async function readCertificate(path: string, keyPath: string): Promise<PinnedCertificate> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (cause) {
    const errno = errnoOf(cause);
    const why = errno === 'ENOENT' ? 'does not exist' : `cannot be read (${errno})`;
    throw new BulwarkError('NODE_KEY_CERTIFICATE_MISSING', `certificate ${path} of key file ${keyPath} ${why}`, { path, errno }, { cause });
  }
  try {
    return parseCertificatePem(pem);
  } catch (cause) {
    throw new BulwarkError('NODE_KEY_CERTIFICATE_INVALID', `${path} is not a valid node certificate`, { path }, { cause });
  }
}

/** Regex alternatives for the key files of `kind` (and certificates, for TLS), whose leftovers a crash may leave. */
function fileNamesOf(kind: NodeKeyKind): string[] {
  const names = [KEY_FILES[kind].file.replace('.', '\\.'), `${kind}-\\d+\\.key`];
  return kind === 'tls' ? [...names, 'tls-\\d+\\.crt'] : names;
}

function keyNamePattern(kind: NodeKeyKind): RegExp {
  return new RegExp(`^${kind}-(\\d+)\\.key$`);
}

function checkEpoch(kind: NodeKeyKind, epoch: number, min: number): void {
  if (!Number.isInteger(epoch) || epoch < min || epoch > MAX_NODE_KEY_EPOCH) {
    const message = `${kind} key epoch must be an integer in ${min}..${MAX_NODE_KEY_EPOCH}, got ${epoch}`;
    throw new BulwarkError('NODE_KEY_BAD_EPOCH', message, { kind, epoch });
  }
}

function invalidName(kind: NodeKeyKind, path: string): BulwarkError {
  const message = `${path} is not a ${kind} key name (${kind}-<epoch>${kind === 'tls' ? '.key or .crt' : '.key'}, epoch 1..${MAX_NODE_KEY_EPOCH})`;
  return new BulwarkError('NODE_KEY_DIR_INVALID', message, { path, kind });
}

function decode<T>(path: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (cause) {
    throw new BulwarkError('KEY_FILE_MALFORMED', `key file ${path} does not hold ${what}`, { path, why: what }, { cause });
  }
}

function nullIfMissing(cause: unknown): null {
  if (isBulwarkError(cause, 'KEY_FILE_NOT_FOUND')) return null;
  throw cause;
}
