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

function nodeHash(h: Hasher, left: Uint8Array, right: Uint8Array): Uint8Array {
  const b = new Uint8Array(65);
  b[0] = 1;
  b.set(left, 1);
  b.set(right, 33);
  return h(b);
}

/** The root and, for each leaf, its sibling path from the bottom up. */
export function merkleTree(h: Hasher, leaves: readonly Uint8Array[]): { root: Uint8Array; proofs: Uint8Array[][] } {
  if (leaves.length === 0) return { root: h(new Uint8Array(0)), proofs: [] };
  let level = leaves.map((l) => leafHash(h, l));
  let positions = leaves.map((_, i) => i);
  const proofs: Uint8Array[][] = leaves.map(() => []);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? nodeHash(h, level[i]!, level[i + 1]!) : level[i]!);
    }
    for (let leaf = 0; leaf < leaves.length; leaf++) {
      const pos = positions[leaf]!;
      const sibling = pos ^ 1;
      if (sibling < level.length) proofs[leaf]!.push(level[sibling]!);
      positions[leaf] = pos >> 1;
    }
    level = next;
    positions = positions.slice();
  }
  return { root: level[0]!, proofs };
}

/** Recomputes the root from a leaf, its index among `count` leaves and its proof. */
export function merkleRootFromProof(
  h: Hasher,
  leaf: Uint8Array,
  index: number,
  count: number,
  proof: readonly Uint8Array[],
): Uint8Array | null {
  if (index < 0 || index >= count) return null;
  let node = leafHash(h, leaf);
  let pos = index;
  let width = count;
  let used = 0;
  while (width > 1) {
    const sibling = pos ^ 1;
    if (sibling < width) {
      const s = proof[used++];
      if (s === undefined) return null;
      node = pos & 1 ? nodeHash(h, s, node) : nodeHash(h, node, s);
    }
    pos >>= 1;
    width = Math.ceil(width / 2);
  }
  return used === proof.length ? node : null;
}
