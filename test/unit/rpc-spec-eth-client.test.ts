// eth/client.yaml: chain id, sync status, coinbase (the chain config's fee recipient: every block's
// beneficiary), accounts (none: a client node holds no keys), block number, EIP-7910 config, network id.
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { FEE_RECIPIENT } from '../helpers/rpc-context.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

runSpecTable('eth/client.yaml', {
  eth_chainId: {
    async served({ answer, error }) {
      assert.equal(await answer([]), '0x539');
      await error([1], -32602, /too many arguments/);
    },
  },
  eth_syncing: {
    async served({ answer, error }) {
      assert.equal(await answer([]), false);
      await error([1], -32602, /too many arguments, want at most 0/);
    },
  },
  eth_coinbase: {
    async served({ ctx, answer, error }) {
      assert.equal(await answer([]), FEE_RECIPIENT);
      assert.equal(ctx.blocks[3]!.header.coinbase.toString(), FEE_RECIPIENT, "the blocks' beneficiary");
      await error(['latest'], -32602, /too many arguments/);
    },
  },
  eth_accounts: {
    async served({ answer, error }) {
      assert.deepEqual(await answer([]), []);
      await error(['latest'], -32602, /too many arguments/);
    },
  },
  eth_blockNumber: {
    async served({ answer, error }) {
      assert.equal(await answer([]), '0x3');
      await error([true], -32602, /too many arguments/);
    },
  },
  eth_config: {
    async served({ ctx, answer, error }) {
      const c = await answer<{ current: Record<string, unknown>; next: unknown; last: unknown }>([]);
      assert.equal(c.next, null);
      assert.equal(c.last, null);
      assert.equal(c.current.chainId, '0x539');
      assert.equal(c.current.forkId, `0x${crc32(ctx.blocks[0]!.hash()).toString(16).padStart(8, '0')}`);
      assert.deepEqual(c.current.blobSchedule, { baseFeeUpdateFraction: 3338477, max: 6, target: 3 });
      assert.equal((c.current.precompiles as Record<string, string>).KZG_POINT_EVALUATION, '0x000000000000000000000000000000000000000a');
      await error([1], -32602, /too many arguments/);
    },
  },
  net_version: {
    async served({ answer, error }) {
      assert.equal(await answer([]), '1337');
      await error([1], -32602, /too many arguments/);
    },
  },
});
