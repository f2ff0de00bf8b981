// The state pruner (src/execution/prune.ts): a Bloom filter that never forgets, a mark and sweep
// that leaves every retained state complete and readable — also when blocks write, during the
// prune, nodes the sweep would otherwise delete — and reads below the floor refused as STATE_PRUNED.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { RLP } from '@ethereumjs/rlp';
import { createAddressFromString, bytesToBigInt, bytesToHex, hexToBytes, generateAddress, bigIntToBytes, KECCAK256_NULL, KECCAK256_RLP } from '@ethereumjs/util';
import { initHashes, keccak256 } from '../../src/crypto/hash.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { BloomFilter } from '../../src/storage/bloom.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { StateQueries } from '../../src/execution/state-queries.ts';
import { SerialLock, StatePruner } from '../../src/execution/prune.ts';
import { isBulwarkError } from '../../src/common/errors.ts';
import { equalBytes } from '../../src/common/bytes.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const addr = (h: `0x${string}`) => createAddressFromString(h);
const recipient = (i: number) => `0x${(0xbeef0000 + i).toString(16).padStart(40, '0')}` as const;
/** Runtime code: SSTORE(0, CALLDATALOAD(0)); STOP — a slot set to whatever it is sent. */
const SETTER = Uint8Array.from([0x60, 0x00, 0x35, 0x60, 0x00, 0x55, 0x00]);

/** Init code returning `runtime` (followed by `tag`, so that each deployment has code of its own). */
function deployCode(runtime: Uint8Array, tag = 0): Uint8Array {
  const body = Uint8Array.from([...runtime, 0x60, tag & 0xff, 0x50]); // unreachable PUSH1 tag POP after STOP
  const init = [0x60, body.length, 0x60, 12, 0x60, 0x00, 0x39, 0x60, body.length, 0x60, 0x00, 0xf3];
  return Uint8Array.from([...init, ...body]);
}

function word(n: bigint): Uint8Array {
  const w = new Uint8Array(32);
  let v = n;
  for (let i = 31; i >= 0 && v > 0n; i--, v >>= 8n) w[i] = Number(v & 0xffn);
  return w;
}

/** Every key of the state prefix. */
async function stateKeys(kv: MemoryStore): Promise<number> {
  let n = 0;
  for await (const _ of kv.iterate({ gte: Uint8Array.of(PREFIX.stateTrie), lt: Uint8Array.of(PREFIX.stateTrie + 1) })) n++;
  return n;
}

/** Walks the whole state at `root` (account tries, storage tries, code), failing on any missing node or code. */
async function assertComplete(kv: MemoryStore, root: Uint8Array, what: string): Promise<number> {
  let nodes = 0;
  const visit = async (ref: unknown, account: boolean): Promise<void> => {
    let node: unknown[];
    if (ref instanceof Uint8Array) {
      if (ref.length === 0) return;
      const encoded = await kv.get(Uint8Array.of(PREFIX.stateTrie, ...ref));
      assert.ok(encoded !== undefined, `${what}: node missing`);
      assert.ok(equalBytes(keccak256(encoded), ref), `${what}: node does not hash to its key`);
      nodes++;
      node = RLP.decode(encoded) as unknown[];
    } else node = ref as unknown[];
    const values: Uint8Array[] = [];
    if (node.length === 17) {
      for (let i = 0; i < 16; i++) await visit(node[i], account);
      if ((node[16] as Uint8Array).length > 0) values.push(node[16] as Uint8Array);
    } else if (((node[0] as Uint8Array)[0]! >> 4) >= 2) values.push(node[1] as Uint8Array);
    else await visit(node[1], account);
    if (!account) return;
    for (const v of values) {
      const [, , storageRoot, codeHash] = RLP.decode(v) as Uint8Array[];
      if (!equalBytes(storageRoot!, KECCAK256_RLP)) await visit(storageRoot, false);
      if (!equalBytes(codeHash!, KECCAK256_NULL)) {
        const code = await kv.get(Uint8Array.of(PREFIX.stateTrie, 0x63, ...codeHash!));
        assert.ok(code !== undefined && equalBytes(keccak256(code), codeHash!), `${what}: code missing`);
      }
    }
  };
  if (!equalBytes(root, KECCAK256_RLP)) await visit(root, true);
  return nodes;
}

