// Differential test: the same transactions run through our executor (our trie store over a KvStore,
// native crypto, our block assembly) and through a plain in-memory ethereumjs VM (its default
// MerkleStateManager and crypto, its own BlockBuilder) must give identical genesis, state roots,
// receipts, gas, blooms and block hashes, block after block. Transactions our executor must refuse
// are sent only to our side: the reference never sees them, so equal roots prove they left no trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBlock, type Block } from '@ethereumjs/block';
import { Mainnet, createCustomCommon, type Common } from '@ethereumjs/common';
import { createAccessList2930Tx, createFeeMarket1559Tx, createTxFromRLP } from '@ethereumjs/tx';
import { buildBlock, createVM, type RunTxResult, type VM } from '@ethereumjs/vm';
import {
  KECCAK256_RLP,
  bigIntToBytes,
  bytesToBigInt,
  createAccount,
  createAddressFromString,
  createContractAddress,
  hexToBytes,
  setLengthLeft,
  type Address,
} from '@ethereumjs/util';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import { initHashes, keccak256 } from '../../src/crypto/hash.ts';
import { Executor, type ExecutionResult } from '../../src/execution/executor.ts';
import { buildCommon } from '../../src/execution/common.ts';
import type { ChainConfig } from '../../src/execution/chain-config.ts';
import { openState } from '../../src/execution/state.ts';
import { NodeCache, TrieNodeStore } from '../../src/execution/trie-store.ts';
import type { RejectReason } from '../../src/execution/validation.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { openRocksStore } from '../../src/storage/rocksdb.ts';
import type { KvStore } from '../../src/storage/kvstore.ts';
import { logsBloom } from '../../src/ledger/receipt.ts';
import { CHAIN_ID, addressOf, signTx, testConfig, testKey, type TxFields } from '../helpers/chain.ts';
import { bytecode, encodeCall, eventTopic } from '../helpers/abi.ts';

await initHashes();

const ZERO32 = new Uint8Array(32);
const GWEI = 10n ** 9n;
const ETH = 10n ** 18n;
const BEACON_ROOTS: Hex = '0x000f3df6d732807ef1319fb7b8bb8522d0beac02';

