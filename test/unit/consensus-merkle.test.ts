import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '../../src/crypto/index.ts';
import { merkleRootFromProof, merkleTree } from '../../src/consensus/merkle.ts';

const leaf = (i: number) => new TextEncoder().encode(`result ${i}`);

test('every leaf proves itself under the root, for trees of 1 to 33 leaves', () => {
  for (let count = 1; count <= 33; count++) {
    const leaves = Array.from({ length: count }, (_, i) => leaf(i));
    const { root, proofs } = merkleTree(sha256, leaves);
    for (let i = 0; i < count; i++) {
      assert.deepEqual(merkleRootFromProof(sha256, leaves[i]!, i, count, proofs[i]!), root, `${i} of ${count}`);
    }
  }
});

test('a wrong leaf, index, count or proof does not reach the root', () => {
  const leaves = Array.from({ length: 7 }, (_, i) => leaf(i));
  const { root, proofs } = merkleTree(sha256, leaves);
  const differs = (r: Uint8Array | null) => r === null || Buffer.compare(r, root) !== 0;
  assert.ok(differs(merkleRootFromProof(sha256, leaf(99), 3, 7, proofs[3]!)));
  assert.ok(differs(merkleRootFromProof(sha256, leaves[3]!, 4, 7, proofs[3]!)));
  assert.ok(differs(merkleRootFromProof(sha256, leaves[6]!, 6, 8, proofs[6]!)));
  assert.ok(differs(merkleRootFromProof(sha256, leaves[3]!, 3, 7, proofs[3]!.slice(1))));
  assert.ok(differs(merkleRootFromProof(sha256, leaves[3]!, 3, 7, [...proofs[3]!, root])));
  assert.equal(merkleRootFromProof(sha256, leaves[3]!, 7, 7, proofs[3]!), null);
});

test('a leaf cannot pass for an inner node (domain separation)', () => {
  const leaves = [leaf(0), leaf(1)];
  const { root } = merkleTree(sha256, leaves);
  const single = merkleTree(sha256, [root]);
  assert.notDeepEqual(single.root, root);
});