describe('bloom filter', () => {
  test('never answers absent for a key added, and keeps false positives near the expected rate', () => {
    const bloom = new BloomFilter(10_000 * 10); // 10 bits a key: about 1.2% with 4 probes
    const keys = Array.from({ length: 10_000 }, (_, i) => keccak256(word(BigInt(i))));
    for (const k of keys) bloom.add(k);
    for (const k of keys) assert.ok(bloom.has(k));
    let positives = 0;
    for (let i = 0; i < 20_000; i++) if (bloom.has(keccak256(word(BigInt(1_000_000 + i))))) positives++;
    assert.ok(positives / 20_000 < 0.03, `false positives ${positives} of 20000`);
    assert.ok(Math.abs(bloom.falsePositiveRate - 0.012) < 0.01, `expected rate ${bloom.falsePositiveRate}`);
  });
});

/**
 * A chain where state really turns into garbage: each block pays a new recipient (the sender's
 * leaf and the upper nodes change), deploys a contract of its own code, and sets the one slot of a
 * setter contract to the block's number (its storage trie's leaf changes).
 */
class Chain {
  nonce = 0n;
  setter: `0x${string}` | undefined;
  readonly balances = new Map<bigint, bigint>();

  constructor(readonly ex: Executor, readonly lock: SerialLock, readonly kv: MemoryStore) {}

  static async open(kv = new MemoryStore()): Promise<Chain> {
    return new Chain(await Executor.open({ kv, config: testConfig() }), new SerialLock(), kv);
  }

  tx(fields: { to?: `0x${string}`; value?: bigint; data?: Uint8Array }): Uint8Array {
    return signTx(this.ex.common, A, { nonce: this.nonce++, gasLimit: 500_000n, ...fields }).serialize();
  }

  /** One block, under the execution lock; `slot` is what the setter's slot becomes. */
  async block(i: number, slot = BigInt(i)): Promise<void> {
    const txs = [this.tx({ to: recipient(i), value: 1_000n + BigInt(i) })];
    const deployNonce = this.nonce;
    txs.push(this.tx({ data: deployCode(SETTER, i) }));
    if (this.setter !== undefined) txs.push(this.tx({ to: this.setter, data: word(slot) }));
    const out = await this.lock.run(() => this.ex.execute(this.ex.head.hash(), txs, BigInt(i)));
    assert.equal(out.rejected.length, 0, JSON.stringify(out.rejected));
    this.setter ??= bytesToHex(generateAddress(hexToBytes(addressOf(A)), bigIntToBytes(deployNonce)));
    this.balances.set(out.block.header.number, await new ChainReader(this.ex).balance(addr(recipient(i))));
  }

  pruner(chunkKeys = 64, onMarked?: () => Promise<void>): StatePruner {
    return new StatePruner({ kv: this.kv, executor: this.ex, lock: this.lock, bloomBytes: 64 * 1024, chunkKeys, ...(onMarked === undefined ? {} : { onMarked }) });
  }

  async setterSlot(block: bigint | 'latest'): Promise<bigint> {
    return bytesToBigInt(await new ChainReader(this.ex).storage(addr(this.setter!), 0n, block));
  }
}

