/**
 * A client node's JSON-RPC method table, in process and without sockets: the client node's own
 * Ethereum table (`rpc/ethereum-methods.ts`) and its polling filters, over a small real chain
 * executed in memory with the replicas' executor — which stands for both the node's ledger mirror
 * and its local state — and a transaction pool holding one pending and one queued transaction.
 *
 * The chain (market fees, so base fees and tips are not zero):
 *   block 1  A deploys the Token (a Transfer log) and the Exerciser
 *   block 2  a legacy transfer A→B, a token transfer A→B (EIP-1559), an EIP-2930 transfer B→C,
 *            an Exerciser store (slot 1 = 42, a Stored log)
 *   block 3  a token transfer A→C, a reverted Exerciser call
 * Calls go through JSON both ways, as a client would see them.
 */
import assert from 'node:assert/strict';
import type { Block } from '@ethereumjs/block';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { TxPool, type AccountView } from '../../src/client/txpool.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { StateQueries } from '../../src/execution/state-queries.ts';
import { RpcError } from '../../src/rpc/errors.ts';
import { EvmGate } from '../../src/rpc/evm-gate.ts';
import { ethereumMethods } from '../../src/rpc/ethereum-methods.ts';
import { hexD } from '../../src/rpc/format.ts';
import type { MethodDef } from '../../src/rpc/method.ts';
import { FilterRegistry } from '../../src/rpc/namespaces/filters.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytecode, encodeCall } from './abi.ts';
import { CHAIN_ID, addressOf, signTx, testConfig, testKey, type TxFields } from './chain.ts';

await initHashes();

export const KEYS = { A: testKey(0), B: testKey(1), C: testKey(2), D: testKey(3) } as const;
export const ADDR = { A: addressOf(KEYS.A), B: addressOf(KEYS.B), C: addressOf(KEYS.C), D: addressOf(KEYS.D) } as const;
export const TOKEN = createContractAddress(createAddressFromString(ADDR.A), 0n).toString() as `0x${string}`;
export const EXERCISER = createContractAddress(createAddressFromString(ADDR.A), 1n).toString() as `0x${string}`;
export const FEE_RECIPIENT = '0x00000000000000000000000000000000000fee00';
const GWEI = 1_000_000_000n;

export interface RpcContext {
  readonly ex: Executor;
  /** Genesis first. */
  readonly blocks: readonly Block[];
  /** Hashes of the transactions of each block, by block number. */
  readonly txHashes: readonly (readonly string[])[];
  /** The pending (ready) and queued (behind a gap) transactions in the pool. */
  readonly pooled: { readonly pending: string; readonly queued: string };
  readonly methods: ReadonlyMap<string, MethodDef>;
  /** The result, through JSON; an error reply throws the RpcError. */
  call(method: string, params?: readonly unknown[]): Promise<unknown>;
  /** Asserts the call fails with `code` and a message matching `message`. */
  rejects(method: string, params: readonly unknown[], code: number, message: RegExp): Promise<RpcError>;
}

export async function startRpcContext(): Promise<RpcContext> {
  const config = testConfig({ gasMode: 'market', feeRecipient: FEE_RECIPIENT });
  const ex = await Executor.open({ kv: new MemoryStore(), config });
  const sign = (key: Uint8Array, f: TxFields) => signTx(ex.common, key, { gasPrice: 5n * GWEI, ...f });
  const { A, B, C } = KEYS;
  const perBlock = [
    [sign(A, { nonce: 0n, data: bytecode('Token', 1_000_000n), gasLimit: 2_000_000n }), sign(A, { nonce: 1n, data: bytecode('Exerciser'), gasLimit: 3_000_000n })],
    [
      sign(A, { nonce: 2n, to: ADDR.B, value: 1_000n, gasLimit: 21_000n, type: 0 }),
      sign(A, { nonce: 3n, to: TOKEN, data: encodeCall('transfer(address,uint256)', ADDR.B, 100n), type: 2 }),
      sign(B, { nonce: 0n, to: ADDR.C, value: 2n, gasLimit: 21_000n, type: 1 }),
      sign(A, { nonce: 4n, to: EXERCISER, data: encodeCall('store(uint256,uint256)', 1n, 42n), gasLimit: 200_000n }),
    ],
    [
      sign(A, { nonce: 5n, to: TOKEN, data: encodeCall('transfer(address,uint256)', ADDR.C, 50n) }),
      sign(A, { nonce: 6n, to: EXERCISER, data: encodeCall('failWithReason()'), gasLimit: 200_000n }),
    ],
  ];
  const blocks: Block[] = [ex.head];
  for (const txs of perBlock) {
    const r = await ex.execute(ex.head.hash(), txs.map((t) => t.serialize()), ex.head.header.timestamp + 2n);
    assert.equal(r.block.transactions.length, txs.length, 'every transaction was included');
    blocks.push(r.block);
  }

  const reader = new ChainReader(ex);
  const state: AccountView = {
    nonce: (a) => reader.nonce(createAddressFromString(a)),
    balance: (a) => reader.balance(createAddressFromString(a)),
  };
  const pool = new TxPool({ config, common: ex.common, state });
  const pending = sign(C, { nonce: 0n, to: ADDR.A, value: 3n, gasLimit: 21_000n });
  const queued = sign(C, { nonce: 2n, to: ADDR.A, value: 4n, gasLimit: 21_000n });
  for (const t of [pending, queued]) await pool.add(t.serialize());

  const queries = new StateQueries(ex, 4);
  const methods = new Map<string, MethodDef>([
    // The client node's own table, over the executor standing for both its mirror and its local state.
    ...ethereumMethods({
      chainId: CHAIN_ID,
      config,
      clientVersion: 'bulwark/test',
      peerCount: () => 4,
      chain: () => ex,
      blocks: ex.blocks,
      genesisHash: blocks[0]!.hash(),
      read: async (q, n, budget) => {
        const { blockHash, answers } = await queries.run(BigInt(n), [q], budget);
        return { ...answers[0]!, blockHash: blockHash! };
      },
      evm: new EvmGate(),
      pool,
      submit: () => {},
      nextBlock: async () => {},
      landed: async () => {},
      localSource: () => ex,
    }),
    ...new FilterRegistry({ reader, head: () => ex.head }).methods(),
  ]);

  const call = async (name: string, params: readonly unknown[] = []) => {
    const m = methods.get(name);
    if (m === undefined) throw new RpcError(-32601, `the method ${name} does not exist/is not available`);
    return JSON.parse(JSON.stringify((await m.call(JSON.parse(JSON.stringify(params)), { transport: 'http' })) ?? null)) as unknown;
  };
  return {
    ex,
    blocks,
    txHashes: blocks.map((b) => b.transactions.map((t) => hexD(t.hash()))),
    pooled: { pending: hexD(pending.hash()), queued: hexD(queued.hash()) },
    methods,
    call,
    async rejects(name, params, code, message) {
      let error: unknown;
      try {
        const result = await call(name, params);
        assert.fail(`${name}(${JSON.stringify(params)}) should fail, answered ${JSON.stringify(result)}`);
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof RpcError, `${name}: ${String(error)}`);
      assert.equal(error.code, code, `${name}(${JSON.stringify(params)}): ${error.code} ${error.message}`);
      assert.match(error.message, message, `${name}(${JSON.stringify(params)})`);
      return error;
    },
  };
}
