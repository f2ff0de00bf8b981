// A block's state changes (execution/state-changes.ts): a replica's executor records what each
// block writes to the tries; another executor applies them instead of executing the block and
// reaches the same head, state root, code, storage and balances. Changes that do not lead to the
// certified state root (a balance, a slot, a missing code, garbage) are refused with nothing
// written, and the block still executes afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RLP } from '@ethereumjs/rlp';
import { bytesToHex, createAddressFromString } from '@ethereumjs/util';
import { isBulwarkError } from '../../src/common/errors.ts';
import { initHashes, keccak256 } from '../../src/crypto/hash.ts';
import { Executor, type ExecuteOutcome } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytecode, encodeCall } from '../helpers/abi.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const B = testKey(1);
const NEW = '0x00000000000000000000000000000000000000cc';
const addr = (h: string) => createAddressFromString(h);

/** Exerciser.slots(key) is mapping slot 0: keccak(key ‖ 0). */
function slotOf(key: bigint): bigint {
  const buf = Buffer.alloc(64);
  buf.writeBigUInt64BE(key, 24);
  return BigInt(bytesToHex(keccak256(buf)));
}

/** The replica's chain: deploys, a token transfer and slot writes, a slot cleared, a new account. */
async function replicaBlocks(): Promise<{ replica: Executor; outs: ExecuteOutcome[]; token: string; exerciser: string }> {
  const replica = await Executor.open({ kv: new MemoryStore(), config: testConfig(), recordChanges: true });
  const c = replica.common;
  const outs: ExecuteOutcome[] = [];
  const run = async (txs: Uint8Array[]) => {
    const out = await replica.execute(replica.head.hash(), txs, replica.head.header.timestamp + 1n);
    assert.equal(out.rejected.length, 0);
    assert.ok(out.changes !== undefined && out.changes.length > 0, 'the changes come with the block');
    outs.push(out);
    return out;
  };
  const deployed = await run([
    signTx(c, A, { nonce: 0n, data: bytecode('Token', 1_000_000n), gasLimit: 1_500_000n }).serialize(),
    signTx(c, A, { nonce: 1n, data: bytecode('Exerciser'), gasLimit: 3_000_000n }).serialize(),
  ]);
  const token = bytesToHex(deployed.receipts[0]!.contractAddress!);
  const exerciser = bytesToHex(deployed.receipts[1]!.contractAddress!);
  await run([
    signTx(c, A, { nonce: 2n, to: token, data: encodeCall('transfer(address,uint256)', addressOf(B), 250n) }).serialize(),
    signTx(c, B, { nonce: 0n, to: exerciser, data: encodeCall('store(uint256,uint256)', 5n, 42n) }).serialize(),
    signTx(c, B, { nonce: 1n, to: exerciser, data: encodeCall('store(uint256,uint256)', 6n, 7n) }).serialize(),
  ]);
  await run([
    signTx(c, B, { nonce: 2n, to: exerciser, data: encodeCall('store(uint256,uint256)', 6n, 0n) }).serialize(),
    signTx(c, A, { nonce: 3n, to: NEW, value: 5n, gasLimit: 21_000n }).serialize(),
  ]);
  return { replica, outs, token, exerciser };
}

test('applying the recorded changes reaches the same head as executing the blocks', async () => {
  const { replica, outs, token, exerciser } = await replicaBlocks();
  const follower = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  for (const out of outs) await follower.apply(out.block, out.receipts, out.rawTransactions, out.changes!);
  assert.equal(bytesToHex(follower.head.hash()), bytesToHex(replica.head.hash()));
  const reader = new ChainReader(follower);
  const truth = new ChainReader(replica);
  assert.deepEqual(await reader.code(addr(token)), await truth.code(addr(token)));
  assert.ok((await reader.code(addr(exerciser))).length > 100);
  assert.equal(BigInt(bytesToHex(await reader.storage(addr(exerciser), slotOf(5n)))), 42n);
  assert.equal(BigInt(bytesToHex(await reader.storage(addr(exerciser), slotOf(6n)))), 0n, 'the cleared slot');
  assert.equal(BigInt(bytesToHex(await reader.storage(addr(exerciser), slotOf(6n), 2n))), 7n, 'the slot at the block before');
  assert.equal(await reader.balance(addr(NEW)), 5n);
  assert.equal(await reader.nonce(addr(addressOf(B))), 3n);
  const bal = await reader.call({ to: addr(token), data: encodeCall('balanceOf(address)', addressOf(B)) });
  assert.equal(BigInt(bytesToHex(bal.returnData)), 250n);
  // Receipts and transaction locations are stored as an executed block's are.
  const receipt = await reader.transaction(keccak256(outs[1]!.rawTransactions[0]!));
  assert.ok(receipt !== undefined);
  // The follower executes on from there: its state manager reads the applied state.
  const next = signTx(follower.common, A, { nonce: 4n, to: NEW, value: 1n, gasLimit: 21_000n }).serialize();
  const mine = await follower.execute(follower.head.hash(), [next], follower.head.header.timestamp + 1n);
  const theirs = await replica.execute(replica.head.hash(), [next], replica.head.header.timestamp + 1n);
  assert.equal(bytesToHex(mine.block.hash()), bytesToHex(theirs.block.hash()));
});

