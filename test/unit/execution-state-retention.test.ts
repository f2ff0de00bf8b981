// The executor's long-lived state keeps its caches bounded between blocks (found by the soak: every
// account, code, slot and storage trie a replica ever touched stayed in its heap), and what it lets
// go is read back right from the trie.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAccount, createAddressFromString, setLengthLeft, bigIntToBytes, bytesToBigInt } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { openState } from '../../src/execution/state.ts';
import type { BatchedStateManager } from '../../src/execution/batched-state.ts';
import { NodeCache, TrieNodeStore } from '../../src/execution/trie-store.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { testConfig } from '../helpers/chain.ts';

await initHashes();

const address = (i: number) => createAddressFromString(`0x${(i + 1).toString(16).padStart(40, '0')}`);
const slot = (i: number) => setLengthLeft(bigIntToBytes(BigInt(i)), 32);

test('between blocks the caches are cut to their retention, and what was let go reads back from the trie', async () => {
  const config = testConfig();
  const common = buildCommon(config.chainId, config.hardfork);
  const store = new TrieNodeStore({ kv: new MemoryStore(), prefix: PREFIX.stateTrie, cache: new NodeCache() });
  const retain = { accounts: 50, slots: 40, codes: 3, storageTries: 8 };
  const state = openState({ common, store, caches: { kind: 'long-lived', blockGasLimit: config.blockGasLimit, retain } }) as BatchedStateManager;
  const token = address(10_000);
  // Ten "blocks": each creates 20 accounts, 2 contracts with code and a slot, and 15 slots of one
  // token (a contract with many holders: bounded by slot, not by contract).
  for (let b = 0; b < 10; b++) {
    await state.checkpoint();
    for (let i = 0; i < 20; i++) await state.putAccount(address(b * 20 + i), createAccount({ balance: BigInt(b * 20 + i + 1) }));
    for (let c = 0; c < 2; c++) {
      const contract = address(5_000 + b * 2 + c);
      await state.putAccount(contract, createAccount({}));
      await state.putCode(contract, new Uint8Array([0x60, b, 0x60, c, 0x00]));
      await state.putStorage(contract, slot(1), bigIntToBytes(BigInt(b * 2 + c + 1)));
    }
    if (b === 0) await state.putAccount(token, createAccount({}));
    for (let i = 0; i < 15; i++) await state.putStorage(token, slot(b * 15 + i), bigIntToBytes(BigInt(b * 15 + i + 1)));
    await state.commit();
    const sizes = state.cacheSizes();
    assert.ok(sizes.accounts <= retain.accounts, `accounts ${sizes.accounts} after block ${b}`);
    assert.ok(sizes.slots <= retain.slots, `slots ${sizes.slots} after block ${b}`);
    assert.ok(sizes.codes <= retain.codes, `codes ${sizes.codes} after block ${b}`);
    assert.ok(sizes.storageTries <= retain.storageTries, `storage tries ${sizes.storageTries} after block ${b}`);
  }
  // Everything written, the oldest long gone from the caches, reads back as written.
  for (let i = 0; i < 200; i++) assert.equal((await state.getAccount(address(i)))?.balance, BigInt(i + 1), `account ${i}`);
  for (let k = 0; k < 20; k++) {
    const contract = address(5_000 + k);
    assert.deepEqual(await state.getCode(contract), new Uint8Array([0x60, Math.floor(k / 2), 0x60, k % 2, 0x00]), `code ${k}`);
    assert.equal(bytesToBigInt(await state.getStorage(contract, slot(1))), BigInt(k + 1), `contract ${k}'s slot`);
  }
  for (let i = 0; i < 150; i++) assert.equal(bytesToBigInt(await state.getStorage(token, slot(i))), BigInt(i + 1), `token slot ${i}`);
  // And the state root is the one the same writes give with no cutting at all.
  const plain = openState({ common, store: new TrieNodeStore({ kv: new MemoryStore(), prefix: PREFIX.stateTrie, cache: new NodeCache() }), caches: { kind: 'per-run' } });
  await plain.checkpoint();
  for (let i = 0; i < 200; i++) await plain.putAccount(address(i), createAccount({ balance: BigInt(i + 1) }));
  for (let k = 0; k < 20; k++) {
    const contract = address(5_000 + k);
    await plain.putAccount(contract, createAccount({}));
    await plain.putCode(contract, new Uint8Array([0x60, Math.floor(k / 2), 0x60, k % 2, 0x00]));
    await plain.putStorage(contract, slot(1), bigIntToBytes(BigInt(k + 1)));
  }
  await plain.putAccount(token, createAccount({}));
  for (let i = 0; i < 150; i++) await plain.putStorage(token, slot(i), bigIntToBytes(BigInt(i + 1)));
  await plain.commit();
  assert.deepEqual(await state.getStateRoot(), await plain.getStateRoot());
});
