// eth/state.yaml: balances, storage (zero-padded 32-byte slots as the specification writes them,
// and several at once), nonces, code and EIP-1186 proofs, at a tag, a block number, a plain block
// hash and an EIP-1898 object.
import assert from 'node:assert/strict';
import { keccak256 } from '../../src/crypto/hash.ts';
import { hexD } from '../../src/rpc/format.ts';
import { MAX_STORAGE_VALUES } from '../../src/rpc/namespaces/eth-core.ts';
import { ADDR, EXERCISER, TOKEN } from '../helpers/rpc-context.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

const word = (v: bigint) => `0x${v.toString(16).padStart(64, '0')}`;
/** Slot of key 1 in the Exerciser's `slots` mapping (slot 0): block 2 stored 42 there. */
const STORED = hexD(keccak256(Buffer.from(word(1n).slice(2) + word(0n).slice(2), 'hex')));
const INITIAL = 10n ** 24n;

runSpecTable('eth/state.yaml', {
  eth_getBalance: {
    async served({ ctx, answer, error }) {
      const block1 = hexD(ctx.blocks[1]!.hash());
      assert.equal(BigInt(await answer<string>([ADDR.B, block1])), INITIAL, 'before the transfer, by block hash');
      assert.equal(BigInt(await answer<string>([ADDR.B, '0x1'])), INITIAL);
      assert.equal(await ctx.call('eth_getBalance', [ADDR.B, { blockHash: block1, requireCanonical: true }]), `0x${INITIAL.toString(16)}`);
      assert.ok(BigInt(await answer<string>([ADDR.B, 'latest'])) > INITIAL - 10n ** 18n);
      assert.equal(await answer([ADDR.D, 'earliest']), `0x${INITIAL.toString(16)}`);
      await error([ADDR.B, `0x${'ab'.repeat(32)}`], -32000, /^header for hash not found$/);
      await error([ADDR.B, '0x9'], -32000, /^header not found$/);
      await error([ADDR.B, `0x1${'0'.repeat(16)}`], -32602, /hex number > 64 bits/);
    },
  },
  eth_getStorageAt: {
    async served({ ctx, answer, error }) {
      assert.equal(await answer([EXERCISER, STORED, 'latest']), word(42n));
      assert.equal(await answer([EXERCISER, STORED, hexD(ctx.blocks[1]!.hash())]), word(0n), 'before the store');
      // The slot zero-padded as the specification writes it, or as a short quantity.
      assert.equal(await answer([TOKEN, word(2n), 'latest']), word(1_000_000n), "the token's total supply");
      assert.equal(await answer([TOKEN, '0x2', 'latest']), word(1_000_000n));
      await error([TOKEN, `0x${'1'.repeat(65)}`, 'latest'], -32602, /hex string too long, want at most 32 bytes/);
      await error([TOKEN, '0xzz', 'latest'], -32602, /unable to decode storage key: hex string invalid/);
    },
  },
  eth_getStorageValues: {
    async served({ answer, error }) {
      const r = await answer<Record<string, string[]>>([{ [EXERCISER]: [STORED, word(7n)], [TOKEN]: [word(2n)] }, 'latest']);
      assert.deepEqual(r, { [EXERCISER]: [word(42n), word(0n)], [TOKEN]: [word(1_000_000n)] });
      assert.deepEqual(await answer([{ [EXERCISER]: [STORED] }, '0x1']), { [EXERCISER]: [word(0n)] });
      await error([{}], -32602, /empty request/);
      await error([{ [TOKEN]: Array.from({ length: MAX_STORAGE_VALUES + 1 }, () => word(0n)) }], -32602, /too many slots \(max 1024\)/);
      await error([{ [TOKEN]: '0x1' }], -32602, /must be an array/);
    },
  },
  eth_getTransactionCount: {
    async served({ ctx, answer, error }) {
      assert.equal(await answer([ADDR.A, 'latest']), '0x7');
      assert.equal(await answer([ADDR.A, hexD(ctx.blocks[1]!.hash())]), '0x2');
      assert.equal(await answer([ADDR.C, 'pending']), '0x1', 'its pending transaction counted');
      await error([ADDR.A, 'soon'], -32602, /invalid argument 1/);
    },
  },
  eth_getCode: {
    async served({ answer, error }) {
      assert.match(await answer<string>([TOKEN, 'latest']), /^0x60806040/);
      assert.equal(await answer([TOKEN, '0x0']), '0x');
      await error(['0x1234', 'latest'], -32602, /invalid argument 0: hex string has length 4, want 40/);
    },
  },
  eth_getProof: {
    async served({ ctx, answer, error }) {
      const p = await answer<{ address: string; storageProof: { key: string; value: string }[]; storageHash: string }>([EXERCISER, [STORED, '0x0'], 'latest']);
      assert.deepEqual(p.storageProof.map((s) => [s.key, s.value]), [[STORED, '0x2a'], ['0x0', '0x0']]);
      assert.equal((await answer<{ nonce: string }>([ADDR.A, [], hexD(ctx.blocks[2]!.hash())])).nonce, '0x5');
      await error([ADDR.A, '0x0', 'latest'], -32602, /expected an array of storage keys/);
      await error([ADDR.A, [], '0x9'], -32000, /^header not found$/);
    },
  },
});
