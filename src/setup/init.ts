/**
 * The trusted setup (`bulwark init`): generates every node's keys, writes the network file with
 * everyone's public material, and one directory per node with its private material.
 *
 * The output appears whole or not at all: everything is written into a staging directory beside the
 * target and renamed into place at the end, so an interrupted run leaves no half-network whose keys
 * someone might start to use. An existing non-empty target is refused: overwriting keys is how
 * networks are lost.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BulwarkError } from '../common/errors.ts';
import { blsPublicKeyOf, blsPublicKeyToBytes, blsSignatureToBytes, provePossession } from '../crypto/bls.ts';
import { bytesToHex } from '../crypto/hex.ts';
import type { ScryptCost } from '../crypto/key-seal.ts';
import { exportNodeAuthPublicKey, nodeAuthPublicKeyOf, type NodeAuthPrivateKey } from '../crypto/node-auth.ts';
import { chainConfigToJson, type ChainConfig } from '../execution/chain-config.ts';
import { randomKeySource, seededKeySource, type KeySource } from './key-source.ts';
import { NETWORK_FILE, nodeDirectoryName, type DirectoryRole } from './layout.ts';
import { parseNetworkFile, serializeNetworkFile, type NetworkConfig } from './network-file.ts';
import { NETWORK_FILE_FORMAT, NETWORK_FILE_VERSION, type ClientEntryJson, type NetworkFileJson, type ReplicaEntryJson } from './network-schema.ts';
import { writeNodeDirectory, type ClientSecrets, type NodeSecrets, type OperatorSecrets, type ReplicaSecrets } from './node-directory.ts';
import { makeBlsKey, makeEd25519Key, makeTlsIdentity, type CertificatePolicy } from './node-keys.ts';
import { resolveTopology, type TopologyInput } from './topology.ts';

export const DEFAULT_CERT_VALIDITY_DAYS = 3650;

export interface InitOptions {
  readonly outDir: string;
  readonly topology: TopologyInput;
  readonly chainConfig: ChainConfig;
  /** Seal every private key under this passphrase. */
  readonly passphrase?: string;
  readonly scryptCost?: ScryptCost;
  /** Deterministic mode: every key derived from this seed. For tests and throw-away networks only. */
  readonly seed?: Uint8Array;
  readonly certValidityDays?: number;
  readonly now?: Date;
}

export interface InitResult {
  readonly outDir: string;
  readonly networkFile: string;
  readonly network: NetworkConfig;
  readonly directories: ReadonlyArray<{ readonly role: DirectoryRole; readonly id?: number; readonly path: string }>;
}

