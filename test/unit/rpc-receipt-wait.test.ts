/**
 * `eth_getTransactionReceipt` for a transaction still landing waits for its block (eth-core.ts).
 * A block stored while the first lookup was reading the store used to be missed: the handler then
 * waited for the next block, which an idle chain never makes, and answered only after its 2 s wait.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Block } from '@ethereumjs/block';
import { ChainReader } from '../../src/execution/reader.ts';
import { ethCoreMethods, type EthBackend } from '../../src/rpc/namespaces/eth-core.ts';
import { startRpcContext } from '../helpers/rpc-context.ts';

test('a receipt whose block lands during the first lookup is answered at once, not after the 2 s wait', async () => {
  const ctx = await startRpcContext();
  const real = new ChainReader(ctx.ex);
  const landed = ctx.blocks[ctx.blocks.length - 1]!;
  const hash = ctx.txHashes[ctx.txHashes.length - 1]![0]!;
  // The chain stands one block short until the first lookup, during which the block is stored.
  let head: Block = ctx.blocks[ctx.blocks.length - 2]!;
  let lookups = 0;
  const reader = Object.create(real) as ChainReader;
  reader.transaction = async (h) => {
    if (lookups++ === 0) {
      head = landed;
      return undefined;
    }
    return real.transaction(h);
  };
  let waits = 0;
  const backend = {
    chainId: 1337n,
    freeGas: true,
    reader,
    head: () => head,
    pool: { landing: () => true },
    // An idle chain: no further block comes; the wait ends at its timeout.
    nextBlock: (ms: number) => {
      waits++;
      return new Promise<void>((resolve) => setTimeout(resolve, ms));
    },
  } as unknown as EthBackend;
  const receipt = ethCoreMethods(backend).get('eth_getTransactionReceipt')!;
  const t0 = performance.now();
  const answer = (await receipt.call([hash], { transport: 'http' })) as { transactionHash: string; blockNumber: string } | null;
  const ms = performance.now() - t0;
  assert.ok(answer !== null, 'the receipt, not null');
  assert.equal(answer.transactionHash, hash);
  assert.equal(BigInt(answer.blockNumber), landed.header.number);
  assert.equal(waits, 0, 'no wait for a block that had already come');
  assert.ok(ms < 1_000, `answered in ${ms.toFixed(0)} ms`);
});
