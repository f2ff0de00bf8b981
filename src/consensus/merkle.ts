/**
 * A binary Merkle tree over one batch's results, so a replica signs a batch once and each reply
 * proves its own result under the signed root. Leaves and inner nodes are domain-separated (0x00 /
 * 0x01 prefixes) so a leaf can never pass for a node; an odd node is promoted unchanged.
 */
export type Hasher = (bytes: Uint8Array) => Uint8Array;

function leafHash(h: Hasher, leaf: Uint8Array): Uint8Array {
  const b = new Uint8Array(leaf.length + 1);
  b.set(leaf, 1);
  return h(b);
}

function nodeHash(h: Hasher, scratch: Uint8Array, left: Uint8Array, right: Uint8Array): Uint8Array {
  scratch[0] = 1;
  scratch.set(left, 1);
  scratch.set(right, 33);
  return h(scratch);
}

/** The root and, for each leaf, its sibling path from the bottom up. */
export function merkleTree(h: Hasher, leaves: readonly Uint8Array[]): { root: Uint8Array; proofs: Uint8Array[][] } {
  if (leaves.length === 0) return { root: h(new Uint8Array(0)), proofs: [] };
  const scratch = new Uint8Array(65);
  const levels: Uint8Array[][] = [leaves.map((l) => leafHash(h, l))];
  for (let level = levels[0]!; level.length > 1; ) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? nodeHash(h, scratch, level[i]!, level[i + 1]!) : level[i]!);
    }
    levels.push(next);
    level = next;
  }
  const proofs = leaves.map((_, leaf) => {
    const proof: Uint8Array[] = [];
    for (let k = 0, pos = leaf; k < levels.length - 1; k++, pos >>= 1) {
      const sibling = levels[k]![pos ^ 1];
      if (sibling !== undefined) proof.push(sibling);
    }
    return proof;
  });
  return { root: levels[levels.length - 1]![0]!, proofs };
}

/** Recomputes the root from a leaf, its index among `count` leaves and its proof. */
export function merkleRootFromProof(
  h: Hasher,
  leaf: Uint8Array,
  index: number,
  count: number,
  proof: readonly Uint8Array[],
): Uint8Array | null {
  if (!Number.isInteger(index) || index < 0 || index >= count) return null;
  const scratch = new Uint8Array(65);
  let node = leafHash(h, leaf);
  let pos = index;
  let width = count;
  let used = 0;
  while (width > 1) {
    if ((pos ^ 1) < width) {
      const s = proof[used++];
      if (s === undefined || s.length !== 32) return null;
      node = pos & 1 ? nodeHash(h, scratch, s, node) : nodeHash(h, scratch, node, s);
    }
    pos >>= 1;
    width = Math.ceil(width / 2);
  }
  return used === proof.length ? node : null;
}
