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
 *       execution.key                  Ed25519 execution key (key file, 0600)
 *   <out>/client-<id>/                 one per client node: node.json, network.json, tls.key,
 *       auth.key                       tls.crt, and its Ed25519 authentication key
 *   <out>/operator/                    node.json, network.json, operator.key (Ed25519)
 */
export const NETWORK_FILE = 'network.json';
export const NODE_FILE = 'node.json';
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

/** Where a replica keeps the consensus keys it generates itself (epoch ≥ 1). */
export const CONSENSUS_KEY_DIR = 'keys';

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

export type DirectoryRole = 'replica' | 'client' | 'operator';

export function nodeDirectoryName(role: DirectoryRole, id?: number): string {
  return role === 'operator' ? 'operator' : `${role}-${id}`;
}
