// EVM limits for reads (execution/evm-limits.ts): the gas cap, a deadline that stops an endless
// loop from inside the interpreter with go-ethereum's error, the event loop getting a turn every
// few milliseconds meanwhile (also with several loops at once), and a read request's calls sharing
// one deadline without leaving a broken EVM behind.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAddressFromBigInt } from '@ethereumjs/util';
import { runTx } from '@ethereumjs/vm';
import { decodeCallOutcome, quantityOf, type ReadQuery } from '../../src/codec/read.ts';
import { isBulwarkError } from '../../src/common/errors.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { Deadline, DEFAULT_EVM_LIMITS, EvmPreemption, SLICE_MS, budgetOf, goDuration, type EvmBudget } from '../../src/execution/evm-limits.ts';
import { Executor } from '../../src/execution/executor.ts';
import { createNodeVm } from '../../src/execution/precompiles.ts';
import { ChainReader, unsignedTx } from '../../src/execution/reader.ts';
import { StateQueries } from '../../src/execution/state-queries.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { addressOf, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
/** JUMPDEST PUSH1 0 JUMP: forever, as far as gas lasts. */
const LOOP = hex('5b600056');
/** GAS PUSH0 MSTORE PUSH1 32 PUSH0 RETURN: the gas left, as init code (`to` absent). */
const GAS_LEFT = hex('5a5f5260205ff3');
const budget = (timeoutMs: number, gasCap = 10n ** 15n): EvmBudget => ({ gasCap, deadline: new Deadline(timeoutMs) });

async function chain(): Promise<Executor> {
  return Executor.open({ kv: new MemoryStore(), config: testConfig() });
}

// The first long runs in a process are V8's: it compiles the interpreter's paths for a few
// hundred milliseconds, on this thread, before the EVM's own slices are what one sees.
before(async () => {
  const reader = new ChainReader(await chain());
  for (let i = 0; i < 2; i++) await reader.call({ data: LOOP, gas: 0xffffffffffn }, 'latest', budget(150)).catch(() => {});
});

/**
 * How often a 1 ms interval ran while `work` ran (the event loop's turns), and the CPU time the
 * process used meanwhile. Turns per CPU millisecond say whether the EVM gives turns, whatever else
 * the machine is doing (a shared machine stretches wall-clock gaps, not CPU time).
 */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; turns: number; cpuMs: number }> {
  let turns = 0;
  const timer = setInterval(() => turns++, 1);
  const cpu0 = process.cpuUsage();
  try {
    const [result] = await Promise.allSettled([work()]);
    const cpu = process.cpuUsage(cpu0);
    return { result: result!, turns, cpuMs: (cpu.user + cpu.system) / 1_000 };
  } finally {
    clearInterval(timer);
  }
}

/**
 * The event loop got turns during the run. On a shared machine wall-clock and CPU figures both
 * stretch, so this only tells preemption (many turns) from none (0 turns in the whole run); the
 * rate is checked with a clock of the test's own below.
 */
function assertTurns({ turns, cpuMs }: { turns: number; cpuMs: number }): void {
  assert.ok(turns >= 5, `${turns} turns of the event loop in ${cpuMs.toFixed(0)} ms of CPU time`);
}

describe('Deadline', () => {
  test("go-ethereum's wording and Go's duration format", () => {
    assert.equal(new Deadline(5_000).error().message, 'execution aborted (timeout = 5s)');
    assert.equal(goDuration(1_000), '1s');
    assert.equal(goDuration(1_500), '1.5s');
    assert.equal(goDuration(250), '250ms');
    assert.equal(goDuration(90_000), '1m30s');
    assert.equal(goDuration(3_600_000), '1h0m0s');
    assert.ok(isBulwarkError(new Deadline(1).error(), 'EVM_TIMEOUT'));
  });

  test('race: the work, or the timeout error at the deadline; no deadline for an infinite timeout', async () => {
    assert.equal(await new Deadline(1_000).race(Promise.resolve(7)), 7);
    const t0 = performance.now();
    await assert.rejects(new Deadline(50).race(new Promise(() => {})), (e) => isBulwarkError(e, 'EVM_TIMEOUT'));
    assert.ok(performance.now() - t0 < 500);
    const never = new Deadline(Infinity);
    assert.equal(never.expired(), false);
    assert.equal(never.timerMs(), null);
    assert.equal(await never.race(Promise.resolve(1)), 1);
  });
});

