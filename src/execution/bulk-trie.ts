/**
 * Batch update of an Ethereum Merkle-Patricia trie: apply many key changes at once and hash every
 * changed node exactly once.
 *
 * ethereumjs' trie applies changes one key at a time; each `put` walks from the root and re-hashes
 * and stores every node on its path, so a block touching a thousand accounts hashes the upper nodes a
 * thousand times and writes every intermediate version to disk. Here the changes are grouped by
 * nibble while descending, untouched subtrees keep their hash reference, and only the final nodes
 * are encoded, hashed and stored. The resulting root is the same as ethereumjs' (the conformance
 * suite and `test/unit/execution-bulk-trie.test.ts` compare them).
 *
 * Node shapes follow the Yellow Paper, Appendix D: leaf `[hp(path, 1), value]`, extension
 * `[hp(path, 0), child]`, branch `[c0 … c15, value]`; a child whose encoding is under 32 bytes is
 * embedded in its parent instead of referenced by hash.
 */
import { RLP, type NestedUint8Array } from '@ethereumjs/rlp';
import { BulwarkError } from '../common/errors.ts';
import { equalBytes } from '../common/bytes.ts';

export type Nibbles = readonly number[];

/** `value` undefined deletes the key. Keys within one update must be distinct. */
export interface TrieOp {
  readonly key: Nibbles;
  readonly value: Uint8Array | undefined;
}

interface Ref {
  readonly kind: 'ref';
  readonly hash: Uint8Array;
}
interface Leaf {
  readonly kind: 'leaf';
  readonly path: Nibbles;
  readonly value: Uint8Array;
}
interface Ext {
  readonly kind: 'ext';
  readonly path: Nibbles;
  readonly child: Node;
}
interface Branch {
  readonly kind: 'branch';
  readonly children: readonly (Node | null)[];
  readonly value: Uint8Array | null;
}
type Node = Ref | Leaf | Ext | Branch;

export interface NodeIo {
  /** The stored encoding of a node by its hash. */
  get(hash: Uint8Array): Promise<Uint8Array | undefined>;
  put(hash: Uint8Array, encoded: Uint8Array): void;
  keccak(data: Uint8Array): Uint8Array;
}

export function bytesToNibbles(key: Uint8Array): number[] {
  const out = new Array<number>(key.length * 2);
  for (let i = 0; i < key.length; i++) {
    out[2 * i] = key[i]! >> 4;
    out[2 * i + 1] = key[i]! & 0x0f;
  }
  return out;
}

/** Applies `ops` to the trie with root `root` (the empty-trie root for none) and returns the new root. */
export async function updateTrie(io: NodeIo, root: Uint8Array, emptyRoot: Uint8Array, ops: readonly TrieOp[]): Promise<Uint8Array> {
  if (ops.length === 0) return root;
  const start: Node | null = equalBytes(root, emptyRoot) ? null : { kind: 'ref', hash: root };
  const updated = await apply(io, start, ops, 0);
  if (updated === null) return emptyRoot;
  if (updated.kind === 'ref') return updated.hash;
  const encoded = RLP.encode(raw(io, updated));
  const hash = io.keccak(encoded);
  io.put(hash, encoded);
  return hash;
}

/** The value under `key`, or null: a direct walk from the root, without ethereumjs' async walker. */
export async function lookupTrie(io: NodeIo, root: Uint8Array, emptyRoot: Uint8Array, key: Nibbles): Promise<Uint8Array | null> {
  if (equalBytes(root, emptyRoot)) return null;
  let node: Node | null = { kind: 'ref', hash: root };
  let depth = 0;
  for (;;) {
    if (node === null) return null;
    if (node.kind === 'ref') node = await resolve(io, node.hash);
    if (node.kind === 'leaf') {
      return key.length - depth === node.path.length && startsWith(key, depth, node.path) ? node.value : null;
    }
    if (node.kind === 'ext') {
      if (!startsWith(key, depth, node.path)) return null;
      depth += node.path.length;
      node = node.child;
    } else {
      if (depth === key.length) return node.value;
      node = node.children[key[depth]!] ?? null;
      depth++;
    }
  }
}

