/**
 * The trusted setup in memory: every node's secrets and the network file that lists their public
 * halves. `init.ts` writes the result to disk; tests and `bulwark dev` can use it directly.
 */
import { BulwarkError } from '../common/errors.ts';
import { blsPublicKeyOf, blsPublicKeyToBytes, blsSignatureToBytes, provePossession } from '../crypto/bls.ts';
import { bytesToHex } from '../crypto/hex.ts';
import { exportNodeAuthPublicKey, nodeAuthPublicKeyOf, type NodeAuthPrivateKey } from '../crypto/node-auth.ts';
import { chainConfigToJson, type ChainConfig } from '../execution/chain-config.ts';
import { randomKeySource, seededKeySource, type KeySource } from './key-source.ts';
import { parseNetworkFile, serializeNetworkFile, type NetworkConfig } from './network-file.ts';
import { NETWORK_FILE_FORMAT, NETWORK_FILE_VERSION, type ClientEntryJson, type NetworkFileJson, type ReplicaEntryJson } from './network-schema.ts';
import type { ClientSecrets, OperatorSecrets, ReplicaSecrets } from './node-directory.ts';
import { makeBlsKey, makeEd25519Key, makeTlsIdentity, type CertificatePolicy } from './node-keys.ts';
import { resolveTopology, type Endpoint, type TopologyInput } from './topology.ts';

export const DEFAULT_CERT_VALIDITY_DAYS = 3650;

export interface GenerateOptions {
  readonly topology: TopologyInput;
  readonly chainConfig: ChainConfig;
  /** Deterministic mode: every key derived from this seed. For tests and throw-away networks only. */
  readonly seed?: Uint8Array;
  readonly certValidityDays?: number;
  readonly now?: Date;
}

export interface GeneratedNetwork {
  readonly network: NetworkConfig;
  /** The network file's canonical text. */
  readonly text: string;
  readonly replicas: readonly ReplicaSecrets[];
  readonly clients: readonly ClientSecrets[];
  readonly operator: OperatorSecrets;
}

export function generateNetwork(options: GenerateOptions): GeneratedNetwork {
  const topology = resolveTopology(options.topology);
  const validityDays = options.certValidityDays ?? DEFAULT_CERT_VALIDITY_DAYS;
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 36_500) {
    throw new BulwarkError('SETUP_INVALID_INPUT', `certificate validity must be 1..36500 days, got ${validityDays}`);
  }
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
    const id = topology.firstClient + i;
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
    // Written only when it differs from n, so a file without room to grow reads as before.
    ...(topology.firstClient === topology.n ? {} : { firstClient: topology.firstClient }),
    operator: ed25519Json(operator.operatorKey),
    replicas: replicas.map((r, id) => replicaEntry(r, topology.replicas[id]!)),
    clients: clients.map((c, i) => clientEntry(c, topology.clients[i]!)),
    chainConfig: chainConfigToJson(options.chainConfig),
  };
  // What we hand out must be what we would load: parse it back through the loader's checks.
  const network = parseNetworkFile(json, 'the generated network file');
  return { network, text: serializeNetworkFile(network.json), replicas, clients, operator };
}

function ed25519Json(key: NodeAuthPrivateKey): { algorithm: 'ed25519'; publicKey: string } {
  return { algorithm: 'ed25519', publicKey: `0x${bytesToHex(exportNodeAuthPublicKey(nodeAuthPublicKeyOf(key)))}` };
}

/** A replica's public entry in the network file, from its secrets. */
export function replicaEntry(r: ReplicaSecrets, e: Endpoint): ReplicaEntryJson {
  return {
    id: r.id,
    host: e.host,
    port: e.port,
    tlsCertificate: r.tls.certificate.pem,
    bootstrapConsensusKey: {
      publicKey: `0x${bytesToHex(blsPublicKeyToBytes(blsPublicKeyOf(r.bootstrapKey)))}`,
      proofOfPossession: `0x${bytesToHex(blsSignatureToBytes(provePossession(r.bootstrapKey)))}`,
    },
    executionKey: ed25519Json(r.executionKey),
  };
}

function clientEntry(c: ClientSecrets, e: Endpoint): ClientEntryJson {
  return { id: c.id, host: e.host, port: e.port, tlsCertificate: c.tls.certificate.pem, authKey: ed25519Json(c.authKey) };
}
