/**
 * The network file, typed and checked. `parseNetworkFile` refuses anything a node should not start
 * from: a shape that is off, counts that do not fit n ≥ 3f + 2c + 1, ids out of order, two nodes on
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
import { networkFileSchema, type ClientEntryJson, type NetworkFileJson, type ReplicaEntryJson } from './network-schema.ts';

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
  /** Client node ids are firstClient .. firstClient + clients − 1 (the file's `firstClient`, or n). */
  readonly firstClient: number;
  /** The configuration epoch the file is for: 0 as created, one more with each reconfiguration. */
  readonly epoch: number;
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

/** Collects every problem instead of stopping at the first, so one pass fixes a file. */
class Problems {
  readonly list: string[] = [];

  add(problem: string): void {
    this.list.push(problem);
  }

  /** Runs a parse; on failure records where and why, and yields undefined. */
  check<T>(where: string, f: () => T): T | undefined {
    try {
      return f();
    } catch (err) {
      this.add(`${where}: ${(err as Error).message}`);
      return undefined;
    }
  }
}

export function parseNetworkFile(input: unknown, source = 'network file'): NetworkConfig {
  const fail = (problems: string[]): never => {
    throw new BulwarkError('NETWORK_FILE_INVALID', `${source} is invalid: ${problems.join('; ')}`, { path: source, problems });
  };
  const r = networkFileSchema.safeParse(input);
  if (!r.success) return fail(r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  const json: NetworkFileJson = r.data;
  const problems = new Problems();
  checkCounts(json, problems);
  const chainConfig = problems.check('chainConfig', () => parseChainConfig(json.chainConfig));
  if (chainConfig !== undefined && chainConfig.chainId !== BigInt(json.chainId)) {
    problems.add(`chainId ${json.chainId} differs from chainConfig.chainId ${chainConfig.chainId}`);
  }
  const operatorKey = problems.check('operator.publicKey', () => importNodeAuthPublicKey(hexToBytes(json.operator.publicKey), 'ed25519'));
  const replicas = json.replicas.map((e, i) => parseReplica(e, `replicas.${i}`, problems));
  const clients = json.clients.map((e, i) => parseClient(e, `clients.${i}`, problems));
  uniqueness(json, problems);
  uniqueTlsKeys([...replicas, ...clients], problems);
  if (problems.list.length > 0 || chainConfig === undefined || operatorKey === undefined) return fail(problems.list);
  const canonical = { ...json, chainConfig: chainConfigToJson(chainConfig) };
  return {
    f: json.f,
    c: json.c,
    n: json.n,
    firstClient: json.firstClient ?? json.n,
    epoch: json.epoch ?? 0,
    chainId: chainConfig.chainId,
    chainConfig,
    operatorKey,
    replicas: replicas as ReplicaInfo[], // no problems: every entry parsed
    clients: clients as ClientInfo[],
    digest: createHash('sha256').update(serializeNetworkFile(canonical)).digest('hex'),
    json: canonical,
  };
}

/** Whether n replicas can run with f and c (SBFT's bound); why not, when they cannot. */
/**
 * Why n replicas do not fit f and c, or undefined when they do. SBFT's bound is a minimum: a
 * network may have replicas to spare (five while it grows from four to seven).
 */
export function replicaCountProblem(n: number, f: number, c: number): string | undefined {
  const least = 3 * f + 2 * c + 1;
  if (n < least) return `n = ${n} is below 3f + 2c + 1 = ${least}`;
  if (f === 0 && c > 0) return `c = ${c} needs f ≥ 1`;
  return undefined;
}

function checkCounts(json: NetworkFileJson, problems: Problems): void {
  const countProblem = replicaCountProblem(json.n, json.f, json.c);
  if (countProblem !== undefined) problems.add(countProblem);
  if (json.replicas.length !== json.n) problems.add(`${json.replicas.length} replicas listed, n = ${json.n}`);
  json.replicas.forEach((e, i) => {
    if (e.id !== i) problems.add(`replicas.${i}: id ${e.id}, expected ${i} (replica ids are 0..n-1 in order)`);
  });
  const firstClient = json.firstClient ?? json.replicas.length;
  if (firstClient < json.replicas.length) problems.add(`firstClient ${firstClient} is below the ${json.replicas.length} replicas' ids`);
  json.clients.forEach((e, i) => {
    const expected = firstClient + i;
    if (e.id !== expected) problems.add(`clients.${i}: id ${e.id}, expected ${expected} (client ids start at firstClient, or follow the replicas)`);
  });
}

function parseReplica(e: ReplicaEntryJson, at: string, problems: Problems): ReplicaInfo | undefined {
  const cert = problems.check(`${at}.tlsCertificate`, () => parseCertificatePem(e.tlsCertificate));
  const { publicKey, proofOfPossession } = e.bootstrapConsensusKey;
  const bootstrapKey = problems.check(`${at}.bootstrapConsensusKey.publicKey`, () => blsPublicKeyFromBytes(hexToBytes(publicKey)));
  const proof = problems.check(`${at}.bootstrapConsensusKey.proofOfPossession`, () => blsSignatureFromBytes(hexToBytes(proofOfPossession)));
  // Without a verified proof of possession a bootstrap key could be a rogue key (see crypto/bls.ts).
  if (bootstrapKey !== undefined && proof !== undefined && !verifyPossession(bootstrapKey, proof)) {
    problems.add(`${at}.bootstrapConsensusKey: the proof of possession does not verify`);
  }
  const executionKey = problems.check(`${at}.executionKey`, () => importNodeAuthPublicKey(hexToBytes(e.executionKey.publicKey), 'ed25519'));
  if (!cert || !bootstrapKey || !proof || !executionKey) return undefined;
  return { role: 'replica', id: e.id, host: e.host, port: e.port, tlsCertificate: cert, bootstrapKey, bootstrapProof: proof, executionKey };
}

function parseClient(e: ClientEntryJson, at: string, problems: Problems): ClientInfo | undefined {
  const cert = problems.check(`${at}.tlsCertificate`, () => parseCertificatePem(e.tlsCertificate));
  const authKey = problems.check(`${at}.authKey`, () => importNodeAuthPublicKey(hexToBytes(e.authKey.publicKey), 'ed25519'));
  if (!cert || !authKey) return undefined;
  return { role: 'client', id: e.id, host: e.host, port: e.port, tlsCertificate: cert, authKey };
}

/** Two certificates over one key would be one identity under two names. */
function uniqueTlsKeys(nodes: ReadonlyArray<ReplicaInfo | ClientInfo | undefined>, problems: Problems): void {
  const owners = new Map<string, string>();
  for (const node of nodes) {
    if (node === undefined) continue;
    const spki = node.tlsCertificate.publicKey.export({ format: 'der', type: 'spki' }).toString('hex');
    const prior = owners.get(spki);
    if (prior !== undefined) problems.add(`${node.role} ${node.id} has the same TLS key as ${prior}`);
    else owners.set(spki, `${node.role} ${node.id}`);
  }
}

/** One node per endpoint, per certificate and per key: a shared one is a setup mistake or an attack. */
function uniqueness(json: NetworkFileJson, problems: Problems): void {
  const owners = new Map<string, string>();
  const claim = (what: string, value: string, who: string): void => {
    const key = `${what}\0${value}`;
    const prior = owners.get(key);
    if (prior !== undefined) problems.add(`${who} has the same ${what} as ${prior}`);
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