type Hex = `0x${string}`;
const hex = (b: Uint8Array | undefined): Hex | 'undefined' => (b === undefined ? 'undefined' : `0x${Buffer.from(b).toString('hex')}`);
const hex0x = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString('hex')}`;

// ---------------------------------------------------------------------------------------------
// The reference: a plain ethereumjs VM, nothing of ours but the inputs.

/** Its own Common (ethereumjs' default crypto), not `buildCommon`'s. */
function referenceCommon(chainId: bigint): Common {
  return createCustomCommon({ chainId: Number(chainId) }, Mainnet, { hardfork: 'cancun' });
}

interface RefBlockResult {
  readonly block: Block;
  readonly results: RunTxResult[];
}

class Reference {
  private constructor(
    readonly config: ChainConfig,
    readonly common: Common,
    readonly vm: VM,
    /** By number; BLOCKHASH reads it. */
    readonly blocks: Block[],
  ) {}

  static async create(config: ChainConfig): Promise<Reference> {
    const common = referenceCommon(config.chainId);
    const blocks: Block[] = [];
    const blockchain = {
      async getBlock(number: number) {
        const b = blocks[number];
        if (b === undefined) throw new Error(`reference: no block ${number}`);
        return { hash: () => b.hash() };
      },
      async putBlock() {},
      shallowCopy() {
        return blockchain;
      },
    };
    const vm = await createVM({ common, blockchain: blockchain as never });
    // Genesis allocations, by hand.
    const sm = vm.stateManager;
    await sm.checkpoint();
    for (const [addr, a] of config.alloc) {
      const address = createAddressFromString(addr);
      await sm.putAccount(address, createAccount({ nonce: a.nonce, balance: a.balance }));
      if (a.code.length > 0) await sm.putCode(address, a.code);
      for (const [k, v] of a.storage) {
        if (v !== 0n) await sm.putStorage(address, setLengthLeft(bigIntToBytes(k), 32), bigIntToBytes(v));
      }
    }
    await sm.commit();
    const stateRoot = await sm.getStateRoot();
    const genesis = createBlock(
      {
        header: {
          number: 0n,
          stateRoot,
          gasLimit: config.blockGasLimit,
          timestamp: config.genesisTimestamp,
          coinbase: createAddressFromString('0x0000000000000000000000000000000000000000'),
          baseFeePerGas: config.gasMode === 'free' ? 0n : config.initialBaseFee,
          mixHash: ZERO32,
          parentBeaconBlockRoot: ZERO32,
          withdrawalsRoot: KECCAK256_RLP,
          blobGasUsed: 0n,
          excessBlobGas: 0n,
        },
        withdrawals: [],
      },
      { common, setHardfork: false },
    );
    blocks.push(genesis);
    return new Reference(config, common, vm, blocks);
  }

  get head(): Block {
    return this.blocks[this.blocks.length - 1] as Block;
  }

  async run(raws: readonly Uint8Array[], timestamp: bigint): Promise<RefBlockResult> {
    const builder = await buildBlock(this.vm, {
      parentBlock: this.head,
      headerData: {
        timestamp,
        coinbase: this.config.feeRecipient,
        gasLimit: this.config.blockGasLimit,
        // In market mode, left out: ethereumjs computes it from the parent.
        ...(this.config.gasMode === 'free' ? { baseFeePerGas: 0n } : {}),
        mixHash: ZERO32,
        parentBeaconBlockRoot: ZERO32,
      },
      withdrawals: [],
      blockOpts: { putBlockIntoBlockchain: false },
    });
    const results: RunTxResult[] = [];
    for (const raw of raws) {
      results.push(await builder.addTransaction(createTxFromRLP(raw, { common: this.common })));
    }
    const { block } = await builder.build();
    this.blocks.push(block);
    return { block, results };
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios: blocks of transactions, valid ones with the receipt status they must have, bad ones
// with the reason our executor must give.

interface TxStep {
  readonly raw: Uint8Array;
  /** Valid: the status its receipt must have. */
  readonly status?: 0 | 1;
  /** Invalid: the reason it must be rejected with (the reference does not see it). */
  readonly reject?: RejectReason;
  /** Out of gas: the whole gas limit is used. */
  readonly usesAllGas?: boolean;
}

interface BlockSpec {
  readonly timestamp: bigint;
  readonly txs: readonly TxStep[];
}

interface StateView {
  account(addr: string): Promise<{ nonce: bigint; balance: bigint } | undefined>;
  code(addr: string): Promise<Uint8Array>;
  storage(addr: string, slot: Uint8Array): Promise<Uint8Array>;
}

interface RunOutcome {
  readonly ours: ExecutionResult[];
  readonly refs: RefBlockResult[];
  readonly ourState: StateView;
  readonly refState: StateView;
  readonly ourBlockHash: (n: number) => Uint8Array;
}

function stateView(sm: MerkleStateManager): StateView {
  const a = (s: string): Address => createAddressFromString(s);
  return {
    async account(addr) {
      const acc = await sm.getAccount(a(addr));
      return acc === undefined ? undefined : { nonce: acc.nonce, balance: acc.balance };
    },
    code: (addr) => sm.getCode(a(addr)),
    storage: (addr, slot) => sm.getStorage(a(addr), slot),
  };
}

/** Tracks nonces and signs with our chain's Common (the bytes are what both sides get). */
class Wallet {
  private readonly nonces = new Map<string, bigint>();
  constructor(readonly common: Common) {}

  nonce(key: Uint8Array): bigint {
    return this.nonces.get(hex(key)) ?? 0n;
  }

  /** A valid transaction: consumes the sender's next nonce. */
  tx(key: Uint8Array, f: Omit<TxFields, 'nonce'>): Uint8Array {
    const nonce = this.nonce(key);
    this.nonces.set(hex(key), nonce + 1n);
    return signTx(this.common, key, { ...f, nonce }).serialize();
  }

  /** A transaction signed with an explicit nonce, consuming nothing (for rejections). */
  raw(key: Uint8Array, f: TxFields, common = this.common): Uint8Array {
    return signTx(common, key, f).serialize();
  }

  /** EIP-2930 with a non-empty access list. */
  accessListTx(key: Uint8Array, to: Hex, storageKeys: Uint8Array[], data = new Uint8Array(), gasPrice = 0n): Uint8Array {
    const nonce = this.nonce(key);
    this.nonces.set(hex(key), nonce + 1n);
    return createAccessList2930Tx(
      {
        nonce,
        to,
        data,
        gasLimit: 200_000n,
        gasPrice,
        chainId: this.common.chainId(),
        accessList: [{ address: to, storageKeys: storageKeys.map(hex0x) }],
      },
      { common: this.common },
    )
      .sign(key)
      .serialize();
  }

  /** EIP-1559 with a tip below the fee cap (the effective price differs from both). */
  tipTx(key: Uint8Array, to: Hex, value: bigint, maxFee: bigint, tip: bigint): Uint8Array {
    const nonce = this.nonce(key);
    this.nonces.set(hex(key), nonce + 1n);
    return createFeeMarket1559Tx(
      { nonce, to, value, gasLimit: 21_000n, maxFeePerGas: maxFee, maxPriorityFeePerGas: tip, chainId: this.common.chainId() },
      { common: this.common },
    )
      .sign(key)
      .serialize();
  }
}

function assertSameReceipts(n: number, ours: ExecutionResult, ref: RefBlockResult): void {
  assert.equal(ours.receipts.length, ref.results.length, `block ${n}: receipt count`);
  ours.receipts.forEach((r, i) => {
    const rr = ref.results[i] as RunTxResult;
    const rec = rr.receipt as { status?: 0 | 1; cumulativeBlockGasUsed: bigint; logs: [Uint8Array, Uint8Array[], Uint8Array][] };
    const where = `block ${n} tx ${i}`;
    assert.equal(r.status, rec.status, `${where}: status`);
    assert.equal(r.cumulativeGasUsed, rec.cumulativeBlockGasUsed, `${where}: cumulative gas`);
    assert.equal(r.gasUsed, rr.totalGasSpent, `${where}: gas used`);
    assert.equal(hex(r.contractAddress), hex(rr.createdAddress?.bytes), `${where}: contract address`);
    assert.deepEqual(
      r.logs.map(([a, t, d]) => [hex(a), t.map(hex), hex(d)]),
      rec.logs.map(([a, t, d]) => [hex(a), t.map(hex), hex(d)]),
      `${where}: logs`,
    );
    assert.equal(hex(logsBloom(r.logs)), hex(rr.bloom.bitvector), `${where}: bloom`);
  });
}

function assertSameBlock(n: number, ours: ExecutionResult, ref: RefBlockResult): void {
  const a = ours.block.header;
  const b = ref.block.header;
  assert.equal(hex(ours.stateRoot), hex(b.stateRoot), `block ${n}: state root (returned)`);
  assert.equal(hex(a.stateRoot), hex(b.stateRoot), `block ${n}: state root`);
  assert.equal(a.gasUsed, b.gasUsed, `block ${n}: gas used`);
  assert.equal(hex(a.receiptTrie), hex(b.receiptTrie), `block ${n}: receipts root`);
  assert.equal(hex(a.logsBloom), hex(b.logsBloom), `block ${n}: logs bloom`);
  assert.equal(hex(a.transactionsTrie), hex(b.transactionsTrie), `block ${n}: transactions root`);
  assert.equal(a.baseFeePerGas, b.baseFeePerGas, `block ${n}: base fee`);
  assert.equal(a.excessBlobGas, b.excessBlobGas, `block ${n}: excess blob gas`);
  assert.equal(hex(a.withdrawalsRoot), hex(b.withdrawalsRoot), `block ${n}: withdrawals root`);
  assert.deepEqual(ours.block.transactions.map((t) => hex(t.hash())), ref.block.transactions.map((t) => hex(t.hash())), `block ${n}: txs`);
  // Every header field is covered by the hash: equal hashes mean byte-identical headers.
  assert.equal(hex(ours.block.hash()), hex(ref.block.hash()), `block ${n}: block hash`);
  assertSameReceipts(n, ours, ref);
}

/** Runs `blocks` on both sides, comparing block by block; optionally reopens our store midway. */
async function runBoth(
  config: ChainConfig,
  blocks: readonly BlockSpec[],
  opts: { kv?: () => Promise<KvStore>; reopenAfter?: number } = {},
): Promise<RunOutcome & { close: () => Promise<void> }> {
  const openKv = opts.kv ?? (async () => new MemoryStore());
  let kv = await openKv();
  let ex = await Executor.open({ kv, config });
  const ref = await Reference.create(config);
  assert.equal(hex(ex.head.header.stateRoot), hex(ref.head.header.stateRoot), 'genesis state root');
  assert.equal(hex(ex.head.hash()), hex(ref.head.hash()), 'genesis hash');

  const ours: ExecutionResult[] = [];
  const refs: RefBlockResult[] = [];
  for (const [i, spec] of blocks.entries()) {
    const n = i + 1;
    const result = await ex.execute(ex.head.hash(), spec.txs.map((t) => t.raw), spec.timestamp);
    const valid = spec.txs.filter((t) => t.reject === undefined);
    const refResult = await ref.run(valid.map((t) => t.raw), spec.timestamp);
    ours.push(result);
    refs.push(refResult);

    // Rejections: exactly the bad ones, at their positions, with their reasons.
    assert.deepEqual(
      result.rejected.map((r) => [r.index, r.reason]),
      spec.txs.flatMap((t, index) => (t.reject === undefined ? [] : [[index, t.reject]])),
      `block ${n}: rejected (${result.rejected.map((r) => r.message).join('; ')})`,
    );
    assertSameBlock(n, result, refResult);
    // Expected outcomes, so a scenario cannot silently stop exercising what it claims to.
    valid.forEach((t, j) => {
      const r = result.receipts[j];
      assert.ok(r !== undefined);
      if (t.status !== undefined) assert.equal(r.status, t.status, `block ${n} valid tx ${j}: expected status ${t.status}`);
      if (t.usesAllGas === true) {
        const tx = result.block.transactions[j];
        assert.equal(r.gasUsed, tx?.gasLimit, `block ${n} valid tx ${j}: out of gas uses the whole limit`);
      }
    });

    // What was committed reads back the same.
    assert.equal(hex(ex.head.hash()), hex(result.block.hash()), `block ${n}: head`);
    const stored = await ex.blocks.block(result.block.hash());
    assert.equal(hex(stored?.serialize()), hex(result.block.serialize()), `block ${n}: stored block`);
    assert.deepEqual(await ex.blocks.receipts(result.block.hash()), result.receipts, `block ${n}: stored receipts`);
    for (const [idx, tx] of result.block.transactions.entries()) {
      const loc = await ex.blocks.txLocation(tx.hash());
      assert.equal(hex(loc?.blockHash), hex(result.block.hash()), `block ${n} tx ${idx}: location`);
      assert.equal(loc?.index, idx);
    }

    if (opts.reopenAfter === n) {
      await kv.close();
      kv = await openKv();
      ex = await Executor.open({ kv });
      assert.equal(hex(ex.head.hash()), hex(result.block.hash()), 'head after reopening');
    }
  }

  const headRoot = ex.head.header.stateRoot;
  const trieStore = new TrieNodeStore({ kv, prefix: PREFIX.stateTrie, cache: new NodeCache() });
  const ourState = stateView(openState({ common: ex.common, store: trieStore, root: headRoot }));
  const refState = stateView(ref.vm.stateManager as MerkleStateManager);
  return {
    ours,
    refs,
    ourState,
    refState,
    ourBlockHash: (n) => (n === 0 ? ref.blocks[0]!.hash() : ours[n - 1]!.block.hash()),
    close: () => kv.close(),
  };
}

/** Reads the same thing on both sides, asserts they agree, returns it. */
async function both<T>(out: RunOutcome, what: string, read: (s: StateView) => Promise<T>): Promise<T> {
  const a = await read(out.ourState);
  const b = await read(out.refState);
  assert.deepEqual(a, b, `${what}: ours vs reference`);
  return a;
}

function mappingSlot(key: bigint, slot: bigint): Uint8Array {
  return keccak256(Buffer.concat([setLengthLeft(bigIntToBytes(key), 32), setLengthLeft(bigIntToBytes(slot), 32)]));
}

function create2(deployer: Hex, salt: Uint8Array, initCode: Uint8Array): Hex {
  const h = keccak256(Buffer.concat([Uint8Array.of(0xff), hexToBytes(deployer), salt, keccak256(initCode)]));
  return hex0x(h.slice(12));
}

function contractAddress(key: Uint8Array, nonce: bigint): Hex {
  return createContractAddress(createAddressFromString(addressOf(key)), nonce).toString();
}

const A = testKey(0);
const B = testKey(1);
const C = testKey(2);
const D = testKey(3);
const POOR = testKey(90);
const fresh = (i: number) => addressOf(testKey(100 + i));
const otherChain = buildCommon(4242n);

// ---------------------------------------------------------------------------------------------

test('genesis: state root and hash agree, free and market, with code and storage in the alloc', async () => {
  for (const gasMode of ['free', 'market'] as const) {
    const config = testConfig({
      gasMode,
      genesisTimestamp: 1_700_000_000,
      alloc: {
        [addressOf(A)]: { balance: '1000', nonce: 5 },
        '0x00000000000000000000000000000000000000aa': { balance: 0, code: '0x6001600055', storage: { '0x1': '0x2a', '0x2': '0x0' } },
      },
    });
    const out = await runBoth(config, []);
    assert.equal((await both(out, 'A', (s) => s.account(addressOf(A))))?.nonce, 5n);
    await out.close();
  }
});

test('ETH transfers (types 0/1/2, new accounts, empty blocks) and rejected transactions leave the same state', async () => {
  const config = testConfig();
  const w = new Wallet(buildCommon(config.chainId));
  const f1 = testKey(100);
  const b1tx0 = w.tx(A, { to: fresh(0), value: 5n * ETH, gasLimit: 21_000n, type: 0 });
  const blocks: BlockSpec[] = [
    {
      timestamp: 12n,
      txs: [
        { raw: b1tx0, status: 1 },
        { raw: w.raw(A, { nonce: 7n, to: fresh(9), value: 1n }), reject: 'TX_NONCE_TOO_HIGH' },
        { raw: w.tx(B, { to: fresh(1), value: 1n, gasLimit: 21_000n, type: 1 }), status: 1 },
        { raw: w.raw(POOR, { nonce: 0n, to: addressOf(B), value: 1n, gasLimit: 21_000n }), reject: 'TX_INSUFFICIENT_FUNDS' },
        { raw: w.tx(C, { to: addressOf(A), value: 3n, gasLimit: 21_000n, type: 2 }), status: 1 },
        { raw: w.raw(D, { nonce: 0n, to: fresh(8), value: 1n, gasLimit: 21_000n }, otherChain), reject: 'TX_WRONG_CHAIN' },
        { raw: w.tx(A, { to: fresh(2), value: 7n, gasLimit: 21_000n, type: 2 }), status: 1 },
        { raw: b1tx0, reject: 'TX_NONCE_TOO_LOW' },
        { raw: Uint8Array.of(0x02, 0xc0), reject: 'TX_MALFORMED' },
        { raw: w.raw(D, { nonce: 0n, to: fresh(8), value: 1n, gasLimit: 20_000n }), reject: 'TX_INTRINSIC_GAS_TOO_LOW' },
      ],
    },
    {
      // The same timestamp as the parent is allowed.
      timestamp: 12n,
      txs: [
        // A brand-new account spends what it received.
        { raw: w.tx(f1, { to: addressOf(A), value: 1n * ETH, gasLimit: 21_000n, type: 0 }), status: 1 },
        { raw: w.accessListTx(f1, fresh(3), [ZERO32, hexToBytes(`0x${'11'.repeat(32)}`)]), status: 1 },
        // Zero value to a non-existent account: touched, empty, removed (EIP-161).
        { raw: w.tx(D, { to: fresh(4), value: 0n, gasLimit: 21_000n, type: 1 }), status: 1 },
        { raw: w.tx(D, { to: addressOf(D), value: 9n, gasLimit: 21_000n, type: 0 }), status: 1 },
        // Insufficient funds for the value: the fresh account has less than this.
        { raw: w.raw(f1, { nonce: 2n, to: addressOf(A), value: 5n * ETH, gasLimit: 21_000n }), reject: 'TX_INSUFFICIENT_FUNDS' },
      ],
    },
    { timestamp: 24n, txs: [] },
    {
      timestamp: 36n,
      txs: [
        { raw: w.raw(A, { nonce: 99n, to: fresh(5), value: 1n }), reject: 'TX_NONCE_TOO_HIGH' },
        { raw: w.raw(POOR, { nonce: 0n, to: fresh(5), value: 1n, gasLimit: 21_000n }), reject: 'TX_INSUFFICIENT_FUNDS' },
      ],
    },
    {
      timestamp: 48n,
      txs: Array.from({ length: 40 }, (_, i) => ({
        raw: w.tx([A, B, C, D][i % 4]!, { to: fresh(10 + i), value: BigInt(i + 1), gasLimit: 21_000n, type: (i % 3) as 0 | 1 | 2 }),
        status: 1 as const,
      })),
    },
  ];
  const out = await runBoth(config, blocks);
  assert.equal((await both(out, 'fresh 0', (s) => s.account(fresh(0))))?.balance, 4n * ETH);
  assert.equal((await both(out, 'fresh 0 nonce', (s) => s.account(fresh(0))))?.nonce, 2n);
  assert.equal(await both(out, 'zero-value target', (s) => s.account(fresh(4))), undefined);
  assert.equal(await both(out, 'poor', (s) => s.account(addressOf(POOR))), undefined);
  assert.equal((await both(out, 'A nonce', (s) => s.account(addressOf(A))))?.nonce, 12n);
  assert.equal(out.ours[2]?.block.header.receiptTrie.toString(), KECCAK256_RLP.toString(), 'empty block: empty receipts root');
  await out.close();
});

/** Token, Exerciser and everything they exercise; used on memory and on RocksDB. */
function contractScenario(common: Common): { config: ChainConfig; blocks: BlockSpec[]; check: (out: RunOutcome) => Promise<void> } {
  const config = testConfig({
    // A contract at the EIP-4788 address makes both sides write the beacon-root ring buffer.
    alloc: {
      ...Object.fromEntries([A, B, C, D].map((k) => [addressOf(k), { balance: (10n ** 24n).toString() }])),
      [BEACON_ROOTS]: { balance: 0, code: '0x00' },
    },
  });
  const w = new Wallet(common);
  const token = contractAddress(A, 0n);
  const exerciser = contractAddress(A, 1n);
  const salt1 = keccak256(new TextEncoder().encode('salt one'));
  const salt2 = keccak256(new TextEncoder().encode('salt two'));
  const child1 = create2(exerciser, salt1, bytecode('Child', addressOf(B)));
  const child2 = create2(exerciser, salt2, bytecode('Child', addressOf(C)));
  const call = (sig: string, ...args: (bigint | string | Uint8Array)[]) => encodeCall(sig, ...args);

  const blocks: BlockSpec[] = [
    {
      timestamp: 1_000n,
      txs: [
        { raw: w.tx(A, { data: bytecode('Token', 1_000_000n), gasLimit: 2_000_000n, type: 2 }), status: 1 },
        { raw: w.tx(A, { data: bytecode('Exerciser'), gasLimit: 2_000_000n, type: 0 }), status: 1 },
        // A creation whose init code reverts (PUSH1 0 PUSH1 0 REVERT).
        { raw: w.tx(C, { data: hexToBytes('0x60006000fd'), gasLimit: 100_000n, type: 1 }), status: 0 },
        { raw: w.raw(B, { nonce: 3n, to: token, data: call('transfer(address,uint256)', addressOf(C), 1n) }), reject: 'TX_NONCE_TOO_HIGH' },
      ],
    },
    {
      timestamp: 1_012n,
      txs: [
        { raw: w.tx(A, { to: token, data: call('transfer(address,uint256)', addressOf(B), 100n), type: 1 }), status: 1 },
        { raw: w.tx(B, { to: token, data: call('transfer(address,uint256)', addressOf(C), 30n), type: 2 }), status: 1 },
        // Reverts: C holds 30.
        { raw: w.tx(C, { to: token, data: call('transfer(address,uint256)', addressOf(A), 1000n), type: 0 }), status: 0 },
        { raw: w.tx(A, { to: token, data: call('approve(address,uint256)', addressOf(D), 500n), type: 2 }), status: 1 },
        { raw: w.tx(D, { to: token, data: call('transferFrom(address,address,uint256)', addressOf(A), addressOf(D), 200n), type: 2 }), status: 1 },
        { raw: w.tx(B, { to: exerciser, data: call('store(uint256,uint256)', 1n, 42n), type: 2 }), status: 1 },
        { raw: w.tx(B, { to: exerciser, data: call('store(uint256,uint256)', 2n, 43n), type: 0 }), status: 1 },
        { raw: w.tx(C, { to: exerciser, data: call('fail(uint256)', 7n), type: 2 }), status: 0 },
        { raw: w.tx(C, { to: exerciser, data: call('failWithReason()'), type: 1 }), status: 0 },
        // Out of gas: 200 fresh slots need ~4.4M gas.
        { raw: w.tx(D, { to: exerciser, data: call('burn(uint256)', 200n), gasLimit: 100_000n, type: 2 }), status: 0, usesAllGas: true },
        { raw: w.tx(D, { to: exerciser, data: call('recordPreviousHash()'), type: 0 }), status: 1 },
        { raw: w.raw(POOR, { nonce: 0n, to: exerciser, data: call('store(uint256,uint256)', 9n, 9n), gasPrice: 1n }), reject: 'TX_INSUFFICIENT_FUNDS' },
        { raw: w.raw(A, { nonce: 2n, to: token, data: call('transfer(address,uint256)', addressOf(B), 1n) }, otherChain), reject: 'TX_WRONG_CHAIN' },
      ],
    },
    {
      timestamp: 1_024n,
      txs: [
        // Clearing a slot earns a refund.
        { raw: w.tx(B, { to: exerciser, data: call('clear(uint256)', 1n), type: 2 }), status: 1 },
        { raw: w.tx(B, { to: exerciser, data: call('deploy(bytes32)', salt1), gasLimit: 300_000n, type: 2 }), status: 1 },
        { raw: w.tx(C, { to: exerciser, data: call('deployAndDestroy(bytes32)', salt2), gasLimit: 300_000n, type: 1 }), status: 1 },
        // CREATE2 to an address that already has code fails.
        { raw: w.tx(B, { to: exerciser, data: call('deploy(bytes32)', salt1), gasLimit: 300_000n, type: 0 }), status: 0 },
        { raw: w.tx(D, { to: exerciser, data: call('recordPreviousHash()'), type: 1 }), status: 1 },
        { raw: w.tx(A, { to: exerciser, data: call('burn(uint256)', 5n), gasLimit: 300_000n, type: 2 }), status: 1 },
        { raw: w.raw(D, { nonce: 0n, to: exerciser, data: call('store(uint256,uint256)', 1n, 1n) }), reject: 'TX_NONCE_TOO_LOW' },
      ],
    },
    {
      timestamp: 1_036n,
      txs: [
        // Self-destruct of a contract created in an earlier transaction: its code stays (EIP-6780).
        { raw: w.tx(A, { to: child1, data: call('destroy()'), gasLimit: 100_000n, type: 2 }), status: 1 },
        // Value to a contract without a receive function reverts.
        { raw: w.tx(A, { to: child1, value: 1n, gasLimit: 100_000n, type: 0 }), status: 0 },
        { raw: w.tx(B, { to: exerciser, data: call('store(uint256,uint256)', 2n, 0n), type: 1 }), status: 1 },
      ],
    },
  ];

  const check = async (out: RunOutcome): Promise<void> => {
    // Receipts carry the created addresses, and the CREATE addresses follow sender and nonce.
    assert.equal(hex(out.ours[0]?.receipts[0]?.contractAddress), token);
    assert.equal(hex(out.ours[0]?.receipts[1]?.contractAddress), exerciser);
    assert.ok((await both(out, 'token code', (s) => s.code(token))).length > 0);
    const balance = (who: Uint8Array) => both(out, 'token balance', (s) => s.storage(token, mappingSlot(bytesToBigInt(hexToBytes(addressOf(who))), 0n)));
    assert.equal(bytesToBigInt(await balance(A)), 1_000_000n - 100n - 200n);
    assert.equal(bytesToBigInt(await balance(C)), 30n);
    assert.equal(bytesToBigInt(await balance(D)), 200n);
    // Token logs: Transfer(from, to, value) with indexed addresses.
    const transferLog = out.ours[1]?.receipts[0]?.logs[0];
    assert.equal(hex(transferLog?.[1][0]), hex(eventTopic('Transfer(address,address,uint256)')));
    assert.equal(out.ours[1]?.receipts[2]?.logs.length, 0, 'a reverted transfer has no logs');
    const storedLog = out.ours[1]?.receipts[5]?.logs[0];
    assert.equal(hex(storedLog?.[0]), exerciser);
    assert.equal(hex(storedLog?.[1][0]), hex(eventTopic('Stored(uint256,uint256,bytes32)')));
    // Storage: slot 1 cleared, slot 2 written then zeroed, burn(5) wrote 1000..1004.
    assert.equal((await both(out, 'slot 1', (s) => s.storage(exerciser, mappingSlot(1n, 0n)))).length, 0);
    assert.equal((await both(out, 'slot 2', (s) => s.storage(exerciser, mappingSlot(2n, 0n)))).length, 0);
    assert.equal(bytesToBigInt(await both(out, 'slot 1004', (s) => s.storage(exerciser, mappingSlot(1004n, 0n)))), 5n);
    assert.equal((await both(out, 'slot 1005', (s) => s.storage(exerciser, mappingSlot(1005n, 0n)))).length, 0);
    // BLOCKHASH: block 3 recorded block 2's hash, as our chain has it.
    assert.equal(hex(await both(out, 'slot 7', (s) => s.storage(exerciser, mappingSlot(7n, 0n)))), hex(out.ourBlockHash(2)));
    // CREATE2: the child is where the formula says, and survives its own later self-destruct.
    const child1Code = await both(out, 'child1 code', (s) => s.code(child1));
    assert.ok(child1Code.length > 0, 'CREATE2 child has code at the CREATE2 address');
    assert.ok((await both(out, 'child1', (s) => s.account(child1))) !== undefined);
    assert.equal(hex0x(setLengthLeft(await both(out, 'child1 owner', (s) => s.storage(child1, ZERO32)), 20)), addressOf(B), 'the child was built with its deployer as owner');
    // Created and destroyed in one transaction: gone (EIP-6780).
    assert.equal(await both(out, 'child2', (s) => s.account(child2)), undefined);
    assert.equal((await both(out, 'child2 code', (s) => s.code(child2))).length, 0);
    // The beacon-root ring buffer got the last block's timestamp.
    const idx = setLengthLeft(bigIntToBytes(1_036n % 8191n), 32);
    assert.equal(bytesToBigInt(await both(out, 'beacon roots', (s) => s.storage(BEACON_ROOTS, idx))), 1_036n);
    // The refund: clearing a slot costs less than writing one.
    const clearGas = out.ours[2]?.receipts[0]?.gasUsed ?? 0n;
    assert.ok(clearGas < 21_000n + 5_000n, `clear used ${clearGas}`);
  };
  return { config, blocks, check };
}

test('contracts: deploy, ERC-20, reverts, out of gas, storage refund, logs, CREATE2, self-destruct, BLOCKHASH', async () => {
  const s = contractScenario(buildCommon(CHAIN_ID));
  const out = await runBoth(s.config, s.blocks);
  await s.check(out);
  await out.close();
});

test('contracts on RocksDB, closed and reopened midway, agree with the reference', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-diff-'));
  try {
    const s = contractScenario(buildCommon(CHAIN_ID));
    const out = await runBoth(s.config, s.blocks, { kv: () => openRocksStore(dir), reopenAfter: 2 });
    await s.check(out);
    await out.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('market gas mode: EIP-1559 base fee from the parent, tips to the fee recipient, fee-cap rejections', async () => {
  const recipient = addressOf(testKey(50));
  const config = testConfig({ gasMode: 'market', feeRecipient: recipient, genesisTimestamp: 500 });
  const w = new Wallet(buildCommon(config.chainId));
  const exerciser = contractAddress(A, 0n);
  const price = 3n * GWEI;
  const blocks: BlockSpec[] = [
    {
      timestamp: 512n,
      txs: [
        { raw: w.tx(A, { data: bytecode('Exerciser'), gasLimit: 2_000_000n, gasPrice: price, type: 2 }), status: 1 },
        { raw: w.tx(B, { to: fresh(0), value: ETH, gasLimit: 21_000n, gasPrice: price, type: 0 }), status: 1 },
        { raw: w.tipTx(C, fresh(1), 5n, 4n * GWEI, 1n), status: 1 },
        { raw: w.raw(D, { nonce: 0n, to: fresh(2), value: 1n, gasLimit: 21_000n, gasPrice: 1n }), reject: 'TX_FEE_BELOW_BASE_FEE' },
        { raw: w.raw(POOR, { nonce: 0n, to: fresh(2), value: 0n, gasLimit: 21_000n, gasPrice: price }), reject: 'TX_INSUFFICIENT_FUNDS' },
      ],
    },
    {
      // More than half the block gas limit: the next base fee rises.
      timestamp: 524n,
      txs: [
        { raw: w.tx(B, { to: exerciser, data: encodeCall('burn(uint256)', 800n), gasLimit: 20_000_000n, gasPrice: price, type: 2 }), status: 1 },
        { raw: w.tx(D, { to: exerciser, data: encodeCall('fail(uint256)', 1n), gasPrice: price, type: 1 }), status: 0 },
      ],
    },
    {
      timestamp: 536n,
      txs: [
        { raw: w.tx(A, { to: exerciser, data: encodeCall('store(uint256,uint256)', 3n, 4n), gasPrice: price, type: 0 }), status: 1 },
        { raw: w.tipTx(C, fresh(1), 5n, 5n * GWEI, 2n * GWEI), status: 1 },
      ],
    },
    { timestamp: 548n, txs: [] },
    {
      timestamp: 560n,
      txs: [{ raw: w.tx(A, { to: exerciser, data: encodeCall('recordPreviousHash()'), gasPrice: price, type: 1 }), status: 1 }],
    },
  ];
  const out = await runBoth(config, blocks);
  const fees = out.ours.map((r) => r.block.header.baseFeePerGas);
  assert.equal(fees[0], (config.initialBaseFee * 7n) / 8n, 'block 1: an empty genesis lowers the base fee by 1/8');
  assert.ok((fees[2] ?? 0n) > (fees[1] ?? 0n), `a full block raises the base fee: ${fees.join(', ')}`);
  const tips = await both(out, 'fee recipient', (s) => s.account(recipient));
  assert.ok((tips?.balance ?? 0n) > 0n, 'the fee recipient received tips');
  assert.equal(hex(await both(out, 'slot 7', (s) => s.storage(exerciser, mappingSlot(7n, 0n)))), hex(out.ourBlockHash(4)));
  await out.close();
});
