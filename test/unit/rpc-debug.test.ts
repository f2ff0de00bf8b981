// debug_traceTransaction and debug_traceCall (rpc/namespaces/debug.ts) on a small real chain built
// in memory: go-ethereum's trace config (tracer, tracerConfig, timeout, struct logger options, keys
// in any case), parameter errors (-32602 naming the argument), what cannot be traced (-32000:
// unknown transaction or block, pending, timeout, size, a node without local state), and reverts
// answered as traces, not errors.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Block } from '@ethereumjs/block';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { BulwarkError } from '../../src/common/errors.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import type { ChainSource } from '../../src/execution/reader.ts';
import { traceTransaction, type CallFrame, type StructLoggerResult } from '../../src/execution/trace/index.ts';
import { RpcError } from '../../src/rpc/errors.ts';
import { hexD } from '../../src/rpc/format.ts';
import type { MethodDef } from '../../src/rpc/method.ts';
import { debugMethods, type DebugBackend } from '../../src/rpc/namespaces/debug.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytecode, encodeCall } from '../helpers/abi.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const B = testKey(1);
const GWEI = 1_000_000_000n;
const EXERCISER = createContractAddress(createAddressFromString(addressOf(A)), 0n).toString();
const UNKNOWN_HASH = `0x${'ab'.repeat(32)}`;
const word = (v: bigint) => v.toString(16).padStart(64, '0');
const STORE = hexD(encodeCall('store(uint256,uint256)', 1n, 42n));
const READ_SLOT = hexD(encodeCall('slots(uint256)', 1n));
const FAIL_WITH_REASON = hexD(encodeCall('failWithReason()'));

interface Chain {
  readonly ex: Executor;
  readonly blocks: Block[];
  readonly store: string;
  readonly fail: string;
  readonly transfer: string;
}

/** Block 1: the Exerciser; block 2: a transfer, a storage write, a reverted call. */
async function buildChain(): Promise<Chain> {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig({ gasMode: 'market' }) });
  const sign = (nonce: bigint, f: { to?: `0x${string}`; data?: Uint8Array; value?: bigint; gasLimit: bigint }) =>
    signTx(ex.common, A, { nonce, gasPrice: 5n * GWEI, type: 2, ...f });
  const blocks = [ex.head];
  const deploy = sign(0n, { data: bytecode('Exerciser'), gasLimit: 3_000_000n });
  blocks.push((await ex.execute(ex.head.hash(), [deploy.serialize()], 1n)).block);
  const transfer = sign(1n, { to: addressOf(B), value: 5n, gasLimit: 21_000n });
  const store = sign(2n, { to: EXERCISER as `0x${string}`, data: encodeCall('store(uint256,uint256)', 1n, 42n), gasLimit: 200_000n });
  const fail = sign(3n, { to: EXERCISER as `0x${string}`, data: encodeCall('failWithReason()'), gasLimit: 200_000n });
  const r = await ex.execute(ex.head.hash(), [transfer, store, fail].map((t) => t.serialize()), 2n);
  assert.equal(r.block.transactions.length, 3);
  blocks.push(r.block);
  return { ex, blocks, store: hexD(store.hash()), fail: hexD(fail.hash()), transfer: hexD(transfer.hash()) };
}

function methodsFor(source: ChainSource | undefined, extra: Partial<DebugBackend> = {}): Map<string, MethodDef> {
  return debugMethods({ source: () => source, ...extra });
}

async function call(methods: Map<string, MethodDef>, name: string, params: unknown[]): Promise<unknown> {
  const m = methods.get(name);
  assert.ok(m !== undefined, `${name} is defined`);
  // Through JSON, as a client would see it.
  return JSON.parse(JSON.stringify(await m.call(params, { transport: 'http' })));
}

async function refused(methods: Map<string, MethodDef>, name: string, params: unknown[], code: number, message: RegExp): Promise<void> {
  await assert.rejects(call(methods, name, params), (e) => {
    assert.ok(e instanceof RpcError, String(e));
    assert.equal(e.code, code, `${name} ${JSON.stringify(params)}: ${e.message}`);
    assert.match(e.message, message);
    return true;
  });
}

