/**
 * The network file, typed and checked. `parseNetworkFile` refuses anything a node should not start
 * from: a shape that is off, counts that do not fit n = 3f + 2c + 1, ids out of order, two nodes on
 * one endpoint or with one key or certificate, a certificate that is not a self-signed P-384 one, a
 * bootstrap key whose proof of possession does not verify, a chain config that does not parse.
 * Every problem is listed, so an operator fixes the file in one pass.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BulwarkError } from '../common/errors.ts';
import {
  blsPublicKeyFromBytes,
  blsSignatureFromBytes,
  verifyPossession,
  type BlsPublicKey,
  type BlsSignature,
} from '../crypto/bls.ts';
import { hexToBytes } from '../crypto/hex.ts';
import { importNodeAuthPublicKey, type NodeAuthPublicKey } from '../crypto/node-auth.ts';
import { chainConfigToJson, parseChainConfig, type ChainConfig } from '../execution/chain-config.ts';
import { parseCertificatePem, type PinnedCertificate } from './certificate.ts';
import { networkFileSchema, type NetworkFileJson } from './network-schema.ts';

interface NodeCommon {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly tlsCertificate: PinnedCertificate;
}

export interface ReplicaInfo extends NodeCommon {
  readonly role: 'replica';
  readonly bootstrapKey: BlsPublicKey;
  readonly bootstrapProof: BlsSignature;
  readonly executionKey: NodeAuthPublicKey;
}

export interface ClientInfo extends NodeCommon {
  readonly role: 'client';
  readonly authKey: NodeAuthPublicKey;
}

export interface NetworkConfig {
  readonly f: number;
  readonly c: number;
  readonly n: number;
  readonly chainId: bigint;
  readonly chainConfig: ChainConfig;
  readonly operatorKey: NodeAuthPublicKey;
  readonly replicas: readonly ReplicaInfo[];
  readonly clients: readonly ClientInfo[];
  /** SHA-256 of the canonical file text: two nodes with the same digest have the same network. */
  readonly digest: string;
  /** The file as JSON, for writing it back out. */
  readonly json: NetworkFileJson;
}

export async function loadNetworkFile(path: string): Promise<NetworkConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BulwarkError('NETWORK_FILE_NOT_FOUND', `network file ${path} does not exist`, { path }, { cause });
    throw new BulwarkError('NETWORK_FILE_UNREADABLE', `cannot read network file ${path}: ${code}`, { path }, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new BulwarkError('NETWORK_FILE_INVALID', `network file ${path} is not JSON`, { path, problems: ['not JSON'] }, { cause });
  }
  return parseNetworkFile(json, path);
}

/** Canonical text: two-space JSON with a trailing newline, fields in schema order. */
export function serializeNetworkFile(json: NetworkFileJson): string {
  return JSON.stringify(json, null, 2) + '\n';
}

