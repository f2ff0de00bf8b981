/**
 * The batch trie updater must give exactly the roots ethereumjs' trie gives, for any mix of inserts,
 * updates and deletes, including short values (embedded nodes) and keys sharing long prefixes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { KECCAK256_RLP } from '@ethereumjs/util';
import { initHashes, keccak256, sha256 } from '../../src/crypto/hash.ts';
import { bytesToNibbles, updateTrie, type NodeIo } from '../../src/execution/bulk-trie.ts';

await initHashes();

/** A seeded generator, so a failure can be replayed from the printed seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function memoryIo(): NodeIo & { nodes: Map<string, Uint8Array> } {
  const nodes = new Map<string, Uint8Array>();
  return {
    nodes,
    async get(hash) {
      return nodes.get(Buffer.from(hash).toString('hex'));
    },
    put(hash, encoded) {
      nodes.set(Buffer.from(hash).toString('hex'), encoded);
    },
    keccak: keccak256,
  };
}

async function compare(seed: number, rounds: number, keySpace: number, keyLen: number): Promise<void> {
  const rand = prng(seed);
  const reference = new MerklePatriciaTrie();
  const io = memoryIo();
  let root: Uint8Array = KECCAK256_RLP;
  const live = new Set<number>();
  for (let round = 0; round < rounds; round++) {
    const batch = new Map<number, Uint8Array | undefined>();
    const size = 1 + Math.floor(rand() * 40);
    for (let i = 0; i < size; i++) {
      const k = Math.floor(rand() * keySpace);
      const del = live.size > 0 && rand() < 0.3;
      const short = rand() < 0.5;
      batch.set(k, del ? undefined : sha256(Uint8Array.of(seed, round, i)).slice(0, short ? 1 + Math.floor(rand() * 4) : 32));
    }
    const keyOf = (k: number) => sha256(new Uint8Array(Uint32Array.of(k, seed).buffer)).slice(0, keyLen);
    for (const [k, v] of batch) {
      if (v === undefined) await reference.del(keyOf(k));
      else await reference.put(keyOf(k), v);
      if (v === undefined) live.delete(k);
      else live.add(k);
    }
    root = await updateTrie(
      io,
      root,
      KECCAK256_RLP,
      [...batch].map(([k, value]) => ({ key: bytesToNibbles(keyOf(k)), value })),
    );
    assert.equal(
      Buffer.from(root).toString('hex'),
      Buffer.from(reference.root()).toString('hex'),
      `seed ${seed}, round ${round}: roots differ`,
    );
  }
}

test('random inserts, updates and deletes give ethereumjs roots (32-byte keys)', async () => {
  for (let seed = 1; seed <= 12; seed++) await compare(seed, 25, 300, 32);
});

test('short keys sharing prefixes (extension splits and merges, embedded nodes)', async () => {
  for (let seed = 100; seed <= 112; seed++) await compare(seed, 25, 40, 2);
});

test('deleting everything returns the empty root', async () => {
  const io = memoryIo();
  const keys = [1, 2, 3, 4, 5].map((i) => bytesToNibbles(keccak256(Uint8Array.of(i))));
  const root = await updateTrie(io, KECCAK256_RLP, KECCAK256_RLP, keys.map((key) => ({ key, value: Uint8Array.of(1, 2, 3) })));
  assert.notDeepEqual(root, KECCAK256_RLP);
  const empty = await updateTrie(io, root, KECCAK256_RLP, keys.map((key) => ({ key, value: undefined })));
  assert.deepEqual(empty, KECCAK256_RLP);
});

test('a missing node is a typed error, not a wrong root', async () => {
  await assert.rejects(
    updateTrie(memoryIo(), keccak256(Uint8Array.of(9)), KECCAK256_RLP, [{ key: [1, 2], value: Uint8Array.of(1) }]),
    (e: Error & { code?: string }) => e.code === 'TRIE_MISSING_NODE',
  );
});