describe('a call within its budget', () => {
  test('an endless loop is stopped at the deadline with the timeout error, and the event loop keeps turning', async () => {
    const sim = await new ChainReader(await chain()).simulation('latest');
    const t0 = performance.now();
    const run = await turnsDuring(() => sim.call({ data: LOOP, gas: 0xffffffffffn }, budget(300)));
    const { result } = run;
    const took = performance.now() - t0;
    assert.equal(result.status, 'rejected');
    const err = (result as PromiseRejectedResult).reason as Error;
    assert.ok(isBulwarkError(err, 'EVM_TIMEOUT'), String(err));
    assert.equal(err.message, 'execution aborted (timeout = 300ms)');
    assert.ok(took >= 290 && took < 1_000, `stopped after ${took.toFixed(0)} ms`);
    assertTurns(run);
    assert.equal(sim.usable, false);
  });

  test('several loops at once take turns, each stopped at its deadline', async () => {
    const reader = new ChainReader(await chain());
    const sims = await Promise.all([200, 300, 400].map(async (ms) => ({ ms, sim: await reader.simulation('latest') })));
    const runs = () =>
      Promise.all(
        sims.map(({ ms, sim }) => {
          const t0 = performance.now();
          return sim.call({ data: LOOP }, budget(ms)).then(
            () => assert.fail('the loop ended'),
            (e: unknown) => ({ e, ms, took: performance.now() - t0 }),
          );
        }),
      );
    const run = await turnsDuring(runs);
    const { result } = run;
    assert.equal(result.status, 'fulfilled');
    for (const { e, ms, took } of (result as PromiseFulfilledResult<{ e: unknown; ms: number; took: number }[]>).value) {
      assert.ok(isBulwarkError(e, 'EVM_TIMEOUT'), String(e));
      assert.ok(took >= ms - 10 && took < ms + 500, `a ${ms} ms deadline took ${took.toFixed(0)} ms`);
    }
    // One slice per turn, whichever loop's it is.
    assertTurns(run);
  });

  test('gas above the cap runs with the cap (the default: 50,000,000)', async () => {
    const reader = new ChainReader(await chain());
    const gasLeft = async (gas: bigint | undefined, b?: EvmBudget) => {
      const r = await reader.call({ data: GAS_LEFT, ...(gas === undefined ? {} : { gas }) }, 'latest', b);
      assert.equal(r.success, true, r.error);
      return BigInt(`0x${Buffer.from(r.returnData).toString('hex')}`);
    };
    const capped = await gasLeft(0xffffffffffn, budget(5_000, 1_000_000n));
    assert.ok(capped <= 1_000_000n && capped > 900_000n, `gas left ${capped}`);
    const byDefault = await gasLeft(0xffffffffffn);
    assert.ok(byDefault <= DEFAULT_EVM_LIMITS.gasCap && byDefault > DEFAULT_EVM_LIMITS.gasCap - 100_000n, `gas left ${byDefault}`);
    // Below the cap, what was asked; nothing asked: the block's limit (30,000,000 here).
    const asked = await gasLeft(200_000n);
    assert.ok(asked <= 200_000n && asked > 100_000n);
    const blockLimit = await gasLeft(undefined);
    assert.ok(blockLimit <= 30_000_000n && blockLimit > 29_000_000n);
  });

  test('estimateGas searches up to the cap, and names it when the message fails even with it', async () => {
    const reader = new ChainReader(await chain());
    await assert.rejects(reader.estimateGas({ data: LOOP, gas: 0xffffffffffn }, 'latest', budget(5_000, 1_000_000n)), (e) => {
      assert.ok(isBulwarkError(e, 'READ_EXECUTION_FAILED'), String(e));
      assert.match((e as Error).message, /with the gas cap 1000000: out of gas/);
      return true;
    });
    // A message that needs little is estimated as before.
    assert.ok((await reader.estimateGas({ data: GAS_LEFT }, 'latest', budget(5_000, 1_000_000n))) < 100_000n);
  });

  test('an estimate of an endless loop with a large cap is stopped by the deadline', async () => {
    const reader = new ChainReader(await chain());
    await assert.rejects(reader.estimateGas({ data: LOOP }, 'latest', budget(200, 10n ** 12n)), (e) => isBulwarkError(e, 'EVM_TIMEOUT'));
  });
});

