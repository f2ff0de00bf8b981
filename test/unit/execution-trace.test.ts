// Tracing (execution/trace/) on a small real chain built in memory: the struct logger and the
// callTracer on transfers, storage writes, reverts with reasons, nested calls (CALL, DELEGATECALL,
// CREATE2, SELFDESTRUCT), out of gas and logs; a transaction in the middle of a block sees what the
// block's earlier transactions left; calls traced on top of a block; options and limits.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Block } from '@ethereumjs/block';
import { createAddressFromString, createContractAddress, generateAddress2 } from '@ethereumjs/util';
import { isBulwarkError } from '../../src/common/errors.ts';
import { initHashes, keccak256 as keccak } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import {
  traceCall,
  traceTransaction,
  unpackRevert,
  type CallFrame,
  type StructLog,
  type StructLoggerResult,
  type TraceOptions,
} from '../../src/execution/trace/index.ts';
import { hexD } from '../../src/rpc/format.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytecode, encodeCall, eventTopic } from '../helpers/abi.ts';
import { addressOf, signTx, testConfig, testKey, type TxFields } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const B = testKey(1);
const C = testKey(2);
const GWEI = 1_000_000_000n;
const contractOf = (nonce: bigint) => createContractAddress(createAddressFromString(addressOf(A)), nonce).toString() as `0x${string}`;
const EXERCISER = contractOf(0n);
const TOKEN = contractOf(1n);
const FORWARD_CALL = contractOf(2n);
const FORWARD_DELEGATE = contractOf(3n);
const SALT = `0x${'00'.repeat(31)}01`;
const word = (v: bigint) => v.toString(16).padStart(64, '0');
const mappingSlot = (key: bigint, slot: bigint) => hexD(keccak(Buffer.from(word(key) + word(slot), 'hex')));
/** A 32-byte word as the struct logger prints memory and storage (0x-prefixed, as the specification has it). */
const slotWord = (v: bigint) => `0x${word(v)}`;

/**
 * A contract that passes its calldata on to `target` with CALL (0xf1), DELEGATECALL (0xf4) or
 * STATICCALL (0xfa) and returns whatever comes back, even a revert's data (so it succeeds).
 */
function forwarder(target: string, op: 0xf1 | 0xf4 | 0xfa): Uint8Array {
  const addr = [...Buffer.from(target.slice(2), 'hex')];
  // retSize, retOffset, argsSize, argsOffset (and value for CALL): all zero but the calldata size.
  const args = op === 0xf1 ? [0x5f, 0x5f, 0x36, 0x5f, 0x5f] : [0x5f, 0x5f, 0x36, 0x5f];
  const runtime = [0x36, 0x5f, 0x5f, 0x37, ...args, 0x73, ...addr, 0x5a, op, 0x3d, 0x5f, 0x5f, 0x3e, 0x3d, 0x5f, 0xf3];
  // PUSH1 len DUP1 PUSH1 9 PUSH0 CODECOPY PUSH0 RETURN, then the runtime.
  return Uint8Array.from([0x60, runtime.length, 0x80, 0x60, 0x09, 0x5f, 0x39, 0x5f, 0xf3, ...runtime]);
}

/** Transactions by name, with where they landed. */
interface Chain {
  readonly ex: Executor;
  readonly blocks: Block[];
  readonly tx: Record<string, Uint8Array>;
}

type Named = [name: string, key: Uint8Array, fields: TxFields];

async function buildChain(perBlock: Named[][]): Promise<Chain> {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig({ gasMode: 'market' }) });
  const blocks: Block[] = [ex.head];
  const tx: Record<string, Uint8Array> = {};
  for (const named of perBlock) {
    const signed = named.map(([name, key, f]) => {
      const t = signTx(ex.common, key, { gasPrice: 5n * GWEI, type: 2, ...f });
      tx[name] = t.hash();
      return t.serialize();
    });
    const r = await ex.execute(ex.head.hash(), signed, ex.head.header.timestamp + 1n);
    assert.equal(r.block.transactions.length, signed.length, `every transaction was included: ${JSON.stringify(r.rejected)}`);
    blocks.push(r.block);
  }
  return { ex, blocks, tx };
}