export function parseNetworkFile(input: unknown, source = 'network file'): NetworkConfig {
  const fail = (problems: string[]): never => {
    throw new BulwarkError('NETWORK_FILE_INVALID', `${source} is invalid: ${problems.join('; ')}`, { path: source, problems });
  };
  const r = networkFileSchema.safeParse(input);
  if (!r.success) fail(r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  const json = r.data as NetworkFileJson & typeof r.data;
  const problems: string[] = [];
  const check = <T>(where: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
      return undefined;
    }
  };

  if (json.n !== 3 * json.f + 2 * json.c + 1) problems.push(`n = ${json.n} is not 3f + 2c + 1 = ${3 * json.f + 2 * json.c + 1}`);
  if (json.replicas.length !== json.n) problems.push(`${json.replicas.length} replicas listed, n = ${json.n}`);
  json.replicas.forEach((e, i) => e.id !== i && problems.push(`replicas.${i}: id ${e.id}, expected ${i} (replica ids are 0..n-1 in order)`));
  json.clients.forEach(
    (e, i) => e.id !== json.replicas.length + i && problems.push(`clients.${i}: id ${e.id}, expected ${json.replicas.length + i} (client ids follow the replicas)`),
  );

  const chainConfig = check('chainConfig', () => parseChainConfig(json.chainConfig));
  if (chainConfig !== undefined && chainConfig.chainId !== BigInt(json.chainId)) {
    problems.push(`chainId ${json.chainId} differs from chainConfig.chainId ${chainConfig.chainId}`);
  }
  const operatorKey = check('operator.publicKey', () => importNodeAuthPublicKey(hexToBytes(json.operator.publicKey), 'ed25519'));

  const replicas: ReplicaInfo[] = [];
  json.replicas.forEach((e, i) => {
    const at = `replicas.${i}`;
    const cert = check(`${at}.tlsCertificate`, () => parseCertificatePem(e.tlsCertificate));
    const bootstrapKey = check(`${at}.bootstrapConsensusKey.publicKey`, () => blsPublicKeyFromBytes(hexToBytes(e.bootstrapConsensusKey.publicKey)));
    const proof = check(`${at}.bootstrapConsensusKey.proofOfPossession`, () => blsSignatureFromBytes(hexToBytes(e.bootstrapConsensusKey.proofOfPossession)));
    // Without a verified proof of possession a bootstrap key could be a rogue key (see crypto/bls.ts).
    if (bootstrapKey !== undefined && proof !== undefined && !verifyPossession(bootstrapKey, proof)) {
      problems.push(`${at}.bootstrapConsensusKey: the proof of possession does not verify`);
    }
    const executionKey = check(`${at}.executionKey`, () => importNodeAuthPublicKey(hexToBytes(e.executionKey.publicKey), 'ed25519'));
    if (cert && bootstrapKey && proof && executionKey) {
      replicas.push({ role: 'replica', id: e.id, host: e.host, port: e.port, tlsCertificate: cert, bootstrapKey, bootstrapProof: proof, executionKey });
    }
  });
  const clients: ClientInfo[] = [];
  json.clients.forEach((e, i) => {
    const at = `clients.${i}`;
    const cert = check(`${at}.tlsCertificate`, () => parseCertificatePem(e.tlsCertificate));
    const authKey = check(`${at}.authKey`, () => importNodeAuthPublicKey(hexToBytes(e.authKey.publicKey), 'ed25519'));
    if (cert && authKey) clients.push({ role: 'client', id: e.id, host: e.host, port: e.port, tlsCertificate: cert, authKey });
  });

  uniqueness(json, problems);
  const tlsKeys = new Map<string, string>();
  for (const node of [...replicas, ...clients]) {
    const spki = node.tlsCertificate.publicKey.export({ format: 'der', type: 'spki' }).toString('hex');
    const prior = tlsKeys.get(spki);
    if (prior !== undefined) problems.push(`${node.role} ${node.id} has the same TLS key as ${prior}`);
    else tlsKeys.set(spki, `${node.role} ${node.id}`);
  }
  if (problems.length > 0 || chainConfig === undefined || operatorKey === undefined) fail(problems);
  const canonical = { ...json, chainConfig: chainConfigToJson(chainConfig!) };
  return {
    f: json.f,
    c: json.c,
    n: json.n,
    chainId: chainConfig!.chainId,
    chainConfig: chainConfig!,
    operatorKey: operatorKey!,
    replicas,
    clients,
    digest: createHash('sha256').update(serializeNetworkFile(canonical)).digest('hex'),
    json: canonical,
  };
}

/** One node per endpoint, per certificate and per key: a shared one is a setup mistake or an attack. */
function uniqueness(json: NetworkFileJson, problems: string[]): void {
  const owners = new Map<string, string>();
  const claim = (what: string, value: string, who: string): void => {
    const key = `${what}\0${value}`;
    const prior = owners.get(key);
    if (prior !== undefined) problems.push(`${who} has the same ${what} as ${prior}`);
    else owners.set(key, who);
  };
  const nodes = [
    ...json.replicas.map((e) => ({ who: `replica ${e.id}`, e })),
    ...json.clients.map((e) => ({ who: `client ${e.id}`, e })),
  ];
  for (const { who, e } of nodes) {
    claim('endpoint', `${e.host.toLowerCase()}:${e.port}`, who);
    claim('TLS certificate', e.tlsCertificate.replace(/\s+/g, ''), who);
  }
  claim('Ed25519 key', json.operator.publicKey, 'the operator');
  for (const e of json.replicas) {
    claim('bootstrap consensus key', e.bootstrapConsensusKey.publicKey, `replica ${e.id}`);
    claim('Ed25519 key', e.executionKey.publicKey, `replica ${e.id}`);
  }
  for (const e of json.clients) claim('Ed25519 key', e.authKey.publicKey, `client ${e.id}`);
}
