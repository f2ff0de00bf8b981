/**
 * What `bulwark init` writes, file by file. Each node's directory is self-contained (its private
 * keys, its certificate, a copy of the network file) so it can be copied to its host as it is.
 *
 *   <out>/network.json                 everyone's public material
 *   <out>/replica-<id>/                one per replica
 *       node.json                      {format, version, role, id, encrypted}
 *       network.json                   copy of <out>/network.json
 *       tls.key   tls.crt              P-384 TLS key (key file, 0600) and its certificate (PEM)
 *       bootstrap-consensus.key        BLS12-381 bootstrap consensus secret key (key file, 0600);
 *                                      consensus key epoch 0, deleted once a newer key is in effect
 *       keys/consensus-<epoch>.key     consensus keys the replica generated itself, epoch 1, 2, …
 *                                      (not written by init; see `consensus-keys.ts`)
 *       execution.key                  Ed25519 execution key (key file, 0600); execution key epoch 0
 *       keys/execution-<epoch>.key     execution keys the replica generated itself (`node-key-store.ts`)
 *       keys/tls-<epoch>.key           TLS keys the node generated itself, each with its certificate
 *       keys/tls-<epoch>.crt           beside it (PEM, 0644)
 *   <out>/client-<id>/                 one per client node: node.json, network.json, tls.key,
 *       auth.key                       tls.crt, and its Ed25519 authentication key (epoch 0);
 *       keys/auth-<epoch>.key          later ones, and keys/tls-<epoch>.{key,crt} as for a replica
 *   <out>/operator/                    node.json, network.json, operator.key (Ed25519)
 *
 * A replica that joins a running network (`bulwark member`, `member.ts`) starts as the same replica
 * directory without network.json (the file that lists it does not exist yet) and with member.json,
 * its public entry for the operator; it loads once the operator's new network.json is copied in.
 *
 * Each epoch-0 file is deleted (a key file erased first) once a newer key of its kind is in effect.
 * A generated TLS key is two files because a key file holds one key and nothing else: the
 * certificate is written durably first, and the key file, written last, is what makes the epoch
 * exist. A `keys/tls-<epoch>.crt` without its key file is what a crash left mid-generate or mid-retire,
 * removed when the store opens; a key file without its certificate is refused.
 */
export const NETWORK_FILE = 'network.json';
export const NODE_FILE = 'node.json';
/** A joining replica's public entry (a network file's `replicas[]` item), for `bulwark reconfigure --add`. */
export const MEMBER_FILE = 'member.json';
export const TLS_CERT_FILE = 'tls.crt';

export const NODE_FILE_FORMAT = 'bulwark-node';
export const NODE_FILE_VERSION = 1;

/** File name, key-file kind and algorithm of every private key, so a misplaced key is refused by name. */
export const KEY_FILES = {
  tls: { file: 'tls.key', kind: 'tls-private', algorithm: 'p384' },
  bootstrap: { file: 'bootstrap-consensus.key', kind: 'bls-bootstrap-secret', algorithm: 'bls12-381' },
  execution: { file: 'execution.key', kind: 'execution-private', algorithm: 'ed25519' },
  auth: { file: 'auth.key', kind: 'client-auth-private', algorithm: 'ed25519' },
  operator: { file: 'operator.key', kind: 'operator-private', algorithm: 'ed25519' },
} as const;
export type KeyFileSpec = (typeof KEY_FILES)[keyof typeof KEY_FILES];

/** Where a node keeps the keys it generates itself (epoch ≥ 1), of every kind. */
export const KEY_DIR = 'keys';
/** Where a replica keeps the consensus keys it generates itself (epoch ≥ 1). */
export const CONSENSUS_KEY_DIR = KEY_DIR;

export interface ConsensusKeyFileSpec {
  readonly file: string;
  readonly kind: string;
  readonly algorithm: 'bls12-381';
}

/**
 * The key file of consensus key `epoch`: the bootstrap key for epoch 0, else `keys/consensus-<epoch>.key`
 * whose kind carries the epoch, so a file renamed to another epoch is refused by name (and, sealed,
 * cannot be relabelled: the kind is the seal's additional data).
 */
export function consensusKeyFile(epoch: number): ConsensusKeyFileSpec {
  if (epoch === 0) return KEY_FILES.bootstrap;
  return { file: `${CONSENSUS_KEY_DIR}/consensus-${epoch}.key`, kind: `bls-consensus-secret/epoch-${epoch}`, algorithm: 'bls12-381' };
}

/** The keys a node rotates besides its consensus keys: a replica's execution key, a client's authentication key, the TLS key of both. */
export type NodeKeyKind = 'execution' | 'auth' | 'tls';

export interface NodeKeyFileSpec {
  readonly file: string;
  readonly kind: string;
  readonly algorithm: 'ed25519' | 'p384';
}

/**
 * The key file of `kind`'s key `epoch`: the file `bulwark init` wrote for epoch 0, else
 * `keys/<kind>-<epoch>.key` whose key-file kind carries the epoch (`execution-private/epoch-3`), so a
 * file renamed to another epoch is refused by name, as for `consensusKeyFile`.
 */
export function nodeKeyFile(kind: NodeKeyKind, epoch: number): NodeKeyFileSpec {
  const spec = KEY_FILES[kind];
  if (epoch === 0) return spec;
  return { file: `${KEY_DIR}/${kind}-${epoch}.key`, kind: `${spec.kind}/epoch-${epoch}`, algorithm: spec.algorithm };
}

/** The certificate (PEM) of TLS key `epoch`: `tls.crt` for epoch 0, else beside the key file. */
export function tlsCertificateFile(epoch: number): string {
  return epoch === 0 ? TLS_CERT_FILE : `${KEY_DIR}/tls-${epoch}.crt`;
}

export type DirectoryRole = 'replica' | 'client' | 'operator';

export function nodeDirectoryName(role: DirectoryRole, id?: number): string {
  return role === 'operator' ? 'operator' : `${role}-${id}`;
}
