/**
 * Writing and loading a node's directory (layout in `layout.ts`). Loading checks everything a node
 * needs before it opens a socket: the node file, the network file, every private key (typed errors
 * naming the file when one is missing, corrupt, of the wrong kind, sealed without a passphrase), and
 * that each private key is the one whose public half the network file lists for this node. A replica's
 * bootstrap consensus key may be absent once retired for a key it generated itself (`consensus-keys.ts`);
 * so may its execution or authentication key and its TLS key (`node-key-store.ts`). Generated keys have
 * no public half in the network file (their records are in the ledger's reserved pages); the material's
 * `executionKey`, `authKey` and `tls` are the newest key of their kind, `nodeKeys` holds every epoch.
 */
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import { equalBytes } from '../common/bytes.ts';
import { blsPublicKeyOf, blsPublicKeyToBytes, blsSecretKeyFromBytes, blsSecretKeyToBytes, type BlsSecretKey } from '../crypto/bls.ts';
import { readKeyFile, writeKeyFile } from '../crypto/key-file.ts';
import type { ScryptCost } from '../crypto/key-seal.ts';
import {
  exportNodeAuthPrivateKey,
  exportNodeAuthPublicKey,
  importNodeAuthPrivateKey,
  nodeAuthPublicKeyOf,
  type NodeAuthPrivateKey,
  type NodeAuthPublicKey,
} from '../crypto/node-auth.ts';
import { ConsensusKeyStore } from './consensus-keys.ts';
import { KEY_FILES, MEMBER_FILE, NETWORK_FILE, NODE_FILE, NODE_FILE_FORMAT, NODE_FILE_VERSION, TLS_CERT_FILE, type KeyFileSpec } from './layout.ts';
import { loadNetworkFile, type ClientInfo, type NetworkConfig, type ReplicaInfo } from './network-file.ts';
import { holdEd25519Key, holdTlsKey, NodeKeyStore, tlsIdentityOf, type NodeKeyStoreOptions } from './node-key-store.ts';
import type { TlsIdentity } from './node-keys.ts';
import { exportTlsKeyPkcs8, importTlsKeyPkcs8, tlsPublicKeyOf } from './tls-key.ts';

export interface ReplicaSecrets {
  readonly role: 'replica';
  readonly id: number;
  readonly tls: TlsIdentity;
  readonly bootstrapKey: BlsSecretKey;
  readonly executionKey: NodeAuthPrivateKey;
}

export interface ClientSecrets {
  readonly role: 'client';
  readonly id: number;
  readonly tls: TlsIdentity;
  readonly authKey: NodeAuthPrivateKey;
}

export interface OperatorSecrets {
  readonly role: 'operator';
  readonly operatorKey: NodeAuthPrivateKey;
}

export type NodeSecrets = ReplicaSecrets | ClientSecrets | OperatorSecrets;

interface Loaded {
  readonly dir: string;
  readonly network: NetworkConfig;
}
export type ReplicaMaterial = Omit<ReplicaSecrets, 'bootstrapKey'> &
  Loaded & {
    readonly info: ReplicaInfo;
    /** Null once the bootstrap key was retired (deleted) for a newer consensus key; checked when present. */
    readonly bootstrapKey: BlsSecretKey | null;
    /** Every consensus secret on disk by epoch (0 = bootstrap), and where new ones are generated. */
    readonly consensusKeys: ConsensusKeyStore;
    /** Execution and TLS keys by epoch (0 = from init); `executionKey` and `tls` are the newest. */
    readonly nodeKeys: NodeKeyStore;
  };
export type ClientMaterial = ClientSecrets &
  Loaded & {
    readonly info: ClientInfo;
    /** Authentication and TLS keys by epoch (0 = from init); `authKey` and `tls` are the newest. */
    readonly nodeKeys: NodeKeyStore;
  };
export type OperatorMaterial = OperatorSecrets & Loaded;
export type NodeMaterial = ReplicaMaterial | ClientMaterial | OperatorMaterial;

export interface SealOptions {
  readonly passphrase?: string;
  readonly cost?: ScryptCost;
}

const nodeFileSchema = z.strictObject({
  format: z.literal(NODE_FILE_FORMAT),
  version: z.literal(NODE_FILE_VERSION),
  role: z.enum(['replica', 'client', 'operator']),
  id: z.number().int().nonnegative().optional(),
  encrypted: z.boolean(),
});

/**
 * `networkText` null: a replica joining an existing network (`member.ts`) has no network file until the
 * operator has written the one that lists it; the directory loads once that file is copied in.
 */
