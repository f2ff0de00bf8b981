/**
 * How a client node checks what replicas sign with their execution keys: by the sequence number
 * the signature is about (replies, block notices: the key in effect there), or, for answers not
 * tied to one (status, reads), under the replica's latest key or the one before it (a switch may
 * be under way). Keys rotate (`consensus/node-keys.ts`); a fixed list serves tests and tools that
 * hold only the network file's keys.
 */
import type { NodeKeyBook } from '../consensus/node-keys.ts';
import { RecentMap } from '../common/recent-map.ts';
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

/**
 * The execution keys of a key history (a client node's, which follows the rotations). A replica
 * signs the same bytes once for its reply and its block notice (`replyBytes`), and the client node
 * checks both: a signature that verified for a sequence number is remembered (the last few
 * thousand), so the second check is a lookup that must find the same replica, sequence number,
 * signature and message. Half the client node's signature checks under load.
 */
export function executionKeysOf(book: NodeKeyBook<NodeAuthPublicKey>, n: number): ExecutionKeys {
  const verified = new RecentMap<string, string>(4_096);
  return {
    n,
    verify: (r, message, signature, seq) => {
      if (!Number.isInteger(r) || r < 0 || r >= n) return false;
      const memo = seq === undefined ? null : `${r}:${seq}:${Buffer.from(signature).toString('hex')}`;
      const bytes = memo === null ? '' : Buffer.from(message).toString('hex');
      if (memo !== null && verified.get(memo) === bytes) return true;
      const keys = seq === undefined ? book.keysNewestFirst('execution', r).slice(0, 2) : [book.keyAt('execution', r, seq)];
      const ok = keys.some((pk) => pk !== undefined && verifyNodeAuth(pk, message, signature));
      if (ok && memo !== null) verified.set(memo, bytes);
      return ok;
    },
  };
}
