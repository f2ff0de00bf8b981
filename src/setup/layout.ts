/**
 * What `bulwark init` writes, file by file. Each node's directory is self-contained (its private
 * keys, its certificate, a copy of the network file) so it can be copied to its host as it is.
 *
 *   <out>/network.json                 everyone's public material
 *   <out>/replica-<id>/                one per replica
 *       node.json                      {format, version, role, id, encrypted}
 *       network.json                   copy of <out>/network.json
 *       tls.key   tls.crt              P-384 TLS key (key file, 0600) and its certificate (PEM)
 *       bootstrap-consensus.key        BLS12-381 bootstrap consensus secret key (key file, 0600)
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

export type DirectoryRole = 'replica' | 'client' | 'operator';

export function nodeDirectoryName(role: DirectoryRole, id?: number): string {
  return role === 'operator' ? 'operator' : `${role}-${id}`;
}
