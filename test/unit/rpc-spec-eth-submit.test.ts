// eth/submit.yaml: raw transactions go to the pool; eth_sendTransaction is refused (no keys).
import assert from 'node:assert/strict';
import { hexD } from '../../src/rpc/format.ts';
import { signTx } from '../helpers/chain.ts';
import { ADDR, KEYS } from '../helpers/rpc-context.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

runSpecTable('eth/submit.yaml', {
  eth_sendTransaction: {
    refused: 'a client node holds no Ethereum keys (eth_accounts is empty): sign in the wallet, send with eth_sendRawTransaction',
    async check({ error }) {
      await error([{ from: ADDR.A, to: ADDR.B, value: '0x1' }], -32000, /^unknown account$/);
    },
  },
  eth_sendRawTransaction: {
    async served({ ctx, answer, error }) {
      const tx = signTx(ctx.ex.common, KEYS.D, { nonce: 0n, to: ADDR.A, value: 1n, gasLimit: 21_000n, gasPrice: 5_000_000_000n });
      assert.equal(await answer([hexD(tx.serialize())]), hexD(tx.hash()));
      assert.deepEqual(await ctx.call('txpool_status', []), { pending: '0x2', queued: '0x1' });
      await error([hexD(tx.serialize())], -32000, /already known/);
      const stale = signTx(ctx.ex.common, KEYS.A, { nonce: 0n, to: ADDR.B, value: 1n, gasLimit: 21_000n, gasPrice: 5_000_000_000n });
      await error([hexD(stale.serialize())], -32000, /nonce too low/);
      await error(['0x1234'], -32000, /./);
    },
  },
});
