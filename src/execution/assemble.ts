/**
 * Assembles an Ethereum block from executed transactions.
 *
 * ethereumjs' BlockBuilder rebuilds a Block object with every transaction so far for each one it
 * adds (quadratic in block size, ~30 s for a 2,000-transaction block here), so we run `runTx`
 * against a fixed environment block and build the final block once, from the objects we hold.
 */
import { Block, createBlock, createBlockHeader, type HeaderData } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { RLP } from '@ethereumjs/rlp';
import type { TypedTransaction } from '@ethereumjs/tx';
import { KECCAK256_RLP, bigIntToBytes, createAddressFromString, setLengthLeft } from '@ethereumjs/util';
import { keccak256 } from '../crypto/hash.ts';
import { bytesToNibbles, updateTrie, type NodeIo } from './bulk-trie.ts';
import { TX_OPTIONS_PARAMS } from './common.ts';
import { encodeReceipt, type RunTxResult, type VM } from '@ethereumjs/vm';

/** EIP-4788's beacon-roots contract; a no-op unless a chain deploys code there. */
const BEACON_ROOTS = createAddressFromString('0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02');

/**
 * The header fields known before execution; the rest come from `sealBlock`. `common` comes from
 * `buildCommon` (block parameters merged once): without `TX_OPTIONS_PARAMS` every header made here
 * rebuilt ethereumjs' parameter cache (~0.1 ms, a fifth of a one-transfer block's execution).
 */
export function environmentBlock(common: Common, header: HeaderData): Block {
  return createBlock({ header }, { common, setHardfork: false, params: TX_OPTIONS_PARAMS });
}

/** EIP-4788: record the parent beacon root at the start of the block, as every Cancun client does. */
export async function accumulateBeaconRoot(vm: VM, root: Uint8Array, timestamp: bigint): Promise<void> {
  const code = await vm.stateManager.getCode(BEACON_ROOTS);
  if (code.length === 0) return;
  const length = BigInt(vm.common.param('historicalRootsLength'));
  const index = timestamp % length;
  await vm.stateManager.putStorage(BEACON_ROOTS, setLengthLeft(bigIntToBytes(index), 32), bigIntToBytes(timestamp));
  await vm.stateManager.putStorage(BEACON_ROOTS, setLengthLeft(bigIntToBytes(index + length), 32), root);
}

/**
 * The root of a list trie (index → item), as the transactions and receipts roots are: built in one
 * pass by the batch updater, in memory, instead of one ethereumjs `put` per item.
 */
export async function listRoot(items: readonly Uint8Array[]): Promise<Uint8Array> {
  const nodes = new Map<string, Uint8Array>();
  const io: NodeIo = {
    get: async (hash) => nodes.get(Buffer.from(hash).toString('hex')),
    put: (hash, encoded) => void nodes.set(Buffer.from(hash).toString('hex'), encoded),
    keccak: keccak256,
  };
  const ops = items.map((value, i) => ({ key: bytesToNibbles(RLP.encode(i)), value }));
  return updateTrie(io, KECCAK256_RLP, KECCAK256_RLP, ops);
}

function orBlooms(results: readonly RunTxResult[]): Uint8Array {
  const bloom = new Uint8Array(256);
  for (const r of results) {
    const bits = r.bloom.bitvector;
    for (let i = 0; i < 256; i++) bloom[i]! |= bits[i]!;
  }
  return bloom;
}

/** Builds the final block: roots over the transactions and receipts, the state root, the gas used. */
export async function sealBlock(
  common: Common,
  env: Block,
  included: { readonly txs: TypedTransaction[]; readonly raw: readonly Uint8Array[] },
  results: readonly RunTxResult[],
  stateRoot: Uint8Array,
  gasUsed: bigint,
): Promise<Block> {
  const header = createBlockHeader(
    {
      ...env.header.toJSON(),
      stateRoot,
      transactionsTrie: await listRoot(included.raw),
      receiptTrie: await listRoot(results.map((r, i) => encodeReceipt(r.receipt, (included.txs[i] as TypedTransaction).type))),
      logsBloom: orBlooms(results),
      gasUsed,
    },
    { common, setHardfork: false, params: TX_OPTIONS_PARAMS },
  );
  return new Block(header, included.txs, [], [], { common, setHardfork: false, params: TX_OPTIONS_PARAMS });
}