test('with a clock of its own: a turn of the event loop every SLICE_MS, stopped at the deadline', async () => {
  const ex = await chain();
  let now = 0;
  // Every look at the clock is a quarter of a millisecond later.
  const preemption = new EvmPreemption(() => (now += 0.25));
  const common = ex.common.copy();
  const vm = await createNodeVm(common, ex.stateAt(ex.head.header.stateRoot, true), ex.blockHashes, preemption.opcodes(common));
  const tx = unsignedTx(ex, { data: LOOP }, 0n, 10n ** 12n, 0n);
  tx.getSenderAddress = () => createAddressFromBigInt(0n);
  let turns = 0;
  let counting = true;
  const count = () => {
    turns++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  const deadline = new Deadline(1_000, 0);
  await assert.rejects(
    preemption.run(deadline, () => runTx(vm, { tx, block: ex.head, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true })),
    (e) => isBulwarkError(e, 'EVM_TIMEOUT') && e.message === 'execution aborted (timeout = 1s)',
  );
  counting = false;
  assert.ok(now >= 1_000 && now <= 1_000.25, `stopped at ${now}`);
  assert.equal(preemption.aborted, true);
  // 1,000 ms of this clock, slices of SLICE_MS (each 8 checkpoints, 1 more look after its turn).
  const slices = 1_000 / (SLICE_MS + 0.25);
  assert.ok(turns >= slices * 0.8 && turns <= slices * 1.2, `${turns} turns for ${slices.toFixed(0)} slices`);
  await assert.rejects(preemption.run(new Deadline(1_000), async () => 1), (e) => isBulwarkError(e, 'EVM_ABORTED'));
});

describe('a read request (StateQueries)', () => {
  test("the calls share one deadline; the stopped EVM is not used again; other lookups are answered", async () => {
    const ex = await chain();
    const queries = new StateQueries(ex, 4, { gasCap: 10n ** 12n, timeoutMs: 250 });
    const address = hex(addressOf(testKey(0)).slice(2));
    const loop: ReadQuery = { kind: 'call', call: { data: LOOP } };
    const t0 = performance.now();
    const { answers } = await queries.run(0n, [loop, { kind: 'balance', address }, loop, loop]);
    const took = performance.now() - t0;
    assert.ok(took >= 240 && took < 1_000, `took ${took.toFixed(0)} ms for three loops with one 250 ms deadline`);
    for (const i of [0, 2, 3]) {
      assert.equal(answers[i]!.ok, false);
      assert.equal(new TextDecoder().decode(answers[i]!.result), 'execution aborted (timeout = 250ms)');
    }
    assert.equal(answers[1]!.ok, true);
    assert.equal(quantityOf(answers[1]!.result), 10n ** 24n);
    // The next request at the same block gets a working EVM.
    const again = await queries.run(0n, [{ kind: 'call', call: { data: GAS_LEFT, gas: 100_000n } }], budgetOf());
    assert.equal(again.answers[0]!.ok, true);
    assert.equal(decodeCallOutcome(again.answers[0]!.result).success, true);
  });

  test('the cap of the store applies when the request asks for more', async () => {
    const queries = new StateQueries(await chain(), 4, { gasCap: 500_000n, timeoutMs: 5_000 });
    const { answers } = await queries.run(0n, [{ kind: 'call', call: { data: GAS_LEFT, gas: 0xffffffffffn } }]);
    const out = decodeCallOutcome(answers[0]!.result);
    assert.equal(out.success, true);
    assert.ok(BigInt(`0x${Buffer.from(out.returnData).toString('hex')}`) <= 500_000n);
  });
});

test('block execution is untouched: only the read VMs have checkpoint opcodes', async () => {
  // A read VM's JUMP is wrapped (async); the executor's VM keeps ethereumjs' own, synchronous one.
  type WithVm = { vm: { evm: unknown } };
  const jumpIsAsync = (o: unknown) => ((o as WithVm).vm.evm as { _opcodeMap: { opcodeInfo: { isAsync: boolean } }[] })._opcodeMap[0x56]!.opcodeInfo.isAsync;
  const ex = await chain();
  assert.equal(jumpIsAsync(await new ChainReader(ex).simulation('latest')), true);
  assert.equal(jumpIsAsync(ex), false);
});