const structLogger = (config: Extract<TraceOptions, { tracer: 'structLogger' }>['config'] = {}): TraceOptions => ({ tracer: 'structLogger', config });
const callTracer = (config: Extract<TraceOptions, { tracer: 'callTracer' }>['config'] = {}): TraceOptions => ({ tracer: 'callTracer', config });

async function structTrace(c: Chain, name: string, options: TraceOptions = structLogger()): Promise<StructLoggerResult> {
  return (await traceTransaction(c.ex, c.tx[name]!, options)) as StructLoggerResult;
}

async function callTrace(c: Chain, name: string, options: TraceOptions = callTracer()): Promise<CallFrame> {
  return (await traceTransaction(c.ex, c.tx[name]!, options)) as CallFrame;
}

async function receiptGas(c: Chain, name: string): Promise<bigint> {
  const loc = await c.ex.blocks.txLocation(c.tx[name]!);
  assert.ok(loc !== undefined);
  return (await c.ex.blocks.receipts(loc.blockHash))![loc.index]!.gasUsed;
}

/** 21,000 plus 16 per non-zero and 4 per zero byte of calldata (no access list, not a create). */
function intrinsicGas(data: Uint8Array): number {
  return 21_000 + [...data].reduce((g, b) => g + (b === 0 ? 4 : 16), 0);
}

/** Within one frame, each entry's gas is the previous one's less its cost (calls aside). */
function assertGasFlows(logs: readonly StructLog[]): void {
  for (let i = 0; i + 1 < logs.length; i++) {
    const [a, b] = [logs[i]!, logs[i + 1]!];
    if (a.depth === b.depth && !/CALL|CREATE/.test(a.op)) assert.equal(b.gas, a.gas - a.gasCost, `gas after ${a.op} at pc ${a.pc}`);
  }
}

const STORE_1_42 = encodeCall('store(uint256,uint256)', 1n, 42n);
const FAIL_WITH_REASON = encodeCall('failWithReason()');
const ERROR_NO_THANK_YOU = `0x08c379a0${word(32n)}${word(12n)}${Buffer.from('no thank you').toString('hex').padEnd(64, '0')}`;

