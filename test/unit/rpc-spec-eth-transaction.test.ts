// eth/transaction.yaml: transactions of every type (legacy, EIP-2930, EIP-1559) with their
// blockTimestamp, by hash and by block and index, and their receipts (a reverted one too).
import assert from 'node:assert/strict';
import { hexD } from '../../src/rpc/format.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

const UNKNOWN = `0x${'ab'.repeat(32)}`;
const hexQ = (v: bigint | number) => `0x${v.toString(16)}`;

runSpecTable('eth/transaction.yaml', {
  eth_getTransactionByHash: {
    async served({ ctx, answer, error }) {
      const block = ctx.blocks[2]!;
      for (const [i, hash] of ctx.txHashes[2]!.entries()) {
        const tx = await answer<Record<string, string>>([hash]);
        assert.equal(tx.hash, hash);
        assert.equal(tx.blockHash, hexD(block.hash()));
        assert.equal(tx.blockTimestamp, hexQ(block.header.timestamp));
        assert.equal(tx.transactionIndex, hexQ(i));
      }
      assert.equal(await answer([UNKNOWN]), null);
      // A pooled transaction is answered as go-ethereum answers it, block fields null — which the
      // specification's TransactionInfo (block fields required) does not describe: checked by hand.
      const pending = (await ctx.call('eth_getTransactionByHash', [ctx.pooled.pending])) as Record<string, unknown>;
      assert.deepEqual([pending.hash, pending.blockHash, pending.blockNumber, pending.blockTimestamp, pending.transactionIndex], [ctx.pooled.pending, null, null, null, null]);
      await error(['0x12'], -32602, /invalid argument 0: hex string has length 2, want 64/);
    },
  },
  eth_getTransactionByBlockHashAndIndex: {
    async served({ ctx, answer, error }) {
      const hash = hexD(ctx.blocks[2]!.hash());
      for (let i = 0; i < 4; i++) assert.equal((await answer<{ hash: string }>([hash, hexQ(i)])).hash, ctx.txHashes[2]![i]);
      assert.equal(await answer([hash, '0x4']), null);
      assert.equal(await answer([UNKNOWN, '0x0']), null);
      await error([hash, '0x00'], -32602, /leading zero digits/);
    },
  },
  eth_getTransactionByBlockNumberAndIndex: {
    async served({ ctx, answer, error }) {
      assert.deepEqual(await answer(['0x2', '0x1']), await ctx.call('eth_getTransactionByHash', [ctx.txHashes[2]![1]]));
      assert.equal((await answer<{ hash: string }>(['latest', '0x1'])).hash, ctx.txHashes[3]![1]);
      assert.equal(await answer(['0x9', '0x0']), null);
      await error(['0x2'], -32602, /missing value for required argument 1/);
    },
  },
  eth_getTransactionReceipt: {
    async served({ ctx, answer, error }) {
      const deploy = await answer<{ contractAddress: string; status: string }>([ctx.txHashes[1]![0]]);
      assert.equal(deploy.status, '0x1');
      assert.match(deploy.contractAddress, /^0x[0-9a-f]{40}$/);
      for (const hash of ctx.txHashes[2]!) assert.equal((await answer<{ status: string }>([hash])).status, '0x1');
      const reverted = await answer<{ status: string; logs: unknown[] }>([ctx.txHashes[3]![1]]);
      assert.deepEqual([reverted.status, reverted.logs], ['0x0', []]);
      assert.equal(await answer([UNKNOWN]), null);
      await error([], -32602, /missing value for required argument 0/);
    },
  },
});