/** `depth` is how many leading nibbles of every op's key are already consumed. */
async function apply(io: NodeIo, node: Node | null, ops: readonly TrieOp[], depth: number): Promise<Node | null> {
  if (ops.length === 0) return node;
  const n = node !== null && node.kind === 'ref' ? await resolve(io, node.hash) : node;
  if (n === null) return build(ops.filter((o) => o.value !== undefined), depth);
  switch (n.kind) {
    case 'leaf':
      return applyToLeaf(n, ops, depth);
    case 'ext':
      return applyToExt(io, n, ops, depth);
    default:
      return applyToBranch(io, n, ops, depth);
  }
}

function applyToLeaf(leaf: Leaf, ops: readonly TrieOp[], depth: number): Node | null {
  const overridden = ops.some((o) => o.key.length - depth === leaf.path.length && startsWith(o.key, depth, leaf.path));
  const merged = overridden ? ops : [...ops, { key: [...ops[0]!.key.slice(0, depth), ...leaf.path], value: leaf.value }];
  return build(merged.filter((o) => o.value !== undefined), depth);
}

async function applyToExt(io: NodeIo, ext: Ext, ops: readonly TrieOp[], depth: number): Promise<Node | null> {
  if (ops.every((o) => startsWith(o.key, depth, ext.path))) {
    const child = await apply(io, ext.child, ops, depth + ext.path.length);
    return child === null ? null : normalise(io, { kind: 'ext', path: ext.path, child });
  }
  // Some key leaves the extension's path: open the extension into a branch at its first nibble.
  const children: (Node | null)[] = new Array(16).fill(null);
  children[ext.path[0]!] = ext.path.length === 1 ? ext.child : { kind: 'ext', path: ext.path.slice(1), child: ext.child };
  return applyToBranch(io, { kind: 'branch', children, value: null }, ops, depth);
}

async function applyToBranch(io: NodeIo, branch: Branch, ops: readonly TrieOp[], depth: number): Promise<Node | null> {
  const groups: TrieOp[][] = Array.from({ length: 16 }, () => []);
  let value = branch.value;
  for (const op of ops) {
    if (op.key.length === depth) value = op.value ?? null;
    else groups[op.key[depth]!]!.push(op);
  }
  const children = await Promise.all(
    branch.children.map((child, i) => (groups[i]!.length === 0 ? child : apply(io, child, groups[i]!, depth + 1))),
  );
  return normalise(io, { kind: 'branch', children, value });
}

/** A trie from scratch over `ops` (all inserts). */
function build(ops: readonly TrieOp[], depth: number): Node | null {
  if (ops.length === 0) return null;
  if (ops.length === 1) return { kind: 'leaf', path: ops[0]!.key.slice(depth), value: ops[0]!.value! };
  const common = commonPrefixLength(ops, depth);
  if (common > 0) {
    return { kind: 'ext', path: ops[0]!.key.slice(depth, depth + common), child: build(ops, depth + common)! };
  }
  const groups: TrieOp[][] = Array.from({ length: 16 }, () => []);
  let value: Uint8Array | null = null;
  for (const op of ops) {
    if (op.key.length === depth) value = op.value!;
    else groups[op.key[depth]!]!.push(op);
  }
  return { kind: 'branch', children: groups.map((g) => build(g, depth + 1)), value };
}

/** Restores the trie's canonical shape after children changed: no branch with a single entry, no ext chains. */
async function normalise(io: NodeIo, node: Branch | Ext): Promise<Node | null> {
  if (node.kind === 'ext') {
    const child = node.child.kind === 'ref' ? await resolveIfShort(io, node.child) : node.child;
    if (child.kind === 'leaf') return { kind: 'leaf', path: [...node.path, ...child.path], value: child.value };
    if (child.kind === 'ext') return { kind: 'ext', path: [...node.path, ...child.path], child: child.child };
    return { kind: 'ext', path: node.path, child };
  }
  const present = node.children.flatMap((c, i) => (c === null ? [] : [i]));
  if (present.length === 0) return node.value === null ? null : { kind: 'leaf', path: [], value: node.value };
  if (present.length > 1 || node.value !== null) return node;
  const i = present[0]!;
  return normalise(io, { kind: 'ext', path: [i], child: node.children[i]! });
}

/** A referenced child of an extension must be looked at: if it is a leaf or extension, they merge. */
async function resolveIfShort(io: NodeIo, ref: Ref): Promise<Node> {
  const n = await resolve(io, ref.hash);
  return n.kind === 'branch' ? ref : n;
}

/**
 * Decoded nodes by the identity of their encoded bytes. The node store hands out the same byte
 * array for a cached node every time, so hot nodes (the upper levels of every trie) are decoded once
 * rather than on every walk; decoded nodes are immutable, so sharing them is safe.
 */