type Decoded = [Uint8Array, Uint8Array[], [Uint8Array, Uint8Array, [Uint8Array, Uint8Array][]][], [Uint8Array, Uint8Array][]];

function tamper(changes: Uint8Array, edit: (d: Decoded) => void): Uint8Array {
  const d = RLP.decode(changes) as unknown as Decoded;
  edit(d);
  return RLP.encode(d as unknown as Uint8Array[]);
}

test('changes that do not lead to the certified state are refused and nothing is written', async () => {
  const { replica, outs } = await replicaBlocks();
  const follower = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  const [deploy, writes] = outs as [ExecuteOutcome, ExecuteOutcome, ExecuteOutcome];
  const refused = async (o: ExecuteOutcome, changes: Uint8Array, ...codes: string[]) => {
    const head = bytesToHex(follower.head.hash());
    await assert.rejects(follower.apply(o.block, o.receipts, o.rawTransactions, changes), (e) => codes.some((c) => isBulwarkError(e, c)));
    assert.equal(bytesToHex(follower.head.hash()), head, 'the head did not move');
  };
  // The contracts' code withheld: the accounts name code the follower does not have.
  await refused(deploy, tamper(deploy.changes!, (d) => (d[1] = [])), 'STATE_CHANGES_REFUSED');
  // Garbage, and an unknown version.
  await refused(deploy, new Uint8Array([1, 2, 3]), 'STATE_CHANGES_REFUSED');
  await refused(deploy, tamper(deploy.changes!, (d) => (d[0] = new Uint8Array([9]))), 'STATE_CHANGES_REFUSED');
  // One account's record altered (its last byte: part of the code hash or balance).
  await refused(
    deploy,
    tamper(deploy.changes!, (d) => {
      const rec = d[3][0]![1];
      d[3][0]![1] = RLP.encode((RLP.decode(rec) as Uint8Array[]).map((f, i) => (i === 1 ? new Uint8Array([...f, 1]) : f)));
    }),
    'STATE_CHANGES_REFUSED',
  );
  await follower.apply(deploy.block, deploy.receipts, deploy.rawTransactions, deploy.changes!);
  // A slot's value altered: the contract's storage root no longer matches its account record.
  await refused(
    writes,
    tamper(writes.changes!, (d) => {
      d[2][0]![2][0]![1] = RLP.encode(new Uint8Array([0x77]));
    }),
    'STATE_CHANGES_REFUSED',
  );
  // The slot changes dropped: likewise.
  await refused(writes, tamper(writes.changes!, (d) => (d[2] = [])), 'STATE_CHANGES_REFUSED');
  // Storage applied to a root this store does not hold.
  await refused(writes, tamper(writes.changes!, (d) => (d[2][0]![1] = new Uint8Array(32).fill(0xab))), 'TRIE_MISSING_NODE');
  // Another block's changes (its storage starts from roots this store does not hold yet).
  await refused(writes, outs[2]!.changes!, 'STATE_CHANGES_REFUSED', 'TRIE_MISSING_NODE');
  // Nothing of the refused attempts stayed behind: the block executes to the certified hash.
  const out = await follower.execute(follower.head.hash(), writes.rawTransactions, writes.block.header.timestamp, { expectedHash: writes.block.hash() });
  assert.equal(out.committed, true);
  await follower.apply(outs[2]!.block, outs[2]!.receipts, outs[2]!.rawTransactions, outs[2]!.changes!);
  assert.equal(bytesToHex(follower.head.hash()), bytesToHex(replica.head.hash()));
});
