/**
 * The `debug_getRaw*` getters and `debug_getBadBlocks`, as go-ethereum answers them, from the
 * client node's verified ledger mirror: a header, block or transaction in its consensus encoding
 * (a transaction as its EIP-2718 envelope, as signed and sent), a block's receipts each in the
 * encoding the receipts root commits to. A block that does not exist (yet) is go-ethereum's error;
 * an unknown transaction is empty bytes (`0x`), as go-ethereum answers it.
 *
 * There are never bad blocks: a BFT ledger executes only blocks f + 1 replicas certified, and the
 * mirror refuses a run of blocks that does not match its certificate rather than keep it.
 */
import type { Block } from '@ethereumjs/block';
import { isBulwarkError } from '../../common/errors.ts';
import { hexToBytes } from '../../crypto/hex.ts';
import type { ChainReader } from '../../execution/reader.ts';
import { encodeConsensusReceipt, type TxReceipt } from '../../ledger/receipt.ts';
import { RPC_CODES, RpcError } from '../errors.ts';
import { hexD } from '../format.ts';
import { method, type MethodDef } from '../method.ts';
import { blockRef, hash32, type BlockRef } from '../params.ts';

export interface DebugRawBackend {
  readonly reader: ChainReader;
  head(): Block;
  /** The receipts of a stored block, by its hash. */
  receipts(blockHash: Uint8Array): Promise<readonly TxReceipt[] | undefined>;
  /** A transaction still in the pool, as its raw bytes (go-ethereum looks there too). */
  pooled?(hash: string): Uint8Array | undefined;
}

export function debugRawMethods(b: DebugRawBackend): Map<string, MethodDef> {
  /** The block a reference names, never one beyond the head; go-ethereum's error otherwise. */
  const blockAt = async (ref: BlockRef, what: 'header' | 'block'): Promise<Block> => {
    const head = b.head();
    const which = 'hash' in ref ? ref.hash : 'number' in ref ? `#${ref.number}` : ref.tag;
    if ('tag' in ref) return ref.tag === 'earliest' ? b.reader.block(0n) : head;
    try {
      const block = await b.reader.block('hash' in ref ? hexToBytes(ref.hash) : ref.number);
      if (block.header.number <= head.header.number) return block;
    } catch (err) {
      if (!isBulwarkError(err, 'READ_UNKNOWN_BLOCK')) throw err;
    }
    throw new RpcError(RPC_CODES.server, `${what} ${which} not found`);
  };

  return new Map<string, MethodDef>([
    ['debug_getRawHeader', method([blockRef], [], async ([ref]) => hexD((await blockAt(ref, 'header')).header.serialize()))],
    ['debug_getRawBlock', method([blockRef], [], async ([ref]) => hexD((await blockAt(ref, 'block')).serialize()))],
    [
      'debug_getRawTransaction',
      method([hash32], [], async ([h]) => {
        const found = await b.reader.transaction(hexToBytes(h));
        if (found !== undefined) return hexD(found.tx.serialize());
        // go-ethereum answers an unknown hash with empty bytes, not null (the specification's
        // result is bytes, never null).
        return hexD(b.pooled?.(h) ?? new Uint8Array());
      }),
    ],
    [
      'debug_getRawReceipts',
      method([blockRef], [], async ([ref]) => {
        const block = await blockAt(ref, 'block');
        const receipts = await b.receipts(block.hash());
        if (receipts === undefined || receipts.length !== block.transactions.length) {
          throw new Error(`block ${block.header.number} is missing its receipts`);
        }
        return receipts.map((r) => hexD(encodeConsensusReceipt(r)));
      }),
    ],
    ['debug_getBadBlocks', method([], [], () => [])],
  ]);
}
