// eth/execute.yaml: eth_call (at a tag, a plain block hash, an EIP-1898 object; reverts as code 3
// with the data), eth_estimateGas, eth_createAccessList (the EVM's own record of what a message
// warmed, run until the list settles) and eth_simulateV1 (blocks of calls with block and state
// overrides, building on each other's state).
import assert from 'node:assert/strict';
import { keccak256 } from '../../src/crypto/hash.ts';
import { hexD } from '../../src/rpc/format.ts';
import { encodeCall, eventTopic } from '../helpers/abi.ts';
import { ADDR, EXERCISER, TOKEN } from '../helpers/rpc-context.ts';
import { runSpecTable } from '../helpers/spec-table.ts';

const word = (v: bigint | string) => `0x${(typeof v === 'bigint' ? v.toString(16) : v.slice(2)).padStart(64, '0')}`;
const input = (sig: string, ...args: (bigint | string)[]) => hexD(encodeCall(sig, ...args));
/** The storage slot of `key` in a Solidity mapping at slot `slot`. */
const mappingSlot = (key: bigint | string, slot: bigint) => hexD(keccak256(Buffer.from(word(key).slice(2) + word(slot).slice(2), 'hex')));
const REVERT_REASON = /^execution reverted: no thank you$/;

runSpecTable('eth/execute.yaml', {
  eth_call: {
    async served({ ctx, answer, error }) {
      const balanceOfB = { to: TOKEN, input: input('balanceOf(address)', ADDR.B) };
      assert.equal(await answer([balanceOfB, 'latest']), word(100n));
      // Before block 2's transfer, named by its plain hash and as an EIP-1898 object.
      const block1 = hexD(ctx.blocks[1]!.hash());
      assert.equal(await answer([balanceOfB, block1]), word(0n));
      assert.equal(await ctx.call('eth_call', [balanceOfB, { blockHash: block1 }]), word(0n));
      const e = await error([{ to: EXERCISER, input: input('failWithReason()') }, 'latest'], 3, REVERT_REASON);
      assert.match(String(e.data), /^0x08c379a0/);
      await error([{ to: TOKEN, data: '0x01', input: '0x02' }, 'latest'], -32602, /both "data" and "input" are set/);
      await error([balanceOfB, '0x9'], -32000, /^header not found$/);
    },
  },
  eth_estimateGas: {
    async served({ answer, error }) {
      const gas = BigInt(await answer<string>([{ from: ADDR.A, to: TOKEN, input: input('transfer(address,uint256)', ADDR.B, 1n) }]));
      assert.ok(gas > 21_000n && gas < 100_000n, `${gas}`);
      assert.equal(await answer([{ from: ADDR.A, to: ADDR.B, value: '0x1' }, 'latest']), '0x5208');
      await error([{ from: ADDR.A, to: EXERCISER, input: input('failWithReason()') }], 3, REVERT_REASON);
    },
  },
  eth_createAccessList: {
    async served({ answer, error }) {
      // A token transfer: the token's two balance slots; sender and recipient are warm anyway.
      const transfer = { from: ADDR.A, to: TOKEN, input: input('transfer(address,uint256)', ADDR.C, 1n) };
      const r = await answer<{ accessList: { address: string; storageKeys: string[] }[]; gasUsed: string; error?: string }>([transfer, 'latest']);
      assert.deepEqual(r.accessList, [{ address: TOKEN, storageKeys: [mappingSlot(ADDR.A, 0n), mappingSlot(ADDR.C, 0n)].sort() }]);
      assert.equal(r.error, undefined);
      // With the list declared, the transfer uses the gas the answer says.
      const withList = { ...transfer, accessList: r.accessList };
      assert.equal((await answer<{ gasUsed: string }>([withList, 'latest'])).gasUsed, r.gasUsed);
      // A transfer between accounts touches nothing else.
      assert.deepEqual((await answer<{ accessList: unknown[] }>([{ from: ADDR.A, to: ADDR.B, value: '0x1' }])).accessList, []);
      // A reverted message still has its list, and says why it failed.
      const failed = await answer<{ error?: string }>([{ from: ADDR.A, to: EXERCISER, input: input('failWithReason()') }, 'latest']);
      assert.equal(failed.error, 'execution reverted');
      await error([{ from: ADDR.A, to: TOKEN, gasPrice: '0x1', maxFeePerGas: '0x2' }], -32602, /both gasPrice and \(maxFeePerGas or maxPriorityFeePerGas\) specified/);
      await error([{ to: TOKEN, blobVersionedHashes: [] }], -32602, /blob transactions are not supported/);
      await error([transfer, '0x9'], -32000, /^header not found$/);
    },
  },
  eth_simulateV1: {
    async served({ ctx, answer, error }) {
      const fresh = '0x00000000000000000000000000000000000d0d0d';
      const result = await answer<{ number: string; parentHash: string; hash: string; transactions: unknown[]; calls: { status: string; logs?: { topics: string[]; blockHash: string }[]; error?: { code: number; message: string }; returnData: string }[] }[]>([
        {
          blockStateCalls: [
            {
              // A fresh account with funds and a token balance it never had.
              stateOverrides: { [fresh]: { balance: '0xde0b6b3a7640000' }, [TOKEN]: { stateDiff: { [mappingSlot(fresh, 0n)]: word(500n) } } },
              calls: [
                { from: fresh, to: TOKEN, input: input('transfer(address,uint256)', ADDR.D, 200n) },
                { from: fresh, to: ADDR.D, value: '0x1' },
              ],
            },
            {
              blockOverrides: { number: '0x10', time: '0x100000' },
              calls: [
                // Sees the first block's transfer.
                { to: TOKEN, input: input('balanceOf(address)', ADDR.D) },
                { from: ADDR.A, to: EXERCISER, input: input('failWithReason()') },
              ],
            },
          ],
          returnFullTransactions: true,
        },
        'latest',
      ]);
      // Blocks 0x5 to 0xf fill the gap, empty.
      assert.deepEqual(result.map((b) => b.number), Array.from({ length: 13 }, (_, i) => `0x${(4 + i).toString(16)}`));
      assert.equal(result[0]!.parentHash, hexD(ctx.blocks[3]!.hash()));
      assert.ok(result.slice(1).every((b, i) => b.parentHash === result[i]!.hash && (i === 11 || b.calls.length === 0)));
      const last = result.at(-1)!;
      const [transfer, payment] = result[0]!.calls;
      assert.equal(transfer!.status, '0x1');
      assert.deepEqual(transfer!.logs!.map((l) => l.topics[0]), [hexD(eventTopic('Transfer(address,address,uint256)'))]);
      assert.equal(transfer!.logs![0]!.blockHash, result[0]!.hash);
      assert.equal(payment!.status, '0x1');
      const [balance, failed] = last.calls;
      assert.equal(balance!.returnData, word(200n));
      assert.equal(failed!.status, '0x0');
      assert.deepEqual([failed!.error!.code, failed!.error!.message], [3, 'execution reverted: no thank you']);
      assert.equal(result[0]!.transactions.length, 2);
      // Hashes only unless full transactions are asked for; the head's state is untouched.
      const short = await answer<{ transactions: unknown[] }[]>([{ blockStateCalls: [{ calls: [{ from: ADDR.A, to: ADDR.B, value: '0x1' }] }] }]);
      assert.match(String(short[0]!.transactions[0]), /^0x[0-9a-f]{64}$/);
      assert.equal(await ctx.call('eth_call', [{ to: TOKEN, input: input('balanceOf(address)', ADDR.D) }, 'latest']), word(0n));
      await error([{ blockStateCalls: [{}], validation: true }], -32602, /validation: true is not supported/);
      await error([{ blockStateCalls: [{}], traceTransfers: true }], -32602, /traceTransfers: true is not supported/);
      await error([{ blockStateCalls: [] }], -32602, /empty input/);
      await error([{ blockStateCalls: [{ blockOverrides: { number: '0x2' } }] }], -38020, /block numbers must be in order/);
      await error([{ blockStateCalls: [{ blockOverrides: { number: '0x104' } }] }], -38026, /too many blocks: at most 256 past the base block/);
      await error([{ blockStateCalls: [{ blockOverrides: { time: '0x1' } }] }], -38021, /block timestamps must be in order/);
      // Numbers skipped are simulated empty, one second apart.
      const gap = await answer<{ number: string; timestamp: string; calls: unknown[] }[]>([{ blockStateCalls: [{ blockOverrides: { number: '0x6' }, calls: [{ from: ADDR.A, to: ADDR.B }] }] }, '0x2']);
      assert.deepEqual(gap.map((b) => [b.number, b.calls.length]), [['0x3', 0], ['0x4', 0], ['0x5', 0], ['0x6', 1]]);
      assert.deepEqual(gap.map((b) => BigInt(b.timestamp) - ctx.blocks[2]!.header.timestamp), [1n, 2n, 3n, 4n]);
      await error([{ blockStateCalls: [{ stateOverrides: { [fresh]: { movePrecompileToAddress: fresh } } }] }], -32602, /movePrecompileToAddress is not supported/);
      await error([{ blockStateCalls: [{ calls: [{ gas: '0x1000000000' }] }] }], -38015, /block gas limit reached/);
    },
  },
});