export async function writeNodeDirectory(dir: string, secrets: NodeSecrets, networkText: string | null, seal: SealOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const id = secrets.role === 'operator' ? {} : { id: secrets.id };
  const nodeFile = { format: NODE_FILE_FORMAT, version: NODE_FILE_VERSION, role: secrets.role, ...id, encrypted: seal.passphrase !== undefined };
  await writeFile(join(dir, NODE_FILE), JSON.stringify(nodeFile, null, 2) + '\n', { mode: 0o644 });
  if (networkText !== null) await writeFile(join(dir, NETWORK_FILE), networkText, { mode: 0o644 });
  const key = (spec: KeyFileSpec, material: Uint8Array): Promise<void> =>
    writeKeyFile(join(dir, spec.file), { kind: spec.kind, algorithm: spec.algorithm, material }, seal);
  if (secrets.role === 'operator') {
    await key(KEY_FILES.operator, exportNodeAuthPrivateKey(secrets.operatorKey, 'der'));
    return;
  }
  await writeFile(join(dir, TLS_CERT_FILE), secrets.tls.certificate.pem, { mode: 0o644 });
  await key(KEY_FILES.tls, exportTlsKeyPkcs8(secrets.tls.key));
  if (secrets.role === 'replica') {
    await key(KEY_FILES.bootstrap, blsSecretKeyToBytes(secrets.bootstrapKey));
    await key(KEY_FILES.execution, exportNodeAuthPrivateKey(secrets.executionKey, 'der'));
  } else {
    await key(KEY_FILES.auth, exportNodeAuthPrivateKey(secrets.authKey, 'der'));
  }
}

/** `cost`: scrypt cost for the keys a node generates in a sealed directory (default: key-seal's). */
export async function loadNodeDirectory(dir: string, options: { passphrase?: string; cost?: ScryptCost } = {}): Promise<NodeMaterial> {
  const node = await readNodeFile(dir);
  if (node.encrypted && options.passphrase === undefined) {
    throw new BulwarkError('NODE_PASSPHRASE_REQUIRED', `the keys in ${dir} are encrypted; give the passphrase`, { path: dir });
  }
  const network = await loadNetworkFile(join(dir, NETWORK_FILE)).catch((cause: unknown) => awaitingNetwork(dir, cause));
  const reader = new KeyReader(dir, options.passphrase);
  // New keys are sealed exactly when the directory is.
  const seal = { ...(node.encrypted ? { passphrase: options.passphrase! } : {}), ...(options.cost ? { cost: options.cost } : {}) };
  if (node.role === 'operator') {
    const operatorKey = await reader.ed25519(KEY_FILES.operator, network.operatorKey);
    return { role: 'operator', dir, network, operatorKey };
  }
  const nodeFile = join(dir, NODE_FILE);
  if (node.id === undefined) throw new BulwarkError('NODE_DIR_INVALID', `${nodeFile} has no id`, { path: nodeFile });
  if (node.role === 'replica') {
    const info = network.replicas.find((r) => r.id === node.id);
    if (info === undefined) throw notInNetwork(nodeFile, 'replica', node.id);
    const tls0 = await reader.tls(info).catch(nullIfMissing);
    const bootstrapKey = await reader.bls(KEY_FILES.bootstrap, blsPublicKeyToBytes(info.bootstrapKey)).catch(nullIfMissing);
    const execution0 = await reader.ed25519(KEY_FILES.execution, info.executionKey).catch(nullIfMissing);
    // With neither an epoch-0 key nor a newer one of a kind, the stores' open names the epoch-0 file.
    const consensusKeys = await ConsensusKeyStore.open(dir, { ...seal, ...(bootstrapKey === null ? {} : { bootstrap: bootstrapKey }) });
    const epoch0 = { ...tlsEpoch0(tls0), ...(execution0 === null ? {} : { execution: holdEd25519Key('execution', 0, execution0) }) };
    const nodeKeys = await NodeKeyStore.open(dir, ['tls', 'execution'], { ...seal, epoch0 });
    const [tls, executionKey] = [tlsIdentityOf(nodeKeys.newest('tls')), nodeKeys.newest('execution').privateKey];
    return { role: 'replica', id: node.id, dir, network, info, tls, bootstrapKey, executionKey, consensusKeys, nodeKeys };
  }
  const info = network.clients.find((c) => c.id === node.id);
  if (info === undefined) throw notInNetwork(nodeFile, 'client', node.id);
  const tls0 = await reader.tls(info).catch(nullIfMissing);
  const auth0 = await reader.ed25519(KEY_FILES.auth, info.authKey).catch(nullIfMissing);
  const epoch0 = { ...tlsEpoch0(tls0), ...(auth0 === null ? {} : { auth: holdEd25519Key('auth', 0, auth0) }) };
  const nodeKeys = await NodeKeyStore.open(dir, ['tls', 'auth'], { ...seal, epoch0 });
  const [tls, authKey] = [tlsIdentityOf(nodeKeys.newest('tls')), nodeKeys.newest('auth').privateKey];
  return { role: 'client', id: node.id, dir, network, info, tls, authKey, nodeKeys };
}

