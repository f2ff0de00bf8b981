// eth/fee_market.yaml under market fees: the gas price and tip this node suggests, the next
// block's base fee, the blob base fee (its minimum: no blob transactions here), fee history.
import assert from 'node:assert/strict';
import { runSpecTable } from '../helpers/spec-table.ts';

const GWEI = 1_000_000_000n;

runSpecTable('eth/fee_market.yaml', {
  eth_gasPrice: {
    async served({ ctx, answer, error }) {
      assert.equal(BigInt(await answer<string>([])), ctx.ex.head.header.baseFeePerGas! + GWEI);
      await error(['latest'], -32602, /too many arguments/);
    },
  },
  eth_baseFee: {
    async served({ ctx, answer, error }) {
      const next = BigInt(await answer<string>([]));
      assert.equal(next, ctx.ex.head.header.calcNextBaseFee());
      const history = (await ctx.call('eth_feeHistory', ['0x1', 'latest', []])) as { baseFeePerGas: string[] };
      assert.equal(BigInt(history.baseFeePerGas[1]!), next, "eth_feeHistory's last entry");
      await error([1], -32602, /too many arguments/);
    },
  },
  eth_blobBaseFee: {
    async served({ answer, error }) {
      assert.equal(await answer([]), '0x1');
      await error([1], -32602, /too many arguments/);
    },
  },
  eth_maxPriorityFeePerGas: {
    async served({ answer, error }) {
      assert.equal(BigInt(await answer<string>([])), GWEI);
      await error([1], -32602, /too many arguments/);
    },
  },
  eth_feeHistory: {
    async served({ answer, error }) {
      const h = await answer<{ oldestBlock: string; baseFeePerGas: string[]; gasUsedRatio: number[]; reward: string[][] }>(['0x3', 'latest', [25, 75]]);
      assert.equal(h.oldestBlock, '0x1');
      assert.equal(h.baseFeePerGas.length, 4);
      assert.equal(h.gasUsedRatio.length, 3);
      assert.equal(h.reward.length, 3);
      assert.ok(h.reward.every((r) => r.length === 2));
      assert.equal((await answer<{ oldestBlock: string }>(['0x1', '0x2', []])).oldestBlock, '0x2');
      await error(['0x3', 'latest', [75, 25]], -32602, /invalid reward percentile/);
      await error(['0x3', '0x9', []], -32000, /request beyond head block/);
    },
  },
});
