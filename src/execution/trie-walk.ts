/**
 * What one node of the state trie refers to: the child nodes stored under their own hash, and — in
 * the account trie — each account's storage trie and code. Nodes shorter than 32 bytes are
 * embedded in their parent rather than stored, so they are followed in place. Pure: the walks that
 * read a whole state (a snapshot fetched from peers, `replica/snapshot-sync.ts`; the ledger check's
 * state walk, `verifier/state.ts`) share it.
 */
import { RLP } from '@ethereumjs/rlp';
import { KECCAK256_NULL, KECCAK256_RLP } from '@ethereumjs/util';
import { equalBytes } from '../common/bytes.ts';
import { BulwarkError } from '../common/errors.ts';
import { PREFIX } from '../storage/prefixes.ts';

/** The references found in one stored node (and the nodes embedded in it). */
export interface TrieRefs {
  /** Child nodes of the same trie, by hash. */
  readonly nodes: Uint8Array[];
  /** Storage trie roots of the accounts in the node (account trie only; empty tries left out). */
  readonly storageRoots: Uint8Array[];
  /** Code hashes of the accounts in the node (account trie only; accounts without code left out). */
  readonly codeHashes: Uint8Array[];
}

function malformed(what: string): BulwarkError {
  return new BulwarkError('TRIE_BAD_NODE', `state trie node is malformed: ${what}`);
}

/** Decodes a stored node (its RLP) and collects what it refers to. */
export function trieRefs(encoded: Uint8Array, account: boolean): TrieRefs {
  let node: unknown;
  try {
    node = RLP.decode(encoded);
  } catch {
    throw malformed('it does not decode');
  }
  const refs: TrieRefs = { nodes: [], storageRoots: [], codeHashes: [] };
  collect(node, account, refs);
  return refs;
}

function collect(node: unknown, account: boolean, refs: TrieRefs): void {
  if (!Array.isArray(node)) throw malformed('a node is not a list');
  const values: unknown[] = [];
  if (node.length === 17) {
    for (let i = 0; i < 16; i++) child(node[i], account, refs);
    if (node[16] instanceof Uint8Array && node[16].length > 0) values.push(node[16]);
  } else if (node.length === 2 && node[0] instanceof Uint8Array) {
    // Hex-prefix encoding: the first nibble's 2 bit says leaf.
    const leaf = (node[0][0] ?? 0) >> 4 >= 2;
    if (leaf) values.push(node[1]);
    else child(node[1], account, refs);
  } else throw malformed('neither a branch, an extension nor a leaf');
  if (account) for (const v of values) accountRefs(v, refs);
}

function child(ref: unknown, account: boolean, refs: TrieRefs): void {
  if (ref instanceof Uint8Array) {
    if (ref.length === 0) return;
    if (ref.length !== 32) throw malformed('a child reference is neither a hash nor an embedded node');
    refs.nodes.push(ref);
    return;
  }
  collect(ref, account, refs);
}

function accountRefs(value: unknown, refs: TrieRefs): void {
  if (!(value instanceof Uint8Array)) throw malformed('an account is not a byte string');
  let fields: unknown;
  try {
    fields = RLP.decode(value);
  } catch {
    throw malformed('an account does not decode');
  }
  const [, , storageRoot, codeHash] = Array.isArray(fields) ? fields : [];
  if (!(storageRoot instanceof Uint8Array) || storageRoot.length !== 32 || !(codeHash instanceof Uint8Array) || codeHash.length !== 32) {
    throw malformed('an account is not [nonce, balance, storageRoot, codeHash]');
  }
  if (!equalBytes(storageRoot, KECCAK256_RLP)) refs.storageRoots.push(storageRoot);
  if (!equalBytes(codeHash, KECCAK256_NULL)) refs.codeHashes.push(codeHash);
}

/**
 * Where an item of the state lives in the node's store (ethereumjs' layout under the state trie's
 * prefix): a trie node under its hash, contract code under 'c' ‖ its hash.
 */
export function stateItemKey(code: boolean, hash: Uint8Array): Uint8Array {
  return code ? Uint8Array.of(PREFIX.stateTrie, 0x63 /* 'c' */, ...hash) : Uint8Array.of(PREFIX.stateTrie, ...hash);
}
