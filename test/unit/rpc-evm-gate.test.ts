// The JSON-RPC endpoint's EVM gate (rpc/evm-gate.ts) and eth_call/eth_estimateGas through it
// (rpc/namespaces/eth-core.ts) on a small chain in memory: at most so many calls run at once, a
// bounded queue beyond which a call is refused with -32005 naming the limit, a deadline that counts
// the wait, go-ethereum's timeout error (-32000 `execution aborted (timeout = …)`), and gas above
// the cap lowered to it before the read leaves (so replicas answering for the node keep to it).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReadQuery } from '../../src/codec/read.ts';
import type { TxPool } from '../../src/client/txpool.ts';
import { BulwarkError } from '../../src/common/errors.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import type { EvmBudget } from '../../src/execution/evm-limits.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { StateQueries } from '../../src/execution/state-queries.ts';
import { RPC_CODES, RpcError } from '../../src/rpc/errors.ts';
import { EvmGate, type RpcEvmLimits } from '../../src/rpc/evm-gate.ts';
import { ethCoreMethods } from '../../src/rpc/namespaces/eth-core.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { testConfig } from '../helpers/chain.ts';

await initHashes();

const LOOP = '0x5b600056';
const GAS_LEFT = '0x5a5f5260205ff3';
const ctx = { transport: 'http' } as const;

function gate(limits: Partial<RpcEvmLimits>): EvmGate {
  return new EvmGate({ gasCap: 50_000_000n, timeoutMs: 5_000, maxConcurrent: 2, maxQueued: 1, ...limits });
}

/** A promise and the function that settles it. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('EvmGate', () => {
  test('at most maxConcurrent run, maxQueued wait in order, beyond that -32005 naming the limits', async () => {
    const g = gate({});
    const order: string[] = [];
    const latches = [latch(), latch(), latch()];
    const runs = latches.map((l, i) =>
      g.run(async () => {
        order.push(`start ${i}`);
        await l.promise;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['start 0', 'start 1']);
    await assert.rejects(g.run(async () => 9), (e) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, RPC_CODES.limitExceeded);
      assert.match(e.message, /2 EVM calls running and 1 waiting.*--rpc-evm-concurrency, --rpc-evm-queue/);
      return true;
    });
    assert.equal(g.refused, 1);
    latches[0]!.open();
    assert.equal(await runs[0], 0);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['start 0', 'start 1', 'start 2']);
    latches[1]!.open();
    latches[2]!.open();
    assert.deepEqual(await Promise.all(runs), [0, 1, 2]);
  });

  test('a call still waiting at its deadline gets the timeout error, and leaves the queue', async () => {
    const g = gate({ maxConcurrent: 1, timeoutMs: 100 });
    const busy = latch();
    const first = g.run(() => busy.promise);
    const t0 = performance.now();
    await assert.rejects(g.run(async () => 'never'), (e) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, RPC_CODES.server);
      assert.equal(e.message, 'execution aborted (timeout = 100ms)');
      return true;
    });
    assert.ok(performance.now() - t0 < 1_000);
    assert.equal(g.timedOutWaiting, 1);
    busy.open();
    await first;
    assert.equal(await g.run(async () => 'next'), 'next');
  });

  test("the work's budget: the cap, and a deadline that started at arrival; EVM_TIMEOUT becomes -32000 and is counted", async () => {
    const timeouts: string[] = [];
    const g = new EvmGate({ gasCap: 1_234n, timeoutMs: 700, maxConcurrent: 1, maxQueued: 1 }, undefined, (where) => timeouts.push(where));
    const seen = await g.run(async (b: EvmBudget) => ({ cap: b.gasCap, left: b.deadline.remainingMs() }));
    assert.equal(seen.cap, 1_234n);
    assert.ok(seen.left > 500 && seen.left <= 700);
    await assert.rejects(
      g.run(() => Promise.reject(new BulwarkError('EVM_TIMEOUT', 'execution aborted (timeout = 700ms)'))),
      (e) => e instanceof RpcError && e.code === RPC_CODES.server && e.message === 'execution aborted (timeout = 700ms)',
    );
    assert.equal(g.timedOutRunning, 1);
    // One waiting past its deadline behind a call that holds the only place.
    const busy = latch();
    const holder = g.run(() => busy.promise);
    await assert.rejects(g.run(async () => 'never'), /execution aborted/);
    busy.open();
    await holder;
    assert.deepEqual(timeouts, ['running', 'waiting']);
  });
});

describe('eth_call and eth_estimateGas through the gate', async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  const queries = new StateQueries(ex, 4);
  const asked: ReadQuery[] = [];
  const methodsWith = (limits: Partial<RpcEvmLimits>) =>
    ethCoreMethods({
      chainId: 1337n,
      freeGas: true,
      reader: new ChainReader(ex),
      head: () => ex.head,
      read: async (q, n, budget) => {
        asked.push(q);
        const { blockHash, answers } = await queries.run(BigInt(n), [q], budget);
        return { ...answers[0]!, blockHash: blockHash! };
      },
      evm: gate({ maxConcurrent: 4, maxQueued: 8, ...limits }),
      pool: {} as TxPool,
      submit: () => {},
      nextBlock: async () => {},
      landed: async () => {},
    });
  const call = (m: ReturnType<typeof methodsWith>, name: string, params: unknown[]) => m.get(name)!.call(params, ctx);

  test('an endless loop answers the timeout error within the deadline', async () => {
    const m = methodsWith({ timeoutMs: 300, gasCap: 10n ** 12n });
    const t0 = performance.now();
    await assert.rejects(call(m, 'eth_call', [{ to: null, data: LOOP, gas: '0xffffffffff' }, 'latest']), (e) => {
      assert.ok(e instanceof RpcError, String(e));
      assert.equal(e.code, RPC_CODES.server);
      assert.equal(e.message, 'execution aborted (timeout = 300ms)');
      return true;
    });
    assert.ok(performance.now() - t0 < 1_000);
    await assert.rejects(call(m, 'eth_estimateGas', [{ data: LOOP }]), (e) => e instanceof RpcError && /timeout = 300ms/.test(e.message));
  });

  test('gas above the cap is lowered to it in the read itself', async () => {
    const m = methodsWith({ gasCap: 1_000_000n });
    asked.length = 0;
    const left = BigInt((await call(m, 'eth_call', [{ data: GAS_LEFT, gas: '0xffffffffff' }, 'latest'])) as string);
    assert.ok(left <= 1_000_000n && left > 900_000n, `gas left ${left}`);
    assert.equal((asked[0] as { call: { gas?: bigint } }).call.gas, 1_000_000n);
    // Nothing asked and a block limit (30,000,000) above the cap: the cap.
    await call(m, 'eth_call', [{ data: GAS_LEFT }, 'latest']);
    assert.equal((asked[1] as { call: { gas?: bigint } }).call.gas, 1_000_000n);
    // Below the cap, untouched.
    await call(m, 'eth_call', [{ data: GAS_LEFT, gas: '0x30d40' }, 'latest']);
    assert.equal((asked[2] as { call: { gas?: bigint } }).call.gas, 200_000n);
    await assert.rejects(call(m, 'eth_estimateGas', [{ data: LOOP }]), (e) => e instanceof RpcError && /gas cap 1000000/.test(e.message));
  });
});
