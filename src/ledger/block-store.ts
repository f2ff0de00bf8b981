/**
 * Blocks, receipts and their indexes on the node's `KvStore`.
 *
 * Writes are returned as batch operations, never applied here: the executor puts a block's ledger
 * records, its state-trie nodes and the new head into one atomic batch, so a crash leaves the node at
 * the previous block or the new one, never between.
 *
 * Layout (prefixes from the node's one table):
 *   header    hash            → RLP(header)
 *   body      hash            → RLP([transactions, uncles, withdrawals])
 *   canonical uint64(number)  → hash
 *   receipts  hash            → encodeReceipts(...)
 *   txLoc     txHash          → hash ‖ uint32(index)
 *   meta      "head"          → hash
 */
import { RLP } from '@ethereumjs/rlp';
import type { Common } from '@ethereumjs/common';
import { createBlockFromBytesArray, createBlockHeaderFromRLP, type Block, type BlockHeader } from '@ethereumjs/block';
import type { BatchOp, KvStore } from '../storage/kvstore.ts';
import { BulwarkError } from '../common/errors.ts';
import { decodeReceipts, encodeReceipts, type TxReceipt } from './receipt.ts';
import { PREFIX, prefixed, uint64Key } from './keys.ts';

const HEAD_KEY = prefixed(PREFIX.meta, new TextEncoder().encode('head'));

export interface TxLocation {
  readonly blockHash: Uint8Array;
  readonly index: number;
}

export class BlockStore {
  constructor(
    private readonly kv: KvStore,
    private readonly common: Common,
  ) {}

  /** The operations that record `block` with its receipts as the new canonical head. */
  putBlockOps(block: Block, receipts: readonly TxReceipt[]): BatchOp[] {
    const hash = block.hash();
    const [header, ...body] = block.raw();
    const ops: BatchOp[] = [
      { type: 'put', key: prefixed(PREFIX.blockHeaderByHash, hash), value: RLP.encode(header) },
      { type: 'put', key: prefixed(PREFIX.blockBodyByHash, hash), value: RLP.encode(body) },
      { type: 'put', key: uint64Key(PREFIX.canonicalHashByNumber, block.header.number), value: hash },
      { type: 'put', key: prefixed(PREFIX.receiptsByBlockHash, hash), value: encodeReceipts(receipts) },
      { type: 'put', key: HEAD_KEY, value: hash },
    ];
    block.transactions.forEach((tx, i) => {
      const loc = new Uint8Array(36);
      loc.set(hash, 0);
      new DataView(loc.buffer).setUint32(32, i);
      ops.push({ type: 'put', key: prefixed(PREFIX.txLocationByHash, tx.hash()), value: loc });
    });
    return ops;
  }

  async headHash(): Promise<Uint8Array | undefined> {
    return this.kv.get(HEAD_KEY);
  }

  async canonicalHash(number: bigint): Promise<Uint8Array | undefined> {
    return this.kv.get(uint64Key(PREFIX.canonicalHashByNumber, number));
  }

  async header(hash: Uint8Array): Promise<BlockHeader | undefined> {
    const raw = await this.kv.get(prefixed(PREFIX.blockHeaderByHash, hash));
    return raw === undefined ? undefined : createBlockHeaderFromRLP(raw, { common: this.common, setHardfork: false });
  }

  async headerByNumber(number: bigint): Promise<BlockHeader | undefined> {
    const hash = await this.canonicalHash(number);
    return hash === undefined ? undefined : this.header(hash);
  }

  async block(hash: Uint8Array): Promise<Block | undefined> {
    const [header, body] = await this.kv.getMany([prefixed(PREFIX.blockHeaderByHash, hash), prefixed(PREFIX.blockBodyByHash, hash)]);
    if (header === undefined) return undefined;
    if (body === undefined) {
      throw new BulwarkError('LEDGER_CORRUPT', `block ${hex(hash)} has a header but no body`, { location: this.kv.location });
    }
    const values = [RLP.decode(header), ...(RLP.decode(body) as unknown[])];
    return createBlockFromBytesArray(values as Parameters<typeof createBlockFromBytesArray>[0], {
      common: this.common,
      setHardfork: false,
    });
  }

  async blockByNumber(number: bigint): Promise<Block | undefined> {
    const hash = await this.canonicalHash(number);
    return hash === undefined ? undefined : this.block(hash);
  }

  async receipts(blockHash: Uint8Array): Promise<TxReceipt[] | undefined> {
    const raw = await this.kv.get(prefixed(PREFIX.receiptsByBlockHash, blockHash));
    return raw === undefined ? undefined : decodeReceipts(raw);
  }

  async txLocation(txHash: Uint8Array): Promise<TxLocation | undefined> {
    const raw = await this.kv.get(prefixed(PREFIX.txLocationByHash, txHash));
    if (raw === undefined) return undefined;
    if (raw.length !== 36) throw new BulwarkError('LEDGER_CORRUPT', `bad tx location record for ${hex(txHash)}`);
    return { blockHash: raw.slice(0, 32), index: new DataView(raw.buffer, raw.byteOffset).getUint32(32) };
  }
}

export function hex(b: Uint8Array): string {
  return `0x${Buffer.from(b).toString('hex')}`;
}