const decoded = new WeakMap<Uint8Array, Leaf | Ext | Branch>();

async function resolve(io: NodeIo, hash: Uint8Array): Promise<Leaf | Ext | Branch> {
  const encoded = await io.get(hash);
  if (encoded === undefined) {
    throw new BulwarkError('TRIE_MISSING_NODE', `trie node 0x${Buffer.from(hash).toString('hex')} is missing`);
  }
  let node = decoded.get(encoded);
  if (node === undefined) {
    node = decodeNode(RLP.decode(encoded));
    decoded.set(encoded, node);
  }
  return node;
}

function decodeNode(item: Uint8Array | NestedUint8Array): Leaf | Ext | Branch {
  if (!Array.isArray(item)) throw new BulwarkError('TRIE_BAD_NODE', 'trie node is not a list');
  if (item.length === 17) {
    const children = item.slice(0, 16).map(decodeChild);
    const value = item[16] as Uint8Array;
    return { kind: 'branch', children, value: value.length === 0 ? null : value };
  }
  if (item.length !== 2) throw new BulwarkError('TRIE_BAD_NODE', `trie node has ${item.length} items`);
  const { path, leaf } = decodeHexPrefix(item[0] as Uint8Array);
  if (leaf) return { kind: 'leaf', path, value: item[1] as Uint8Array };
  return { kind: 'ext', path, child: decodeChild(item[1]!) as Node };
}

function decodeChild(item: Uint8Array | NestedUint8Array): Node | null {
  if (Array.isArray(item)) return decodeNode(item);
  const bytes = item as Uint8Array;
  if (bytes.length === 0) return null;
  if (bytes.length !== 32) throw new BulwarkError('TRIE_BAD_NODE', `child reference of ${bytes.length} bytes`);
  return { kind: 'ref', hash: bytes };
}

/** The RLP structure of a node; children under 32 encoded bytes are embedded, the rest stored by hash. */
function raw(io: NodeIo, node: Leaf | Ext | Branch): NestedUint8Array {
  switch (node.kind) {
    case 'leaf':
      return [hexPrefix(node.path, true), node.value];
    case 'ext':
      return [hexPrefix(node.path, false), childRef(io, node.child)];
    case 'branch':
      return [...node.children.map((c) => (c === null ? EMPTY : childRef(io, c))), node.value ?? EMPTY];
  }
}

const EMPTY = new Uint8Array(0);

function childRef(io: NodeIo, child: Node): Uint8Array | NestedUint8Array {
  if (child.kind === 'ref') return child.hash;
  const r = raw(io, child);
  const encoded = RLP.encode(r);
  if (encoded.length < 32) return r;
  const hash = io.keccak(encoded);
  io.put(hash, encoded);
  return hash;
}

function hexPrefix(path: Nibbles, leaf: boolean): Uint8Array {
  const odd = path.length % 2;
  const out = new Uint8Array(Math.floor(path.length / 2) + 1);
  const flag = (leaf ? 2 : 0) + odd;
  out[0] = odd === 1 ? (flag << 4) | path[0]! : flag << 4;
  for (let i = odd, j = 1; i < path.length; i += 2, j++) out[j] = (path[i]! << 4) | path[i + 1]!;
  return out;
}

function decodeHexPrefix(bytes: Uint8Array): { path: number[]; leaf: boolean } {
  const nibbles = bytesToNibbles(bytes);
  const flag = nibbles[0] ?? 0;
  if (flag > 3) throw new BulwarkError('TRIE_BAD_NODE', `bad hex-prefix flag ${flag}`);
  return { path: nibbles.slice(flag % 2 === 1 ? 1 : 2), leaf: flag >= 2 };
}

function startsWith(key: Nibbles, depth: number, path: Nibbles): boolean {
  if (key.length - depth < path.length) return false;
  for (let i = 0; i < path.length; i++) if (key[depth + i] !== path[i]) return false;
  return true;
}

function commonPrefixLength(ops: readonly TrieOp[], depth: number): number {
  const first = ops[0]!.key;
  let len = first.length - depth;
  for (const op of ops) {
    len = Math.min(len, op.key.length - depth);
    for (let i = 0; i < len; i++) {
      if (op.key[depth + i] !== first[depth + i]) {
        len = i;
        break;
      }
    }
  }
  return len;
}