export async function runInit(options: InitOptions): Promise<InitResult> {
  const topology = resolveTopology(options.topology);
  const validityDays = options.certValidityDays ?? DEFAULT_CERT_VALIDITY_DAYS;
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 36_500) {
    throw new BulwarkError('SETUP_INVALID_INPUT', `certificate validity must be 1..36500 days, got ${validityDays}`);
  }
  const outDir = resolve(options.outDir);
  await checkTarget(outDir);

  const source: KeySource = options.seed === undefined ? randomKeySource : seededKeySource(options.seed);
  const policy: CertificatePolicy = { now: options.now ?? new Date(), validityDays };
  const replicas: ReplicaSecrets[] = topology.replicas.map((e, id) => ({
    role: 'replica',
    id,
    tls: makeTlsIdentity(source, `replica/${id}`, `bulwark replica ${id}`, e.host, policy),
    bootstrapKey: makeBlsKey(source, `replica/${id}`),
    executionKey: makeEd25519Key(source, `replica/${id}/execution`),
  }));
  const clients: ClientSecrets[] = topology.clients.map((e, i) => {
    const id = topology.n + i;
    return {
      role: 'client',
      id,
      tls: makeTlsIdentity(source, `client/${id}`, `bulwark client ${id}`, e.host, policy),
      authKey: makeEd25519Key(source, `client/${id}/auth`),
    };
  });
  const operator: OperatorSecrets = { role: 'operator', operatorKey: makeEd25519Key(source, 'operator/auth') };

  const json: NetworkFileJson = {
    format: NETWORK_FILE_FORMAT,
    version: NETWORK_FILE_VERSION,
    chainId: options.chainConfig.chainId.toString(),
    f: topology.f,
    c: topology.c,
    n: topology.n,
    operator: ed25519Json(operator.operatorKey),
    replicas: replicas.map((r, id) => replicaEntry(r, topology.replicas[id]!)),
    clients: clients.map((c, i) => clientEntry(c, topology.clients[i]!)),
    chainConfig: chainConfigToJson(options.chainConfig),
  };
  // The file we write must be one we would load: parse it back before anything touches the disk.
  const network = parseNetworkFile(json, 'the generated network file');
  const text = serializeNetworkFile(network.json);

  const staging = join(dirname(outDir), `.${basename(outDir)}.init-${randomBytes(4).toString('hex')}`);
  const seal = options.passphrase === undefined ? {} : { passphrase: options.passphrase, ...(options.scryptCost ? { cost: options.scryptCost } : {}) };
  const all: NodeSecrets[] = [...replicas, ...clients, operator];
  try {
    await mkdir(staging, { recursive: true, mode: 0o700 });
    await writeNodeFiles(staging, all, text, seal);
    await placeOutput(staging, outDir);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    if (cause instanceof BulwarkError) throw cause;
    throw new BulwarkError('SETUP_WRITE_FAILED', `cannot write the network to ${outDir}: ${(cause as Error).message}`, { path: outDir }, { cause });
  }
  return {
    outDir,
    networkFile: join(outDir, NETWORK_FILE),
    network,
    directories: all.map((s) => {
      const id = s.role === 'operator' ? undefined : s.id;
      return { role: s.role, ...(id === undefined ? {} : { id }), path: join(outDir, nodeDirectoryName(s.role, id)) };
    }),
  };
}

async function writeNodeFiles(staging: string, all: readonly NodeSecrets[], text: string, seal: { passphrase?: string; cost?: ScryptCost }): Promise<void> {
  await writeFile(join(staging, NETWORK_FILE), text, { mode: 0o644 });
  // Sealing runs scrypt on libuv's thread pool, so the directories are written concurrently.
  await Promise.all(
    all.map((s) => writeNodeDirectory(join(staging, nodeDirectoryName(s.role, s.role === 'operator' ? undefined : s.id)), s, text, seal)),
  );
}

function ed25519Json(key: NodeAuthPrivateKey): { algorithm: 'ed25519'; publicKey: string } {
  return { algorithm: 'ed25519', publicKey: `0x${bytesToHex(exportNodeAuthPublicKey(nodeAuthPublicKeyOf(key)))}` };
}

function replicaEntry(r: ReplicaSecrets, e: { host: string; port: number }): ReplicaEntryJson {
  const proof = blsSignatureToBytes(provePossession(r.bootstrapKey));
  return {
    id: r.id,
    host: e.host,
    port: e.port,
    tlsCertificate: r.tls.certificate.pem,
    bootstrapConsensusKey: {
      publicKey: `0x${bytesToHex(blsPublicKeyToBytes(blsPublicKeyOf(r.bootstrapKey)))}`,
      proofOfPossession: `0x${bytesToHex(proof)}`,
    },
    executionKey: ed25519Json(r.executionKey),
  };
}

function clientEntry(c: ClientSecrets, e: { host: string; port: number }): ClientEntryJson {
  return { id: c.id, host: e.host, port: e.port, tlsCertificate: c.tls.certificate.pem, authKey: ed25519Json(c.authKey) };
}

async function checkTarget(outDir: string): Promise<void> {
  let info;
  try {
    info = await stat(outDir);
  } catch {
    return; // absent: fine
  }
  if (!info.isDirectory()) throw new BulwarkError('SETUP_OUTPUT_EXISTS', `${outDir} exists and is not a directory`, { path: outDir });
  if ((await readdir(outDir)).length > 0) {
    throw new BulwarkError('SETUP_OUTPUT_EXISTS', `${outDir} is not empty; refusing to overwrite a network's keys`, { path: outDir });
  }
}

async function placeOutput(staging: string, outDir: string): Promise<void> {
  await checkTarget(outDir); // again: someone may have written there while we generated keys
  await rmdir(outDir).catch(() => {});
  await rename(staging, outDir);
}
