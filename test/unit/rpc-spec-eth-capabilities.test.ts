// eth/capabilities.yaml: an archive, every resource from genesis, no deletion strategy.
import assert from 'node:assert/strict';
import { hexD } from '../../src/rpc/format.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

runSpecTable('eth/capabilities.yaml', {
  eth_capabilities: {
    async served({ ctx, answer, error }) {
      const c = await answer<Record<string, { disabled?: boolean; oldestBlock?: string; number?: string; hash?: string }>>([]);
      assert.deepEqual(c.head, { number: '0x3', hash: hexD(ctx.blocks[3]!.hash()) });
      for (const r of ['state', 'tx', 'logs', 'receipts', 'blocks', 'stateproofs']) assert.deepEqual(c[r], { disabled: false, oldestBlock: '0x0' }, r);
      await error([1], -32602, /too many arguments, want at most 0/);
    },
  },
});