describe('state pruner', () => {
  let chain: Chain;
  let keysBefore: number;
  before(async () => {
    chain = await Chain.open();
    for (let i = 1; i <= 30; i++) await chain.block(i);
  });

  test('prunes every state below the floor: retained roots read completely, the store shrinks, old reads are STATE_PRUNED', async () => {
    keysBefore = await stateKeys(chain.kv);
    // An orphan code entry (as a contract created and destroyed would leave): no retained account refers to it.
    const orphan = Uint8Array.from([0x60, 0x2a, 0x00]);
    await chain.kv.write([{ type: 'put', key: Uint8Array.of(PREFIX.stateTrie, 0x63, ...keccak256(orphan)), value: orphan }]);
    const report = await chain.pruner().prune(21n);
    assert.equal(report.from, 21n);
    assert.equal(report.head, 30n);
    assert.equal(report.roots, 10);
    assert.ok(report.deletedNodes > 0, 'old nodes deleted');
    assert.equal(report.deletedCodes, 1, 'the orphan code, and no live code, deleted');
    const after = await stateKeys(chain.kv);
    assert.equal(after, keysBefore + 1 - report.deletedNodes - report.deletedCodes);
    assert.ok(after < keysBefore, `${after} keys after, ${keysBefore} before`);
    for (let n = 21n; n <= 30n; n++) {
      const header = (await chain.ex.blocks.headerByNumber(n))!;
      await assertComplete(chain.kv, header.stateRoot, `block ${n}`);
      assert.equal(await new ChainReader(chain.ex).balance(addr(recipient(Number(n))), n), chain.balances.get(n));
      assert.equal(await chain.setterSlot(n), n);
    }
    assert.equal(chain.ex.stateFrom, 21n);
    // Below the floor: a typed error, not "no such account".
    await assert.rejects(new ChainReader(chain.ex).balance(addr(recipient(5)), 5n), (e) => isBulwarkError(e, 'STATE_PRUNED') && /block 5 is pruned.*retains blocks ≥ 21/.test(e.message));
    await assert.rejects(new ChainReader(chain.ex).call({ to: addr(chain.setter!) }, 20n), (e) => isBulwarkError(e, 'STATE_PRUNED'));
    const local = await new StateQueries(chain.ex).run(5n, [{ kind: 'balance', address: addr(recipient(5)).bytes }]);
    assert.equal(local.answers[0]!.ok, false);
    assert.match(new TextDecoder().decode(local.answers[0]!.result), /state of block 5 is pruned \(STATE_PRUNED\); this node retains blocks ≥ 21/);
    // Signed answers are compared across replicas whose floors differ: they leave the floor out.
    const signed = await new StateQueries(chain.ex, 16, undefined, true).run(5n, [{ kind: 'balance', address: addr(recipient(5)).bytes }]);
    assert.match(new TextDecoder().decode(signed.answers[0]!.result), /^state of block 5 is pruned \(STATE_PRUNED\); it keeps the state of recent blocks only$/);
    const kept = await new StateQueries(chain.ex).run(21n, [{ kind: 'balance', address: addr(recipient(21)).bytes }]);
    assert.equal(kept.answers[0]!.ok, true);
  });

  test('the floor survives a restart, and the pruned chain goes on to the same blocks as an archive', async () => {
    const reopened = new Chain(await Executor.open({ kv: chain.kv }), chain.lock, chain.kv);
    assert.equal(reopened.ex.stateFrom, 21n);
    const archive = await Chain.open();
    for (let i = 1; i <= 30; i++) await archive.block(i);
    assert.ok(equalBytes(archive.ex.head.hash(), chain.ex.head.hash()));
    reopened.nonce = chain.nonce;
    reopened.setter = chain.setter;
    for (let i = 31; i <= 35; i++) {
      await reopened.block(i);
      await archive.block(i);
      assert.ok(equalBytes(archive.ex.head.hash(), reopened.ex.head.hash()), `block ${i}`);
    }
    // A second prune moves the floor; the first's floor never moves back.
    const report = await reopened.pruner().prune(33n);
    assert.equal(report.from, 33n);
    assert.ok(report.deletedNodes > 0);
    for (let n = 33n; n <= 35n; n++) await assertComplete(reopened.kv, (await reopened.ex.blocks.headerByNumber(n))!.stateRoot, `block ${n}`);
    await reopened.ex.setStateFrom(10n);
    assert.equal(reopened.ex.stateFrom, 33n);
  });
});