describe('tracing transactions and calls', () => {
  let c: Chain;

  before(async () => {
    c = await buildChain([
      [
        ['exerciser', A, { nonce: 0n, data: bytecode('Exerciser'), gasLimit: 3_000_000n }],
        ['token', A, { nonce: 1n, data: bytecode('Token', 1_000_000n), gasLimit: 2_000_000n }],
        ['forwardCall', A, { nonce: 2n, data: forwarder(EXERCISER, 0xf1), gasLimit: 200_000n }],
        ['forwardDelegate', A, { nonce: 3n, data: forwarder(EXERCISER, 0xf4), gasLimit: 200_000n }],
      ],
      [
        ['transfer', A, { nonce: 4n, to: addressOf(B), value: 1n, gasLimit: 21_000n }],
        ['store42', A, { nonce: 5n, to: EXERCISER, data: STORE_1_42, gasLimit: 200_000n }],
        ['store43', A, { nonce: 6n, to: EXERCISER, data: encodeCall('store(uint256,uint256)', 1n, 43n), gasLimit: 200_000n }],
        ['failWithReason', A, { nonce: 7n, to: EXERCISER, data: FAIL_WITH_REASON, gasLimit: 200_000n }],
        ['forwardedFail', A, { nonce: 8n, to: FORWARD_CALL, data: FAIL_WITH_REASON, gasLimit: 200_000n }],
        ['delegatedStore', A, { nonce: 9n, to: FORWARD_DELEGATE, data: encodeCall('store(uint256,uint256)', 2n, 7n), gasLimit: 200_000n }],
        ['deployAndDestroy', A, { nonce: 10n, to: EXERCISER, data: encodeCall('deployAndDestroy(bytes32)', SALT), gasLimit: 1_000_000n }],
        ['outOfGas', A, { nonce: 11n, to: EXERCISER, data: encodeCall('burn(uint256)', 200n), gasLimit: 100_000n }],
        ['tokenTransfer', A, { nonce: 12n, to: TOKEN, data: encodeCall('transfer(address,uint256)', addressOf(B), 100n), gasLimit: 100_000n }],
        ['customError', A, { nonce: 13n, to: EXERCISER, data: encodeCall('fail(uint256)', 3n), gasLimit: 100_000n }],
      ],
      [['later', B, { nonce: 0n, to: addressOf(C), value: 2n, gasLimit: 21_000n }]],
    ]);
  });

  test('a plain transfer: no opcodes, 21,000 gas; its call frame', async () => {
    assert.deepEqual(await structTrace(c, 'transfer'), { gas: 21_000, failed: false, returnValue: '0x', structLogs: [] });
    assert.deepEqual(await callTrace(c, 'transfer'), {
      type: 'CALL',
      from: addressOf(A),
      gas: '0x5208',
      gasUsed: '0x5208',
      to: addressOf(B),
      input: '0x',
      value: '0x1',
    });
  });

  test('a storage write: SSTORE with the storage map, costs that add up to the gas used', async () => {
    const t = await structTrace(c, 'store42');
    const used = await receiptGas(c, 'store42');
    assert.equal(t.gas, Number(used));
    assert.equal(t.failed, false);
    assert.equal(t.returnValue, '0x');
    const logs = t.structLogs;
    assert.deepEqual(logs.slice(0, 2).map((l) => [l.pc, l.op, l.depth, l.stack]), [
      [0, 'PUSH1', 1, []],
      [2, 'PUSH1', 1, ['0x80']],
    ]);
    assert.equal(logs[0]!.gas, 200_000 - intrinsicGas(STORE_1_42));
    assert.equal(logs.at(-1)!.op, 'STOP');
    assertGasFlows(logs);
    // No refund and no sub-call: the opcodes' costs are the gas used beyond the intrinsic gas.
    assert.equal(logs.reduce((g, l) => g + l.gasCost, 0), Number(used) - intrinsicGas(STORE_1_42));
    const sstores = logs.filter((l) => l.op === 'SSTORE');
    assert.equal(sstores.length, 1);
    const sstore = sstores[0]!;
    assert.equal(sstore.gasCost, 22_100, 'a cold slot set from zero: 20,000 + 2,100');
    assert.deepEqual(sstore.storage, { [mappingSlot(1n, 0n)]: slotWord(42n) });
    assert.deepEqual(sstore.stack!.slice(-2), ['0x2a', `0x${mappingSlot(1n, 0n).slice(2).replace(/^0+/, '')}`]);
    assert.ok(logs.every((l) => l.storage === undefined || l.op === 'SSTORE' || l.op === 'SLOAD'));
    assert.ok(logs.some((l) => l.op === 'LOG2'));
  });

  test('the second write in the same block sees the first: the slot is no longer zero', async () => {
    const t = await structTrace(c, 'store43');
    const sstore = t.structLogs.find((l) => l.op === 'SSTORE')!;
    // Set from 42, not from zero: 2,900 + 2,100 (cold). On the parent block's state it would be 22,100.
    assert.equal(sstore.gasCost, 5_000);
    assert.deepEqual(sstore.storage, { [mappingSlot(1n, 0n)]: slotWord(43n) });
    assert.equal(t.gas, Number(await receiptGas(c, 'store43')));
  });

  test('a revert with a reason: failed, the revert data returned, the reason decoded', async () => {
    const t = await structTrace(c, 'failWithReason');
    assert.equal(t.failed, true);
    assert.equal(t.returnValue, ERROR_NO_THANK_YOU);
    assert.equal(t.structLogs.at(-1)!.op, 'REVERT');
    assert.equal(t.structLogs.at(-1)!.error, undefined, 'go-ethereum marks no entry for a revert');
    const f = await callTrace(c, 'failWithReason');
    assert.equal(f.type, 'CALL');
    assert.equal(f.to, EXERCISER);
    assert.equal(f.error, 'execution reverted');
    assert.equal(f.revertReason, 'no thank you');
    assert.equal(f.output, ERROR_NO_THANK_YOU);
    assert.equal(f.gasUsed, `0x${(await receiptGas(c, 'failWithReason')).toString(16)}`);
    assert.equal(f.gas, `0x${(200_000).toString(16)}`);
  });

  test('a custom error: reverted, no reason to decode', async () => {
    const f = await callTrace(c, 'customError');
    assert.equal(f.error, 'execution reverted');
    assert.equal(f.revertReason, undefined);
    assert.equal(f.output, hexD(encodeCall('Refused(uint256)', 3n)));
  });

  test('a nested call that reverts: the callee frame fails, the caller returns its data', async () => {
    const f = await callTrace(c, 'forwardedFail');
    assert.equal(f.error, undefined);
    assert.equal(f.output, ERROR_NO_THANK_YOU);
    assert.equal(f.calls?.length, 1);
    const inner = f.calls![0]!;
    assert.deepEqual(
      { ...inner, gas: undefined, gasUsed: undefined },
      {
        type: 'CALL',
        from: FORWARD_CALL,
        gas: undefined,
        gasUsed: undefined,
        to: EXERCISER,
        input: hexD(FAIL_WITH_REASON),
        output: ERROR_NO_THANK_YOU,
        error: 'execution reverted',
        revertReason: 'no thank you',
        value: '0x0',
      },
    );
    // The struct logger agrees: the CALL's cost is the cold access plus the gas it forwards, and
    // the callee starts with that gas at depth 2.
    const logs = (await structTrace(c, 'forwardedFail', structLogger({ enableReturnData: true }))).structLogs;
    const at = logs.findIndex((l) => l.op === 'CALL');
    const [call, first] = [logs[at]!, logs[at + 1]!];
    assert.equal(first.depth, 2);
    assert.equal(first.gas, Number(BigInt(inner.gas)));
    assert.equal(call.gasCost, 2_600 + first.gas);
    assert.equal(logs.filter((l) => l.depth === 2).at(-1)!.op, 'REVERT');
    const back = logs.slice(at + 1).find((l) => l.depth === 1)!;
    assert.equal(back.op, 'RETURNDATASIZE');
    assert.equal(back.gas, call.gas - call.gasCost + Number(BigInt(inner.gas) - BigInt(inner.gasUsed)));
    assert.equal(back.returnData, ERROR_NO_THANK_YOU, 'enableReturnData: the callee returned this');
    assert.equal(call.returnData, undefined);
    const only = await callTrace(c, 'forwardedFail', callTracer({ onlyTopCall: true }));
    assert.equal(only.calls, undefined);
    assert.equal(only.gasUsed, f.gasUsed);
  });

  test('DELEGATECALL: the contract is the sender, the code its recipient, the value inherited', async () => {
    const f = await callTrace(c, 'delegatedStore');
    const inner = f.calls![0]!;
    assert.equal(inner.type, 'DELEGATECALL');
    assert.equal(inner.from, FORWARD_DELEGATE);
    assert.equal(inner.to, EXERCISER);
    assert.equal(inner.value, '0x0');
    assert.equal(inner.error, undefined);
    const logs = (await structTrace(c, 'delegatedStore')).structLogs;
    assert.deepEqual(logs.find((l) => l.op === 'SSTORE')!.storage, { [mappingSlot(2n, 0n)]: slotWord(7n) });
    assert.equal(logs.find((l) => l.op === 'SSTORE')!.depth, 2);
  });

  test('CREATE2, a call into the new contract and its SELFDESTRUCT, as frames', async () => {
    const f = await callTrace(c, 'deployAndDestroy');
    const child = createAddressFromString(
      hexD(generateAddress2(createAddressFromString(EXERCISER).bytes, Buffer.from(SALT.slice(2), 'hex'), bytecode('Child', addressOf(A)))),
    ).toString();
    assert.deepEqual(
      f.calls!.map((k) => [k.type, k.from, k.to, k.value, k.error]),
      [
        ['CREATE2', EXERCISER, child, '0x0', undefined],
        ['CALL', EXERCISER, child, '0x0', undefined],
      ],
    );
    assert.equal(f.calls![0]!.input, hexD(bytecode('Child', addressOf(A))));
    assert.deepEqual(f.calls![1]!.calls, [{ type: 'SELFDESTRUCT', from: child, gas: '0x0', gasUsed: '0x0', to: addressOf(A), input: '0x', value: '0x0' }]);
    assert.equal(f.output, `0x${child.slice(2).padStart(64, '0')}`);
    const logs = (await structTrace(c, 'deployAndDestroy')).structLogs;
    assert.deepEqual([...new Set(logs.map((l) => l.depth))].sort(), [1, 2]);
    assert.ok(logs.some((l) => l.op === 'CREATE2') && logs.some((l) => l.op === 'SELFDESTRUCT' && l.depth === 2));
  });

  test('out of gas: the failing opcode carries the error, all the gas is used', async () => {
    const t = await structTrace(c, 'outOfGas');
    assert.equal(t.failed, true);
    assert.equal(t.returnValue, '0x');
    assert.equal(t.gas, 100_000);
    const last = t.structLogs.at(-1)!;
    assert.equal(last.error, 'out of gas');
    assert.ok(last.gasCost > last.gas, `${last.op} costs ${last.gasCost} with ${last.gas} left`);
    assert.equal(t.structLogs.filter((l) => l.error !== undefined).length, 1);
    const f = await callTrace(c, 'outOfGas');
    assert.equal(f.error, 'out of gas');
    assert.equal(f.gasUsed, '0x186a0');
    assert.equal(f.output, undefined);
  });

  test('callTracer withLog: the logs each frame emitted, with their position', async () => {
    const f = await callTrace(c, 'tokenTransfer', callTracer({ withLog: true }));
    assert.deepEqual(f.logs, [
      {
        address: TOKEN,
        topics: [hexD(eventTopic('Transfer(address,address,uint256)')), `0x${word(BigInt(addressOf(A)))}`, `0x${word(BigInt(addressOf(B)))}`],
        data: `0x${word(100n)}`,
        position: '0x0',
      },
    ]);
    assert.equal(f.output, `0x${word(1n)}`);
    assert.equal((await callTrace(c, 'tokenTransfer')).logs, undefined, 'logs only when asked for');
    // A reverted frame's logs were never emitted.
    assert.equal((await callTrace(c, 'failWithReason', callTracer({ withLog: true }))).logs, undefined);
  });

  test('a contract creation: a CREATE frame to the new address', async () => {
    const f = await callTrace(c, 'forwardCall');
    assert.equal(f.type, 'CREATE');
    assert.equal(f.to, FORWARD_CALL);
    assert.equal(f.input, hexD(forwarder(EXERCISER, 0xf1)));
    assert.equal(f.output, hexD(forwarder(EXERCISER, 0xf1).subarray(9)));
    const t = await structTrace(c, 'forwardCall');
    assert.deepEqual(t.structLogs.map((l) => l.op), ['PUSH1', 'DUP1', 'PUSH1', 'PUSH0', 'CODECOPY', 'PUSH0', 'RETURN']);
  });

  test('options: stack off, memory and return data on, storage off, a limit', async () => {
    const bare = await structTrace(c, 'store42', structLogger({ disableStack: true, disableStorage: true }));
    assert.ok(bare.structLogs.every((l) => l.stack === undefined && l.storage === undefined && l.memory === undefined));
    const withMemory = await structTrace(c, 'store42', structLogger({ enableMemory: true }));
    assert.equal(withMemory.structLogs[0]!.memory, undefined, 'no memory yet');
    assert.deepEqual(withMemory.structLogs[3]!.memory, [slotWord(0n), slotWord(0n), slotWord(0x80n)], 'after MSTORE(0x40, 0x80)');
    assert.ok(withMemory.structLogs.every((l) => (l.memory ?? []).every((w) => /^0x[0-9a-f]{64}$/.test(w))));
    const limited = await structTrace(c, 'store42', structLogger({ limit: 5 }));
    assert.deepEqual(limited.structLogs, withMemory.structLogs.slice(0, 5).map(({ memory: _, ...l }) => l));
    assert.equal(limited.gas, withMemory.gas);
  });

  test('limits: too many entries, too long', async () => {
    await assert.rejects(traceTransaction(c.ex, c.tx.store42!, { ...structLogger(), maxEntries: 10 }), (e) => {
      assert.ok(isBulwarkError(e, 'TRACE_TOO_LARGE'), String(e));
      assert.match(e.message, /more than 10 struct log entries/);
      return true;
    });
    // A limit within the cap asks for the first entries: no error.
    assert.equal((await structTrace(c, 'store42', { ...structLogger({ limit: 10 }), maxEntries: 10 })).structLogs.length, 10);
    await assert.rejects(traceTransaction(c.ex, c.tx.store42!, { ...structLogger({ enableMemory: true }), maxBytes: 2_000 }), (e) =>
      isBulwarkError(e, 'TRACE_TOO_LARGE'),
    );
    await assert.rejects(traceTransaction(c.ex, c.tx.store42!, { ...callTracer(), timeoutMs: 0 }), (e) => {
      assert.ok(isBulwarkError(e, 'TRACE_TIMEOUT'), String(e));
      assert.equal(e.message, 'execution timeout');
      return true;
    });
  });

  test('unknown transaction; genesis has none', async () => {
    await assert.rejects(traceTransaction(c.ex, new Uint8Array(32).fill(0xab), structLogger()), (e) => isBulwarkError(e, 'TRACE_TX_NOT_FOUND'));
  });

  test('traceCall on top of a block: the state after that block', async () => {
    const call = { to: createAddressFromString(EXERCISER), data: encodeCall('slots(uint256)', 1n) };
    const sloadOf = (t: StructLoggerResult) => t.structLogs.find((l) => l.op === 'SLOAD')!;
    const atOne = (await traceCall(c.ex, call, 1n, structLogger())) as StructLoggerResult;
    assert.equal(atOne.failed, false);
    assert.equal(atOne.returnValue, `0x${word(0n)}`);
    assert.deepEqual(sloadOf(atOne).storage, { [mappingSlot(1n, 0n)]: slotWord(0n) });
    assert.equal(sloadOf(atOne).gasCost, 2_100);
    const atTwo = (await traceCall(c.ex, call, c.blocks[2]!.hash(), structLogger())) as StructLoggerResult;
    assert.equal(atTwo.returnValue, `0x${word(43n)}`);
    assert.deepEqual(sloadOf(atTwo).storage, { [mappingSlot(1n, 0n)]: slotWord(43n) });
    const latest = (await traceCall(c.ex, call, 'latest', structLogger())) as StructLoggerResult;
    assert.equal(latest.returnValue, atTwo.returnValue);
    assert.equal(latest.gas, atTwo.gas);

    const reverted = (await traceCall(c.ex, { ...call, data: FAIL_WITH_REASON }, 'latest', callTracer())) as CallFrame;
    assert.equal(reverted.from, '0x0000000000000000000000000000000000000000');
    assert.equal(reverted.gas, `0x${c.blocks[3]!.header.gasLimit.toString(16)}`, "the block's gas limit when the call names none");
    assert.equal(reverted.error, 'execution reverted');
    assert.equal(reverted.revertReason, 'no thank you');
    const viaForward = (await traceCall(c.ex, { to: createAddressFromString(FORWARD_CALL), data: FAIL_WITH_REASON, gas: 100_000n }, 'latest', callTracer())) as CallFrame;
    assert.equal(viaForward.gas, '0x186a0');
    assert.equal(viaForward.calls![0]!.revertReason, 'no thank you');
    await assert.rejects(traceCall(c.ex, { ...call, gas: 20_000n }, 'latest', structLogger()), (e) => {
      assert.ok(isBulwarkError(e, 'TRACE_CALL_INVALID'), String(e));
      assert.match(e.message, /gas/);
      return true;
    });
    await assert.rejects(traceCall(c.ex, call, 99n, structLogger()), (e) => isBulwarkError(e, 'READ_UNKNOWN_BLOCK'));
  });

  test("go-ethereum's revert decoding: Error(string), Panic(uint256), anything else", () => {
    assert.equal(unpackRevert(Buffer.from(ERROR_NO_THANK_YOU.slice(2), 'hex')), 'no thank you');
    assert.equal(unpackRevert(Buffer.from(`4e487b71${word(0x11n)}`, 'hex')), 'arithmetic underflow or overflow');
    assert.equal(unpackRevert(Buffer.from(`4e487b71${word(0x99n)}`, 'hex')), 'unknown panic code: 0x99');
    assert.equal(unpackRevert(Buffer.from(`08c379a0${word(32n)}${word(100n)}`, 'hex')), undefined, 'length beyond the data');
    assert.equal(unpackRevert(encodeCall('Refused(uint256)', 3n)), undefined);
    assert.equal(unpackRevert(new Uint8Array([8, 0xc3])), undefined);
  });
});
