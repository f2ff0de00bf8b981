// debug/trace.yaml: a block's transactions traced in one pass, by number or hash, and one
// transaction; struct-logger results are also checked against the specification's stricter
// OpcodeTransactionTrace (its result schema admits any named tracer's output).
import assert from 'node:assert/strict';
import { hexD } from '../../src/rpc/format.ts';
import { assertValid } from '../helpers/spec.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

interface Entry {
  txHash: string;
  result: { gas?: number; failed?: boolean; structLogs?: { op: string; storage?: Record<string, string> }[]; type?: string; gasUsed?: string };
}

runSpecTable('debug/trace.yaml', {
  debug_traceBlockByNumber: {
    async served({ ctx, spec, answer, error }) {
      const entries = await answer<Entry[]>(['0x2']);
      assert.deepEqual(entries.map((e) => e.txHash), ctx.txHashes[2]);
      for (const e of entries) assertValid(spec.schema('OpcodeTransactionTrace'), e.result, `${e.txHash}'s trace`);
      const receipts = (await ctx.call('eth_getBlockReceipts', ['0x2'])) as { gasUsed: string }[];
      assert.deepEqual(entries.map((e) => e.result.gas), receipts.map((r) => Number(r.gasUsed)), 'each as its receipt');
      const store = entries[3]!.result.structLogs!.find((l) => l.op === 'SSTORE')!;
      assert.ok(Object.entries(store.storage!).every(([k, v]) => /^0x[0-9a-f]{64}$/.test(k) && /^0x[0-9a-f]{64}$/.test(v)));
      const withMemory = await answer<Entry[]>(['latest', { enableMemory: true, disableStack: true, limit: 20 }]);
      for (const e of withMemory) assertValid(spec.schema('OpcodeTransactionTrace'), e.result, `${e.txHash}'s trace`);
      assert.equal(withMemory[1]!.result.failed, true, 'the reverted call');
      await error(['0x0'], -32000, /^genesis is not traceable$/);
      await error(['0x9'], -32000, /^block #9 not found$/);
      await error(['0x2', { tracer: 'prestateTracer' }], -32602, /tracer "prestateTracer" not found/);
    },
  },
  debug_traceBlockByHash: {
    async served({ ctx, answer, error }) {
      const entries = await answer<Entry[]>([hexD(ctx.blocks[3]!.hash()), { tracer: 'callTracer' }]);
      assert.deepEqual(entries.map((e) => [e.txHash, e.result.type]), ctx.txHashes[3]!.map((h) => [h, 'CALL']));
      assert.equal((await answer<Entry[]>([hexD(ctx.blocks[1]!.hash())])).length, 2);
      await error([`0x${'ab'.repeat(32)}`], -32000, /^block 0xabab.* not found$/);
    },
  },
  debug_traceTransaction: {
    async served({ ctx, spec, answer, error }) {
      const t = await answer<Entry['result']>([ctx.txHashes[2]![3]]);
      assertValid(spec.schema('OpcodeTransactionTrace'), t, 'the trace');
      assert.equal(t.failed, false);
      assert.equal((await answer<Entry['result']>([ctx.txHashes[3]![1], { tracer: 'callTracer' }])).type, 'CALL');
      await error([`0x${'ab'.repeat(32)}`], -32000, /^transaction not found$/);
    },
  },
});
