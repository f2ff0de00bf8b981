// txpool/pool.yaml: the pool holds C's nonce 0 (pending, ready) and nonce 2 (queued behind a gap).
import assert from 'node:assert/strict';
import { toChecksumAddress } from '@ethereumjs/util';
import { ADDR } from '../helpers/rpc-context.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

type Content = Record<'pending' | 'queued', Record<string, Record<string, { hash: string }>>>;

runSpecTable('txpool/pool.yaml', {
  txpool_status: {
    async served({ answer, error }) {
      assert.deepEqual(await answer([]), { pending: '0x1', queued: '0x1' });
      await error([1], -32602, /too many arguments/);
    },
  },
  txpool_content: {
    async served({ ctx, answer, error }) {
      const c = await answer<Content>([]);
      const sender = toChecksumAddress(ADDR.C);
      assert.equal(c.pending[sender]!['0']!.hash, ctx.pooled.pending);
      assert.equal(c.queued[sender]!['2']!.hash, ctx.pooled.queued);
      await error([ADDR.C], -32602, /too many arguments/);
    },
  },
  txpool_contentFrom: {
    async served({ ctx, answer, error }) {
      const c = await answer<Record<'pending' | 'queued', Record<string, { hash: string }>>>([ADDR.C]);
      assert.deepEqual([c.pending['0']!.hash, c.queued['2']!.hash], [ctx.pooled.pending, ctx.pooled.queued]);
      assert.deepEqual(await answer([ADDR.A]), { pending: {}, queued: {} });
      await error(['0x12'], -32602, /invalid argument 0/);
    },
  },
});
