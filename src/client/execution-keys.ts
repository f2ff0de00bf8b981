/**
 * How a client node checks what replicas sign with their execution keys: by the sequence number
 * the signature is about (replies, block notices: the key in effect there), or, for answers not
 * tied to one (status, reads), under the replica's latest key or the one before it (a switch may
 * be under way). Keys rotate (`consensus/node-keys.ts`); a fixed list serves tests and tools that
 * hold only the network file's keys.
 */
import type { NodeKeyBook } from '../consensus/node-keys.ts';
import { verifyNodeAuth, type NodeAuthPublicKey } from '../crypto/index.ts';

export interface ExecutionKeys {
  /** The number of replicas. */
  readonly n: number;
  verify(replica: number, message: Uint8Array, signature: Uint8Array, seq?: number): boolean;
}

export type ExecutionKeysInput = readonly NodeAuthPublicKey[] | ExecutionKeys;

export function executionKeys(k: ExecutionKeysInput): ExecutionKeys {
  if (!Array.isArray(k)) return k as ExecutionKeys;
  const keys = k as readonly NodeAuthPublicKey[];
  return {
    n: keys.length,
    verify: (r, message, signature) => {
      const pk = keys[r];
      return pk !== undefined && verifyNodeAuth(pk, message, signature);
    },
  };
}

/** The execution keys of a key history (a client node's, which follows the rotations). */
export function executionKeysOf(book: NodeKeyBook<NodeAuthPublicKey>, n: number): ExecutionKeys {
  return {
    n,
    verify: (r, message, signature, seq) => {
      if (!Number.isInteger(r) || r < 0 || r >= n) return false;
      const keys = seq === undefined ? book.keysNewestFirst('execution', r).slice(0, 2) : [book.keyAt('execution', r, seq)];
      return keys.some((pk) => pk !== undefined && verifyNodeAuth(pk, message, signature));
    },
  };
}