describe('state pruner while blocks execute', () => {
  test('a node a block writes again during the prune, after the marking, is not swept', async () => {
    const chain = await Chain.open();
    for (let i = 1; i <= 12; i++) await chain.block(i, i === 3 ? 777n : BigInt(i));
    // Block 3 set the slot to 777: that storage trie (one leaf) is reachable only from block 3's
    // state, below the floor, so it is garbage — until the block run after the marking sets 777 again.
    const leafRoot = await storageRootAt(chain, 3n);
    assert.ok((await chain.kv.get(Uint8Array.of(PREFIX.stateTrie, ...leafRoot))) !== undefined);
    let rewrote = false;
    const report = await chain
      .pruner(1, async () => {
        await chain.block(13, 777n);
        rewrote = true;
      })
      .prune(10n);
    assert.ok(rewrote);
    assert.ok(report.deletedNodes > 0);
    assert.ok(equalBytes(await storageRootAt(chain, 13n), leafRoot), 'block 13 has the very storage trie of block 3');
    await assertComplete(chain.kv, chain.ex.head.header.stateRoot, 'head');
    assert.equal(await chain.setterSlot('latest'), 777n);
    // And the chain goes on from it.
    await chain.block(14);
    await assertComplete(chain.kv, chain.ex.head.header.stateRoot, 'head after');
  });

  test('blocks executed between every sweep chunk leave every retained state and the head complete', async () => {
    const chain = await Chain.open();
    for (let i = 1; i <= 20; i++) await chain.block(i, BigInt(i % 3)); // slot values recur: old storage tries come back
    const pruning = chain.pruner(48).prune(15n);
    let i = 21;
    let done = false;
    void pruning.finally(() => (done = true)).catch(() => undefined);
    // A block between sweep chunks (the lock takes them in turn), up to 30 of them.
    while (!done && i < 51) await chain.block(i++, BigInt(i % 3));
    const report = await pruning;
    assert.ok(i > 23, `blocks ran during the prune (${i - 21})`);
    assert.ok(report.deletedNodes > 0);
    for (let n = 15n; n <= chain.ex.head.header.number; n++) {
      await assertComplete(chain.kv, (await chain.ex.blocks.headerByNumber(n))!.stateRoot, `block ${n}`);
    }
    for (let k = 0; k < 3; k++) await chain.block(i++, BigInt(k));
    await assertComplete(chain.kv, chain.ex.head.header.stateRoot, 'head after');
  });

  test('a retained node missing stops the prune before anything is deleted', async () => {
    const chain = await Chain.open();
    for (let i = 1; i <= 5; i++) await chain.block(i);
    const keys = await stateKeys(chain.kv);
    const root = chain.ex.head.header.stateRoot;
    const saved = (await chain.kv.get(Uint8Array.of(PREFIX.stateTrie, ...root)))!;
    await chain.kv.write([{ type: 'del', key: Uint8Array.of(PREFIX.stateTrie, ...root) }]);
    await assert.rejects(chain.pruner().prune(5n), (e) => isBulwarkError(e, 'PRUNE_MISSING_NODE'));
    assert.equal(await stateKeys(chain.kv), keys - 1);
    await chain.kv.write([{ type: 'put', key: Uint8Array.of(PREFIX.stateTrie, ...root), value: saved }]);
  });
});

async function storageRootAt(chain: Chain, n: bigint): Promise<Uint8Array> {
  const header = (await chain.ex.blocks.headerByNumber(n))!;
  const account = await chain.ex.stateAt(header.stateRoot).getAccount(addr(chain.setter!));
  return account!.storageRoot;
}

