// eth_getProof's source: a replica's signed read of an EIP-1186 proof, which verifies against the
// block's state root for the account and for each storage slot (and proves absence too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyMerkleProof } from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ReadService } from '../../src/replica/read-service.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytecode } from '../helpers/abi.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const hex = (h: string) => new Uint8Array(Buffer.from(h.slice(2).length % 2 ? `0${h.slice(2)}` : h.slice(2), 'hex'));

test('a proof read: the account and its storage slots, each verified against the state root', async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  const A = testKey(0);
  const deploy = signTx(ex.common, A, { nonce: 0n, data: bytecode('Token', 777n), gasLimit: 2_000_000n }).serialize();
  const r = await ex.execute(ex.head.hash(), [deploy], ex.head.header.timestamp + 1n);
  const token = createContractAddress(createAddressFromString(addressOf(A)), 0n);
  const service = new ReadService(ex, () => new Uint8Array(64));
  // Slot 2 is totalSupply (777); slot 9 is empty.
  const slot = (n: number) => new Uint8Array(32).fill(0).map((_, i) => (i === 31 ? n : 0));
  const reply = await service.answer(9, { type: 'ReadRequest', id: 1, blockNumber: 1, queries: [{ kind: 'proof', address: token.bytes, slots: [slot(2), slot(9)] }] });
  assert.ok(typeof reply === 'object');
  assert.equal(reply.answers[0]!.ok, true);
  const proof = JSON.parse(new TextDecoder().decode(reply.answers[0]!.result)) as {
    nonce: string; balance: string; storageHash: string; codeHash: string; accountProof: string[];
    storageProof: { key: string; value: string; proof: string[] }[];
  };
  const account = await verifyMerkleProof(token.bytes, proof.accountProof.map(hex), { root: r.stateRoot, useKeyHashing: true });
  assert.ok(account !== null, 'the account is in the state');
  const [, , storageRoot, codeHash] = RLP.decode(account) as Uint8Array[];
  assert.equal(`0x${Buffer.from(storageRoot!).toString('hex')}`, proof.storageHash);
  assert.equal(`0x${Buffer.from(codeHash!).toString('hex')}`, proof.codeHash);
  assert.equal(BigInt(proof.storageProof[0]!.value), 777n);
  const supply = await verifyMerkleProof(slot(2), proof.storageProof[0]!.proof.map(hex), { root: storageRoot!, useKeyHashing: true });
  assert.deepEqual(RLP.decode(supply!), hex('0x0309'));
  const empty = await verifyMerkleProof(slot(9), proof.storageProof[1]!.proof.map(hex), { root: storageRoot!, useKeyHashing: true });
  assert.equal(empty, null, 'an empty slot is proven absent');
  assert.equal(BigInt(proof.storageProof[1]!.value), 0n);
  // An account that does not exist: proven absent, zero fields.
  const none = await service.answer(9, { type: 'ReadRequest', id: 2, blockNumber: 1, queries: [{ kind: 'proof', address: new Uint8Array(20).fill(0xee), slots: [] }] });
  assert.ok(typeof none === 'object');
  const absent = JSON.parse(new TextDecoder().decode(none.answers[0]!.result)) as { balance: string; accountProof: string[] };
  assert.equal(absent.balance, '0x0');
  assert.equal(await verifyMerkleProof(new Uint8Array(20).fill(0xee), absent.accountProof.map(hex), { root: r.stateRoot, useKeyHashing: true }), null);
});
