// debug/getters.yaml: headers, blocks, transactions and receipts in their consensus encodings
// (the receipts' root is the header's), no bad blocks ever, and no block access lists on Cancun.
import assert from 'node:assert/strict';
import { createBlockFromRLP, createBlockHeaderFromRLP } from '@ethereumjs/block';
import { hexToBytes } from '../../src/crypto/hex.ts';
import { listRoot } from '../../src/execution/assemble.ts';
import { hexD } from '../../src/rpc/format.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

const common = { setHardfork: false } as const;

runSpecTable('debug/getters.yaml', {
  debug_getRawHeader: {
    async served({ ctx, answer, error }) {
      const raw = await answer<string>(['0x2']);
      assert.equal(raw, hexD(ctx.blocks[2]!.header.serialize()));
      assert.equal(hexD(createBlockHeaderFromRLP(hexToBytes(raw), { ...common, common: ctx.ex.common }).hash()), hexD(ctx.blocks[2]!.hash()));
      assert.equal(await answer(['latest']), hexD(ctx.blocks[3]!.header.serialize()));
      assert.equal(await ctx.call('debug_getRawHeader', [hexD(ctx.blocks[1]!.hash())]), hexD(ctx.blocks[1]!.header.serialize()));
      await error(['0x9'], -32000, /^header #9 not found$/);
    },
  },
  debug_getRawBlock: {
    async served({ ctx, answer, error }) {
      const raw = await answer<string>(['0x2']);
      const block = createBlockFromRLP(hexToBytes(raw), { ...common, common: ctx.ex.common });
      assert.deepEqual(block.transactions.map((t) => hexD(t.hash())), ctx.txHashes[2]);
      assert.equal(await answer(['earliest']), hexD(ctx.blocks[0]!.serialize()));
      await error(['0x9'], -32000, /^block #9 not found$/);
    },
  },
  debug_getRawTransaction: {
    async served({ ctx, answer, error }) {
      for (const [i, hash] of ctx.txHashes[2]!.entries()) assert.equal(await answer([hash]), hexD(ctx.blocks[2]!.transactions[i]!.serialize()));
      assert.match(await answer<string>([ctx.pooled.pending]), /^0x02/, 'a pooled transaction too (EIP-1559 envelope)');
      assert.equal(await answer([`0x${'ab'.repeat(32)}`]), '0x', 'unknown: empty, as go-ethereum answers');
      await error(['0xab'], -32602, /invalid argument 0/);
    },
  },
  debug_getRawReceipts: {
    async served({ ctx, answer, error }) {
      const receipts = await answer<string[]>(['0x2']);
      assert.equal(receipts.length, 4);
      assert.equal(hexD(await listRoot(receipts.map(hexToBytes))), hexD(ctx.blocks[2]!.header.receiptTrie), 'the header commits to them');
      assert.deepEqual(await answer(['0x0']), []);
      await error(['0x9'], -32000, /^block #9 not found$/);
    },
  },
  debug_getRawBlockAccessList: {
    refused: 'EIP-7928 block access lists come with Amsterdam; blocks here follow Cancun and have none',
    async check({ error }) {
      await error(['latest'], -32001, /block access lists \(EIP-7928\) do not exist on this chain/);
    },
  },
  debug_getBadBlocks: {
    async served({ answer, error }) {
      // BFT: only blocks f + 1 replicas certified are ever executed; nothing bad is kept.
      assert.deepEqual(await answer([]), []);
      await error([1], -32602, /too many arguments/);
    },
  },
});
