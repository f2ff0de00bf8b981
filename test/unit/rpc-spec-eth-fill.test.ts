// eth/fill.yaml: the transaction a wallet would sign, its missing fields filled as go-ethereum
// fills them (nonce counting the pool, gas estimated, EIP-1559 or legacy fees, chain id).
import assert from 'node:assert/strict';
import { createTxFromRLP } from '@ethereumjs/tx';
import { hexToBytes } from '../../src/crypto/hex.ts';
import { hexD } from '../../src/rpc/format.ts';
import { encodeCall } from '../helpers/abi.ts';
import { ADDR, TOKEN } from '../helpers/rpc-context.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

runSpecTable('eth/fill.yaml', {
  eth_fillTransaction: {
    async served({ ctx, answer, error }) {
      const r = await answer<{ raw: string; tx: Record<string, string> }>([{ from: ADDR.A, to: ADDR.B, value: '0x1' }]);
      assert.equal(r.tx.type, '0x2');
      assert.equal(r.tx.nonce, '0x7', "A's next nonce");
      assert.equal(r.tx.gas, '0x5208');
      assert.equal(r.tx.chainId, '0x539');
      assert.equal(BigInt(r.tx.maxPriorityFeePerGas!), 1_000_000_000n);
      assert.equal(BigInt(r.tx.maxFeePerGas!), 1_000_000_000n + 2n * ctx.ex.head.header.calcNextBaseFee());
      const decoded = createTxFromRLP(hexToBytes(r.raw), { common: ctx.ex.common });
      assert.equal(decoded.isSigned(), false);
      assert.equal(decoded.to?.toString(), ADDR.B);
      // The pool counts: C has nonce 0 pending (and 2 queued behind a gap).
      assert.equal((await answer<{ tx: { nonce: string } }>([{ from: ADDR.C, to: ADDR.A }])).tx.nonce, '0x1');
      // A gas price asks for a legacy transaction; a call is estimated.
      const legacy = await answer<{ tx: Record<string, string> }>([{ from: ADDR.A, to: TOKEN, input: hexD(encodeCall('transfer(address,uint256)', ADDR.B, 1n)), gasPrice: '0x3b9aca00' }]);
      assert.equal(legacy.tx.type, '0x0');
      assert.ok(BigInt(legacy.tx.gas!) > 21_000n);
      await error([{ from: ADDR.A, to: ADDR.B, chainId: '0x1' }], -32602, /chainId does not match node's \(have=1, want=1337\)/);
      await error([{ from: ADDR.A }], -32602, /contract creation without any data provided/);
      await error([{ from: ADDR.A, to: ADDR.B, type: '0x3' }], -32602, /transaction type 3 is not supported/);
    },
  },
});
