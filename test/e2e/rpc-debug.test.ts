// debug_traceTransaction and debug_traceCall against a real client node in this process: tracing
// runs on the node's own executed state. A contract deployment and a storing call traced with the
// struct logger and callTracer (gas as on the receipt, the SSTORE with its storage), a reverted
// call traced as failed with its reason, nested CREATE2 frames, and the refusals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { bytecode, encodeCall } from '../helpers/abi.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { hex, rpcClient, type Receipt, type Rpc } from '../helpers/rpc.ts';

await initHashes();

const A = testKey(0);
const EXERCISER = createContractAddress(createAddressFromString(addressOf(A)), 0n).toString();

interface StructLog {
  op: string;
  depth: number;
  gas: number;
  gasCost: number;
  storage?: Record<string, string>;
}
interface CallFrame {
  type: string;
  from: string;
  to?: string;
  gas: string;
  gasUsed: string;
  input: string;
  output?: string;
  error?: string;
  revertReason?: string;
  calls?: CallFrame[];
}

let net: InProcessNetwork;
let rpc: Rpc;
let stored: Receipt;

before(async () => {
  net = await startInProcessNetwork(0xb7);
  rpc = rpcClient(net.url);
  const common = buildCommon(CHAIN_ID);
  await rpc.send(signTx(common, A, { nonce: 0n, data: bytecode('Exerciser'), gasLimit: 3_000_000n }));
  stored = await rpc.send(signTx(common, A, { nonce: 1n, to: EXERCISER as `0x${string}`, data: encodeCall('store(uint256,uint256)', 7n, 42n), gasLimit: 200_000n }));
  assert.equal(stored.status, '0x1');
});
after(async () => {
  await net?.stop();
});

test('debug_traceTransaction, struct logger: the gas on the receipt, the SSTORE and its storage', async () => {
  const t = await rpc.call<{ gas: number; failed: boolean; returnValue: string; structLogs: StructLog[] }>('debug_traceTransaction', [stored.transactionHash]);
  assert.equal(t.failed, false);
  assert.equal(BigInt(t.gas), BigInt(stored.gasUsed));
  const sstore = t.structLogs.find((l) => l.op === 'SSTORE');
  assert.ok(sstore !== undefined, 'an SSTORE');
  assert.equal(sstore.depth, 1);
  // Slot of key 7 in the contract's mapping holds 42 afterwards; the struct logger shows it at the SSTORE.
  assert.ok(Object.values(sstore.storage ?? {}).some((v) => BigInt(v) === 42n), JSON.stringify(sstore.storage));
  assert.equal(t.structLogs[0]!.op, 'PUSH1');
  const noStack = await rpc.call<{ structLogs: { stack?: unknown }[] }>('debug_traceTransaction', [stored.transactionHash, { disableStack: true }]);
  assert.ok(noStack.structLogs.every((l) => l.stack === undefined));
});

test('debug_traceTransaction, callTracer: the top call as on the receipt', async () => {
  const t = await rpc.call<CallFrame>('debug_traceTransaction', [stored.transactionHash, { tracer: 'callTracer' }]);
  assert.equal(t.type, 'CALL');
  assert.equal(t.from, addressOf(A).toLowerCase());
  assert.equal(t.to, EXERCISER.toLowerCase());
  assert.equal(BigInt(t.gasUsed), BigInt(stored.gasUsed));
  assert.equal(BigInt(t.gas), 200_000n);
  assert.equal(t.input, hex(encodeCall('store(uint256,uint256)', 7n, 42n)));
});

test('debug_traceCall: a revert is a failed trace with its reason, not an error', async () => {
  const call = { from: addressOf(A), to: EXERCISER, data: hex(encodeCall('failWithReason()')) };
  const frame = await rpc.call<CallFrame>('debug_traceCall', [call, 'latest', { tracer: 'callTracer' }]);
  assert.equal(frame.error, 'execution reverted');
  assert.equal(frame.revertReason, 'no thank you');
  const logs = await rpc.call<{ failed: boolean; structLogs: StructLog[] }>('debug_traceCall', [call, 'latest']);
  assert.equal(logs.failed, true);
  assert.equal(logs.structLogs.at(-1)!.op, 'REVERT');
});

test('debug_traceCall: nested frames (a CREATE2 from the contract)', async () => {
  const call = { from: addressOf(A), to: EXERCISER, data: hex(encodeCall('deploy(bytes32)', 5n)), gas: '0x2dc6c0' };
  const frame = await rpc.call<CallFrame>('debug_traceCall', [call, 'latest', { tracer: 'callTracer' }]);
  assert.equal(frame.type, 'CALL');
  assert.equal(frame.calls?.[0]?.type, 'CREATE2');
  assert.equal(frame.calls[0]!.from, EXERCISER.toLowerCase());
});

test('tracing refusals: unknown transaction, unknown tracer, bad parameters', async () => {
  await rpc.rejects('debug_traceTransaction', [`0x${'ab'.repeat(32)}`], -32000, /transaction not found/);
  await rpc.rejects('debug_traceTransaction', [stored.transactionHash, { tracer: 'nope' }], -32602, /tracer "nope" not found/);
  await rpc.rejects('debug_traceTransaction', ['0x1234'], -32602, /invalid argument 0/);
  await rpc.rejects('debug_traceCall', [{ to: EXERCISER }, 'pending'], -32000, /pending/);
});