describe('debug_traceTransaction and debug_traceCall', () => {
  let c: Chain;
  let m: Map<string, MethodDef>;

  before(async () => {
    c = await buildChain();
    m = methodsFor(c.ex);
  });

  test('the struct logger by default; the callTracer when asked for', async () => {
    const t = (await call(m, 'debug_traceTransaction', [c.store])) as StructLoggerResult;
    assert.deepEqual(t, JSON.parse(JSON.stringify(await traceTransaction(c.ex, Buffer.from(c.store.slice(2), 'hex'), { tracer: 'structLogger' }))));
    assert.equal(t.failed, false);
    assert.ok(t.structLogs.some((l) => l.op === 'SSTORE' && l.storage !== undefined));
    assert.deepEqual(await call(m, 'debug_traceTransaction', [c.store, null]), t);
    assert.deepEqual(await call(m, 'debug_traceTransaction', [c.store, {}]), t);
    assert.deepEqual(await call(m, 'debug_traceTransaction', [c.transfer, { tracer: 'callTracer' }]), {
      type: 'CALL',
      from: addressOf(A),
      gas: '0x5208',
      gasUsed: '0x5208',
      to: addressOf(B),
      input: '0x',
      value: '0x5',
    });
    const top = (await call(m, 'debug_traceTransaction', [c.store, { tracer: 'callTracer', tracerConfig: { onlyTopCall: true, withLog: true } }])) as CallFrame;
    assert.equal(top.logs?.length, 1);
    assert.equal(top.input, STORE);
  });

  test('a reverted transaction is a trace that says so', async () => {
    const t = (await call(m, 'debug_traceTransaction', [c.fail])) as StructLoggerResult;
    assert.equal(t.failed, true);
    assert.equal(t.structLogs.at(-1)!.op, 'REVERT');
    const f = (await call(m, 'debug_traceTransaction', [c.fail, { tracer: 'callTracer' }])) as CallFrame;
    assert.equal(f.error, 'execution reverted');
    assert.equal(f.revertReason, 'no thank you');
  });

  test("struct logger options, with Go's case-insensitive keys", async () => {
    const t = (await call(m, 'debug_traceTransaction', [c.store, { DisableStack: true, enablememory: true, disableStorage: true, limit: 3 }])) as StructLoggerResult;
    assert.equal(t.structLogs.length, 3);
    assert.ok(t.structLogs.every((l) => l.stack === undefined && l.storage === undefined));
    assert.deepEqual(t.structLogs[2]!.memory, undefined, 'no memory before the first MSTORE');
    const unlimited = (await call(m, 'debug_traceTransaction', [c.store, { limit: 0, timeout: '10s' }])) as StructLoggerResult;
    assert.ok(unlimited.structLogs.length > 100);
  });

  test('parameter errors name the argument', async () => {
    await refused(m, 'debug_traceTransaction', [], -32602, /missing value for required argument 0/);
    await refused(m, 'debug_traceTransaction', ['0x1234'], -32602, /invalid argument 0: /);
    await refused(m, 'debug_traceTransaction', [c.store, 'callTracer'], -32602, /invalid argument 1: expected a trace config object/);
    await refused(m, 'debug_traceTransaction', [c.store, {}, 1], -32602, /too many arguments/);
    await refused(m, 'debug_traceTransaction', [c.store, { tracer: 'prestateTracer' }], -32602, /invalid argument 1: tracer "prestateTracer" not found/);
    await refused(m, 'debug_traceTransaction', [c.store, { tracer: 7 }], -32602, /invalid argument 1: tracer must be a string/);
    await refused(m, 'debug_traceTransaction', [c.store, { disableStack: 'yes' }], -32602, /invalid argument 1: disableStack must be a boolean/);
    await refused(m, 'debug_traceTransaction', [c.store, { limit: -1 }], -32602, /invalid argument 1: limit must be a non-negative integer/);
    await refused(m, 'debug_traceTransaction', [c.store, { limit: 1.5 }], -32602, /limit must be a non-negative integer/);
    await refused(m, 'debug_traceTransaction', [c.store, { timeout: 'soon' }], -32602, /invalid argument 1: time: invalid duration "soon"/);
    await refused(m, 'debug_traceTransaction', [c.store, { timeout: 5 }], -32602, /timeout must be a duration string/);
    await refused(m, 'debug_traceTransaction', [c.store, { timeout: '2m' }], -32602, /above this node's maximum of 60s/);
    await refused(m, 'debug_traceTransaction', [c.store, { tracer: 'callTracer', tracerConfig: { onlyTopCall: 1 } }], -32602, /onlyTopCall must be a boolean/);
    await refused(m, 'debug_traceTransaction', [c.store, { tracer: 'callTracer', tracerConfig: [] }], -32602, /tracerConfig must be an object/);
  });

  test('what cannot be traced: unknown transaction, timeout, too many entries', async () => {
    await refused(m, 'debug_traceTransaction', [UNKNOWN_HASH], -32000, /^transaction not found$/);
    await refused(m, 'debug_traceTransaction', [c.store, { timeout: '1ns' }], -32000, /^execution timeout$/);
    await refused(m, 'debug_traceTransaction', [c.store, { tracer: 'callTracer', timeout: '0' }], -32000, /^execution timeout$/);
    const capped = methodsFor(c.ex, { maxStructLogs: 50 });
    await refused(capped, 'debug_traceTransaction', [c.store], -32000, /more than 50 struct log entries: pass a limit of at most 50/);
    assert.equal(((await call(capped, 'debug_traceTransaction', [c.store, { limit: 50 }])) as StructLoggerResult).structLogs.length, 50);
    // The callTracer has no entries to count.
    assert.equal(((await call(capped, 'debug_traceTransaction', [c.store, { tracer: 'callTracer' }])) as CallFrame).type, 'CALL');
  });

  test('without local state: tracing says it needs it', async () => {
    const none = methodsFor(undefined);
    await refused(none, 'debug_traceTransaction', [c.store], -32000, /tracing needs this node's local state/);
    await refused(none, 'debug_traceCall', [{ to: EXERCISER }, 'latest'], -32000, /tracing needs this node's local state/);
    // Parameters are still checked first.
    await refused(none, 'debug_traceTransaction', ['0x12'], -32602, /invalid argument 0/);
    // A ledger mirror's source keeps blocks, not state.
    const mirror: ChainSource = {
      blocks: c.ex.blocks,
      get head() {
        return c.ex.head;
      },
      common: c.ex.common,
      blockHashes: c.ex.blockHashes,
      stateAt(): never {
        throw new BulwarkError('READ_NO_STATE', 'the ledger mirror holds blocks, not state: state is read from the replicas');
      },
    };
    await refused(methodsFor(mirror), 'debug_traceTransaction', [c.store], -32000, /holds blocks, not state/);
  });

  test('debug_traceCall on a block number, tag or hash', async () => {
    const read = { to: EXERCISER, data: READ_SLOT };
    const value = async (block: unknown) => ((await call(m, 'debug_traceCall', [read, block])) as StructLoggerResult).returnValue;
    assert.equal(await value('latest'), `0x${word(42n)}`);
    assert.equal(await value('0x2'), `0x${word(42n)}`);
    assert.equal(await value('0x1'), `0x${word(0n)}`);
    assert.equal(await value('finalized'), `0x${word(42n)}`);
    assert.equal(await value({ blockHash: hexD(c.blocks[1]!.hash()) }), `0x${word(0n)}`);
    assert.equal(await value({ blockNumber: '0x2' }), `0x${word(42n)}`);
    // At genesis there is no contract: nothing runs.
    assert.deepEqual(await call(m, 'debug_traceCall', [read, 'earliest']), { gas: 21_000 + 16 * 5 + 4 * 31, failed: false, returnValue: '0x', structLogs: [] });
    const viaInput = (await call(m, 'debug_traceCall', [{ to: EXERCISER, input: READ_SLOT, from: addressOf(B), gas: '0x186a0' }, 'latest', { tracer: 'callTracer' }])) as CallFrame;
    assert.equal(viaInput.from, addressOf(B));
    assert.equal(viaInput.gas, '0x186a0');
    assert.equal(viaInput.output, `0x${word(42n)}`);
  });

  test('debug_traceCall: a revert is a trace; refusals and bad parameters are errors', async () => {
    const reverted = (await call(m, 'debug_traceCall', [{ to: EXERCISER, data: FAIL_WITH_REASON }, 'latest', { tracer: 'callTracer' }])) as CallFrame;
    assert.equal(reverted.error, 'execution reverted');
    assert.equal(reverted.revertReason, 'no thank you');
    await refused(m, 'debug_traceCall', [{ to: EXERCISER, data: READ_SLOT }], -32602, /missing value for required argument 1/);
    await refused(m, 'debug_traceCall', [{ to: '0x1234' }, 'latest'], -32602, /invalid argument 0: /);
    await refused(m, 'debug_traceCall', ['0x12', 'latest'], -32602, /invalid argument 0: expected a transaction call object/);
    await refused(m, 'debug_traceCall', [{ to: EXERCISER, data: '0x12', input: '0x34' }, 'latest'], -32602, /both "data" and "input"/);
    await refused(m, 'debug_traceCall', [{ to: EXERCISER, gas: 5 }, 'latest'], -32602, /invalid argument 0/);
    await refused(m, 'debug_traceCall', [{ to: EXERCISER }, 'next'], -32602, /invalid argument 1/);
    await refused(m, 'debug_traceCall', [{ to: EXERCISER }, 'latest', { stateOverrides: {} }], -32602, /invalid argument 2: stateoverrides is not supported/);
    await refused(m, 'debug_traceCall', [{ to: EXERCISER }, 'latest', { tracer: 'fourByteTracer' }], -32602, /invalid argument 2: tracer "fourByteTracer" not found/);
    await refused(m, 'debug_traceCall', [{ to: EXERCISER }, 'pending'], -32000, /^tracing on top of pending is not supported$/);
    await refused(m, 'debug_traceCall', [{ to: EXERCISER }, '0x63'], -32000, /^block #99 not found$/);
    await refused(m, 'debug_traceCall', [{ to: EXERCISER }, { blockHash: UNKNOWN_HASH }], -32000, new RegExp(`^block ${UNKNOWN_HASH} not found$`));
    await refused(m, 'debug_traceCall', [{ to: EXERCISER, data: READ_SLOT, gas: '0x5208' }, 'latest'], -32000, /^intrinsic gas too low: have 21000, want 21204$/);
  });
});
