// eth/filter.yaml: log, block and pending-transaction filters and eth_getLogs over the mirror.
import assert from 'node:assert/strict';
import { hexD } from '../../src/rpc/format.ts';
import { encodeCall, eventTopic } from '../helpers/abi.ts';
import { signTx } from '../helpers/chain.ts';
import { ADDR, KEYS, TOKEN } from '../helpers/rpc-context.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

const TRANSFER = hexD(eventTopic('Transfer(address,address,uint256)'));

runSpecTable('eth/filter.yaml', {
  eth_newFilter: {
    async served({ answer, error }) {
      assert.match(await answer<string>([{ fromBlock: '0x0', toBlock: 'latest', address: TOKEN, topics: [TRANSFER] }]), /^0x[0-9a-f]+$/);
      await error([{ blockHash: `0x${'ab'.repeat(32)}`, fromBlock: '0x1' }], -32602, /cannot specify both BlockHash and FromBlock\/ToBlock/);
    },
  },
  eth_newBlockFilter: {
    async served({ answer, error }) {
      assert.match(await answer<string>([]), /^0x[0-9a-f]+$/);
      await error([{}], -32602, /too many arguments/);
    },
  },
  eth_newPendingTransactionFilter: {
    async served({ answer, error }) {
      assert.match(await answer<string>([]), /^0x[0-9a-f]+$/);
      await error([true], -32602, /too many arguments/);
    },
  },
  eth_uninstallFilter: {
    async served({ ctx, answer, error }) {
      const id = await ctx.call('eth_newBlockFilter', []);
      assert.equal(await answer([id]), true);
      assert.equal(await answer([id]), false);
      await error([], -32602, /missing value for required argument 0/);
    },
  },
  eth_getFilterChanges: {
    async served({ ctx, answer, error }) {
      // An empty answer matches both of the specification's FilterResults shapes (hashes, logs),
      // which its oneOf refuses: the filters are polled once a block with a log has come.
      const blocks = await ctx.call('eth_newBlockFilter', []);
      const logs = await ctx.call('eth_newFilter', [{ address: TOKEN }]);
      const tx = signTx(ctx.ex.common, KEYS.A, { nonce: 7n, to: TOKEN, data: encodeCall('transfer(address,uint256)', ADDR.D, 1n), gasPrice: 5_000_000_000n });
      const block = (await ctx.ex.execute(ctx.ex.head.hash(), [tx.serialize()], ctx.ex.head.header.timestamp + 2n)).block;
      assert.deepEqual(await answer([blocks]), [hexD(block.hash())]);
      const changes = await answer<{ transactionHash: string; topics: string[] }[]>([logs]);
      assert.deepEqual(changes.map((l) => [l.transactionHash, l.topics[0]]), [[hexD(tx.hash()), TRANSFER]]);
      assert.deepEqual(await ctx.call('eth_getFilterChanges', [blocks]), [], 'nothing new since');
      await error(['0x123456'], -32000, /filter not found/);
    },
  },
  eth_getFilterLogs: {
    async served({ ctx, answer, error }) {
      const id = await ctx.call('eth_newFilter', [{ fromBlock: '0x0', toBlock: '0x3', address: TOKEN, topics: [TRANSFER] }]);
      const logs = await answer<{ blockNumber: string }[]>([id]);
      assert.deepEqual(logs.map((l) => l.blockNumber), ['0x1', '0x2', '0x3'], 'the mint and two transfers');
      await error(['0x123456'], -32000, /filter not found/);
    },
  },
  eth_getLogs: {
    async served({ ctx, answer, error }) {
      const all = await answer<{ address: string }[]>([{ fromBlock: '0x0', toBlock: '0x3', topics: [TRANSFER] }]);
      assert.equal(all.length, 3);
      assert.ok(all.every((l) => l.address === TOKEN));
      assert.equal((await answer<unknown[]>([{ blockHash: hexD(ctx.blocks[2]!.hash()) }])).length, 2, "block 2's token transfer and Exerciser store");
      await error([{ fromBlock: '0x3', toBlock: '0x1' }], -32000, /invalid block range params/);
    },
  },
});
