// eth/block.yaml of the execution-apis specification, against the client node's method table on a
// small chain in memory: blocks by hash and number, transaction counts, a block's receipts (by
// number, tag, plain block hash and EIP-1898 object), and block access lists (none on Cancun).
import assert from 'node:assert/strict';
import { hexD } from '../../src/rpc/format.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

const UNKNOWN = `0x${'ab'.repeat(32)}`;

runSpecTable('eth/block.yaml', {
  eth_getBlockByHash: {
    async served({ ctx, answer, error }) {
      const hash = hexD(ctx.blocks[2]!.hash());
      const full = await answer<{ hash: string; transactions: { blockTimestamp: string }[] }>([hash, true]);
      assert.equal(full.hash, hash);
      assert.equal(full.transactions.length, 4);
      assert.ok(full.transactions.every((t) => t.blockTimestamp === `0x${ctx.blocks[2]!.header.timestamp.toString(16)}`));
      assert.deepEqual((await answer<{ transactions: string[] }>([hash, false])).transactions, ctx.txHashes[2]);
      assert.equal(await answer([UNKNOWN, false]), null);
      await error(['0x1234', false], -32602, /invalid argument 0: hex string has length 4, want 64/);
      await error([hash], -32602, /missing value for required argument 1/);
    },
  },
  eth_getBlockByNumber: {
    async served({ ctx, answer, error }) {
      assert.equal((await answer<{ number: string }>(['0x2', true])).number, '0x2');
      assert.equal((await answer<{ hash: string }>(['latest', false])).hash, hexD(ctx.blocks[3]!.hash()));
      assert.equal((await answer<{ number: string }>(['earliest', false])).number, '0x0');
      assert.equal((await answer<{ number: string }>(['finalized', false])).number, '0x3');
      assert.equal(await answer(['0x9', false]), null);
      await error(['0x02', false], -32602, /invalid argument 0: hex number with leading zero digits/);
    },
  },
  eth_getBlockTransactionCountByHash: {
    async served({ ctx, answer, error }) {
      assert.equal(await answer([hexD(ctx.blocks[2]!.hash())]), '0x4');
      assert.equal(await answer([hexD(ctx.blocks[0]!.hash())]), '0x0');
      assert.equal(await answer([UNKNOWN]), null);
      await error(['latest'], -32602, /invalid argument 0/);
    },
  },
  eth_getBlockTransactionCountByNumber: {
    async served({ answer, error }) {
      assert.equal(await answer(['0x2']), '0x4');
      assert.equal(await answer(['latest']), '0x2');
      assert.equal(await answer(['0x7']), null);
      await error([2], -32602, /invalid argument 0/);
    },
  },
  eth_getBlockReceipts: {
    async served({ ctx, answer, error }) {
      const hash = hexD(ctx.blocks[2]!.hash());
      const byNumber = await answer<{ transactionHash: string; blockHash: string }[]>(['0x2']);
      assert.deepEqual(byNumber.map((r) => r.transactionHash), ctx.txHashes[2]);
      // A plain 32-byte block hash (BlockNumberOrTagOrHash), and the EIP-1898 object.
      assert.deepEqual(await answer([hash]), byNumber);
      assert.deepEqual(await ctx.call('eth_getBlockReceipts', [{ blockHash: hash, requireCanonical: true }]), byNumber);
      const receipt = await ctx.call('eth_getTransactionReceipt', [ctx.txHashes[2]![1]]);
      assert.deepEqual(byNumber[1], receipt);
      assert.equal((await answer<unknown[]>(['latest'])).length, 2);
      assert.deepEqual(await answer(['earliest']), []);
      assert.equal(await answer(['0x9']), null);
      await error([UNKNOWN], -32000, /^header for hash not found$/);
      await error([{ blockHash: hash, blockNumber: '0x2' }], -32602, /cannot specify both/);
    },
  },
  eth_getBlockAccessList: {
    refused: 'EIP-7928 block access lists come with Amsterdam; blocks here follow Cancun and have none',
    async check({ ctx, error }) {
      for (const ref of ['latest', '0x1', hexD(ctx.blocks[2]!.hash())]) await error([ref], -32001, /block access lists \(EIP-7928\) do not exist on this chain/);
      await error([], -32602, /missing value for required argument 0/);
    },
  },
});