/** A joining replica's directory has no network file until the operator's new one is copied in: say so. */
async function awaitingNetwork(dir: string, cause: unknown): Promise<never> {
  if (isBulwarkError(cause, 'NETWORK_FILE_NOT_FOUND') && (await stat(join(dir, MEMBER_FILE)).catch(() => null)) !== null) {
    throw new BulwarkError(
      'NODE_AWAITING_NETWORK',
      `${dir} is a joining replica's directory (${MEMBER_FILE}) without ${NETWORK_FILE}: copy in the network file that lists it (bulwark reconfigure) first`,
      { path: dir },
      { cause },
    );
  }
  throw cause;
}

function tlsEpoch0(tls: TlsIdentity | null): NodeKeyStoreOptions['epoch0'] {
  return tls === null ? {} : { tls: holdTlsKey(0, tls) };
}

export async function readNodeFile(dir: string): Promise<z.infer<typeof nodeFileSchema>> {
  const path = join(dir, NODE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist (is this a directory written by `bulwark init`?)' : `cannot be read (${code})`;
    throw new BulwarkError('NODE_DIR_INVALID', `${path} ${why}`, { path }, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new BulwarkError('NODE_DIR_INVALID', `${path} is not JSON`, { path }, { cause });
  }
  const r = nodeFileSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new BulwarkError('NODE_DIR_INVALID', `${path} is invalid: ${problems.join('; ')}`, { path, problems });
  }
  return r.data;
}

function notInNetwork(path: string, role: string, id: number): BulwarkError {
  return new BulwarkError('NODE_DIR_INVALID', `${path} names ${role} ${id}, which the network file does not list`, { path, role, id });
}

/** Reads each key file and checks it against the public half the network file pins for this node. */
class KeyReader {
  constructor(
    private readonly dir: string,
    private readonly passphrase: string | undefined,
  ) {}

  async tls(info: ReplicaInfo | ClientInfo): Promise<TlsIdentity> {
    const { path, material } = await this.read(KEY_FILES.tls);
    const key = decode(path, 'a P-384 TLS key', () => importTlsKeyPkcs8(material));
    const spki = (k: Parameters<typeof tlsPublicKeyOf>[0]) => tlsPublicKeyOf(k).export({ format: 'der', type: 'spki' });
    const pinned = info.tlsCertificate.publicKey.export({ format: 'der', type: 'spki' });
    if (!equalBytes(spki(key), pinned)) throw mismatch(path, `the TLS certificate the network file pins for ${info.role} ${info.id}`);
    return { key, certificate: info.tlsCertificate };
  }

  async bls(spec: KeyFileSpec, expected: Uint8Array): Promise<BlsSecretKey> {
    const { path, material } = await this.read(spec);
    const secret = decode(path, 'a BLS12-381 secret key', () => blsSecretKeyFromBytes(material));
    if (!equalBytes(blsPublicKeyToBytes(blsPublicKeyOf(secret)), expected)) throw mismatch(path, 'the bootstrap key in the network file');
    return secret;
  }

  async ed25519(spec: KeyFileSpec, expected: NodeAuthPublicKey): Promise<NodeAuthPrivateKey> {
    const { path, material } = await this.read(spec);
    const key = decode(path, 'an Ed25519 private key', () => importNodeAuthPrivateKey(material, 'ed25519'));
    if (!equalBytes(exportNodeAuthPublicKey(nodeAuthPublicKeyOf(key)), exportNodeAuthPublicKey(expected))) {
      throw mismatch(path, 'the public key in the network file');
    }
    return key;
  }

  private async read(spec: KeyFileSpec): Promise<{ path: string; material: Uint8Array }> {
    const path = join(this.dir, spec.file);
    const opts = this.passphrase === undefined ? {} : { passphrase: this.passphrase };
    const file = await readKeyFile(path, { kind: spec.kind, algorithm: spec.algorithm, ...opts });
    return { path, material: file.material };
  }
}

/** An epoch-0 key may have been retired (deleted) once a newer key of its kind took effect. */
function nullIfMissing(cause: unknown): null {
  if (isBulwarkError(cause, 'KEY_FILE_NOT_FOUND')) return null;
  throw cause;
}

function decode<T>(path: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (cause) {
    throw new BulwarkError('KEY_FILE_MALFORMED', `key file ${path} does not hold ${what}`, { path, why: what }, { cause });
  }
}

function mismatch(path: string, what: string): BulwarkError {
  return new BulwarkError('NODE_KEY_MISMATCH', `key file ${path} does not match ${what}`, { path });
}

