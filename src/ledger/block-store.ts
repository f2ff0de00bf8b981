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
import { bytesCodec, fixedBytesCodec, uint64Codec, utf8Codec, type Codec } from '../storage/codecs.ts';
import { createRepository, type Repository } from '../storage/repository.ts';
import { BulwarkError } from '../common/errors.ts';
import { toHex } from '../common/bytes.ts';
import { keccak256 } from '../crypto/hash.ts';
import { decodeReceipts, encodeReceipts, type TxReceipt } from './receipt.ts';
import { RecentBlocks } from './recent-blocks.ts';

/**
 * Decoding options' `params`: nothing to merge. The store's `Common` comes from
 * `execution/common.ts`'s `buildCommon`, which merged the block and transaction parameters once
 * (its `TX_OPTIONS_PARAMS`); without this every decoded transaction rebuilt them in its own copy.
 */
const PARAMS_MERGED = Object.freeze({});

export interface TxLocation {
  readonly blockHash: Uint8Array;
  readonly index: number;
}

const hash32 = fixedBytesCodec(32);

/** Meta key of the snapshot a ledger was installed from. */
const SNAPSHOT_BASE = 'snapshot-base';

/** The checkpoint a snapshot-installed ledger starts at (`BlockStore.snapshotBase`). */
export interface SnapshotBase {
  readonly seq: number;
  readonly blockNumber: number;
  readonly blockHash: Uint8Array;
}

function encodeSnapshotBase(b: SnapshotBase): Uint8Array {
  const out = new Uint8Array(48);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(b.seq));
  view.setBigUint64(8, BigInt(b.blockNumber));
  out.set(b.blockHash, 16);
  return out;
}

function decodeSnapshotBase(raw: Uint8Array): SnapshotBase {
  if (raw.length !== 48) throw new BulwarkError('LEDGER_CORRUPT', `the snapshot base record has ${raw.length} bytes, not 48`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
  return { seq: Number(view.getBigUint64(0)), blockNumber: Number(view.getBigUint64(8)), blockHash: raw.slice(16) };
}

/** block hash ‖ uint32 index. */
const txLocationCodec: Codec<TxLocation> = {
  encode: ({ blockHash, index }) => {
    const out = new Uint8Array(36);
    out.set(hash32.encode(blockHash), 0);
    new DataView(out.buffer).setUint32(32, index);
    return out;
  },
  decode: (raw) => {
    if (raw.length !== 36) throw new BulwarkError('LEDGER_CORRUPT', `a transaction location is 36 bytes, got ${raw.length}`);
    return { blockHash: raw.slice(0, 32), index: new DataView(raw.buffer, raw.byteOffset).getUint32(32) };
  },
};

const receiptsCodec: Codec<readonly TxReceipt[]> = { encode: encodeReceipts, decode: decodeReceipts };

const HEAD = 'head';
/** The first block from which every block with logs has its bloom in `logsBloomByNumber`. */
const LOG_INDEX_SINCE = 'logIndexSince';

export class BlockStore {
  private readonly headers: Repository<Uint8Array, Uint8Array>;
  private readonly bodies: Repository<Uint8Array, Uint8Array>;
  private readonly canonical: Repository<bigint, Uint8Array>;
  private readonly receiptsByBlock: Repository<Uint8Array, readonly TxReceipt[]>;
  private readonly txLocations: Repository<Uint8Array, TxLocation>;
  private readonly meta: Repository<string, Uint8Array>;
  private readonly blooms: Repository<bigint, Uint8Array>;
  /** The newest blocks written, decoded, for the reads that follow them at once (`remember`). */
  readonly #recent = new RecentBlocks();
  /** See `LOG_INDEX_SINCE`; undefined until `open` (or the first block this store writes). */
  private logIndexSince: bigint | undefined;

  constructor(
    private readonly kv: KvStore,
    private readonly common: Common,
  ) {
    this.headers = createRepository(kv, 'blockHeaderByHash', hash32, bytesCodec);
    this.bodies = createRepository(kv, 'blockBodyByHash', hash32, bytesCodec);
    this.canonical = createRepository(kv, 'canonicalHashByNumber', uint64Codec, hash32);
    this.receiptsByBlock = createRepository(kv, 'receiptsByBlockHash', hash32, receiptsCodec);
    this.txLocations = createRepository(kv, 'txLocationByHash', hash32, txLocationCodec);
    this.meta = createRepository(kv, 'meta', utf8Codec, bytesCodec);
    this.blooms = createRepository(kv, 'logsBloomByNumber', uint64Codec, bytesCodec);
  }

  /** Reads what the store knows about its log index (a store written before it had one starts it now). */
  async open(): Promise<void> {
    const since = await this.meta.get(LOG_INDEX_SINCE);
    if (since !== undefined) this.logIndexSince = uint64Codec.decode(since);
    else if ((await this.headHash()) !== undefined) {
      // Blocks already stored have no index entries: the index starts above the head.
      const head = await this.header((await this.headHash())!);
      this.logIndexSince = head === undefined ? undefined : head.number + 1n;
      if (this.logIndexSince !== undefined) await this.kv.write([this.meta.putOp(LOG_INDEX_SINCE, uint64Codec.encode(this.logIndexSince))]);
    }
  }

  /**
   * The operations that record `block` with its receipts as the new canonical head. `rawTxs` are its
   * transactions' canonical encodings (as received), which spare re-encoding each one.
   */
  putBlockOps(block: Block, receipts: readonly TxReceipt[], rawTxs: readonly Uint8Array[]): BatchOp[] {
    if (rawTxs.length !== block.transactions.length) {
      throw new BulwarkError('LEDGER_BAD_BLOCK', `${rawTxs.length} raw transactions for a block of ${block.transactions.length}`);
    }
    const hash = block.hash();
    const ops: BatchOp[] = [
      this.headers.putOp(hash, block.header.serialize()),
      this.bodies.putOp(hash, encodeBody(rawTxs)),
      this.canonical.putOp(block.header.number, hash),
      this.receiptsByBlock.putOp(hash, receipts),
      this.meta.putOp(HEAD, hash),
    ];
    if (this.logIndexSince === undefined) {
      this.logIndexSince = block.header.number;
      ops.push(this.meta.putOp(LOG_INDEX_SINCE, uint64Codec.encode(block.header.number)));
    }
    if (receipts.some((r) => r.logs.length > 0)) ops.push(this.blooms.putOp(block.header.number, block.header.logsBloom));
    rawTxs.forEach((raw, index) => ops.push(this.txLocations.putOp(keccak256(raw), { blockHash: hash, index })));
    return ops;
  }

  /**
   * The logs blooms of blocks `from`..`to` (inclusive): every block in the range that has logs
   * appears, read in one scan of the index; below where the index starts, from the headers.
   */
  async logsBlooms(from: bigint, to: bigint): Promise<{ number: bigint; bloom: Uint8Array }[]> {
    const out: { number: bigint; bloom: Uint8Array }[] = [];
    const since = this.logIndexSince ?? to + 1n;
    for (let n = from; n <= to && n < since; n++) {
      const header = await this.headerByNumber(n);
      if (header !== undefined) out.push({ number: n, bloom: header.logsBloom });
    }
    const start = from > since ? from : since;
    if (start <= to) {
      for await (const [number, bloom] of this.blooms.entries({ gte: start, lt: to + 1n })) out.push({ number, bloom });
    }
    return out;
  }

  /**
   * Keeps a block whose `putBlockOps` were written (the writer calls it once the write succeeded):
   * reads of it, its receipts and its transactions' locations are answered from memory while it
   * is among the newest (`RecentBlocks`). The block is shared with those readers: never changed.
   */
  remember(block: Block, receipts: readonly TxReceipt[], rawTxs: readonly Uint8Array[]): void {
    this.#recent.add(block, receipts, rawTxs);
  }

  /**
   * The operations that record a header alone as canonical (a snapshot's recent headers, which
   * BLOCKHASH reads: their bodies stay with the peers that served the snapshot).
   */
  putHeaderOps(raw: Uint8Array): BatchOp[] {
    const header = this.decodeHeader(raw);
    return [this.headers.putOp(header.hash(), raw), this.canonical.putOp(header.number, header.hash())];
  }

  /** A header from its RLP, as this store reads them. */
  decodeHeader(raw: Uint8Array): BlockHeader {
    try {
      return createBlockHeaderFromRLP(raw, { common: this.common, setHardfork: false, params: PARAMS_MERGED });
    } catch (cause) {
      throw new BulwarkError('BLOCK_INVALID', 'a header does not decode', {}, { cause });
    }
  }

  /**
   * Where this ledger starts when it was installed from a snapshot (`replica/snapshot-sync.ts`):
   * the checkpoint and its block, below which it holds no blocks (but up to 256 headers) and no
   * state. Undefined for a ledger grown from genesis.
   */
  async snapshotBase(): Promise<SnapshotBase | undefined> {
    const raw = await this.meta.get(SNAPSHOT_BASE);
    return raw === undefined ? undefined : decodeSnapshotBase(raw);
  }

  snapshotBaseOp(base: SnapshotBase): BatchOp {
    this.#baseBlock = undefined; // read again once written
    return this.meta.putOp(SNAPSHOT_BASE, encodeSnapshotBase(base));
  }

  /** The snapshot's block number (0: none), read once: `rawByNumber` asks it for every block it serves. */
  #baseBlock: Promise<bigint> | undefined;

  #snapshotBlock(): Promise<bigint> {
    this.#baseBlock ??= this.snapshotBase().then((b) => BigInt(b?.blockNumber ?? 0));
    return this.#baseBlock;
  }

  /** The RLP of canonical header `number`, as stored. */
  async rawHeaderByNumber(number: bigint): Promise<Uint8Array | undefined> {
    const hash = await this.canonicalHash(number);
    return hash === undefined ? undefined : this.headers.get(hash);
  }

  async headHash(): Promise<Uint8Array | undefined> {
    return this.meta.get(HEAD);
  }

  async canonicalHash(number: bigint): Promise<Uint8Array | undefined> {
    return this.#recent.canonicalHash(number) ?? this.canonical.get(number);
  }

  async header(hash: Uint8Array): Promise<BlockHeader | undefined> {
    const recent = this.#recent.block(hash);
    if (recent !== undefined) return recent.block.header;
    const raw = await this.headers.get(hash);
    if (raw === undefined) return undefined;
    return this.decoding(hash, () => createBlockHeaderFromRLP(raw, { common: this.common, setHardfork: false, params: PARAMS_MERGED }));
  }

  async headerByNumber(number: bigint): Promise<BlockHeader | undefined> {
    const hash = await this.canonicalHash(number);
    return hash === undefined ? undefined : this.header(hash);
  }

  async block(hash: Uint8Array): Promise<Block | undefined> {
    const recent = this.#recent.block(hash);
    if (recent !== undefined) return recent.block;
    const [header, body] = await Promise.all([this.headers.get(hash), this.bodies.get(hash)]);
    if (header === undefined) return undefined;
    if (body === undefined) {
      throw new BulwarkError('LEDGER_CORRUPT', `block ${toHex(hash)} has a header but no body`, { location: this.kv.location });
    }
    return this.decoding(hash, () => {
      const bodyValues = RLP.decode(body) as unknown as [(Uint8Array | Uint8Array[])[], ...unknown[]];
      const values = [RLP.decode(header), ...bodyValues];
      const block = createBlockFromBytesArray(values as Parameters<typeof createBlockFromBytesArray>[0], {
        common: this.common,
        setHardfork: false,
        params: PARAMS_MERGED,
      });
      // What a reader asks next (`eth_getBlockBy*`: its size and its transactions' hashes) comes from
      // the stored bytes, not from encoding the block and every transaction again (~15 % of a
      // client node's CPU under load, CPU profile).
      ENCODED_SIZES.set(block, encodedBlockSize(header.length, body));
      block.transactions.forEach((tx, i) => {
        const item = bodyValues[0][i];
        if (item !== undefined && Object.isFrozen(tx)) tx.cache.hash ??= keccak256(item instanceof Uint8Array ? item : RLP.encode(item));
      });
      return block;
    });
  }

  /**
   * The hashes of a block's transactions, from its stored body without decoding the transactions
   * (a log query needs only these): each is the Keccak-256 of the transaction's canonical bytes.
   */
  async txHashes(hash: Uint8Array): Promise<Uint8Array[] | undefined> {
    // Body form: a typed transaction is its bytes; a legacy one the list those bytes encode.
    return (await this.rawTransactions(hash))?.map((raw) => keccak256(raw));
  }

  /**
   * A block's transactions as the bytes they were sent as, from its stored body without decoding
   * them (a client node's local state executes them: the executor decodes each once).
   */
  async rawTransactions(hash: Uint8Array): Promise<Uint8Array[] | undefined> {
    const body = await this.bodies.get(hash);
    if (body === undefined) return undefined;
    return this.decoding(hash, () => {
      const [txItems] = RLP.decode(body) as unknown as [(Uint8Array | Uint8Array[])[]];
      return txItems.map((item) => (item instanceof Uint8Array ? item : RLP.encode(item)));
    });
  }

  /** Stored blocks were valid when written: one that no longer decodes is corruption, said as such. */
  private decoding<T>(hash: Uint8Array, decode: () => T): T {
    try {
      return decode();
    } catch (cause) {
      throw new BulwarkError('LEDGER_CORRUPT', `stored block ${toHex(hash)} does not decode`, { location: this.kv.location }, { cause });
    }
  }

  async blockByNumber(number: bigint): Promise<Block | undefined> {
    const hash = await this.canonicalHash(number);
    return hash === undefined ? undefined : this.block(hash);
  }

  /**
   * The stored form of a block `putBlockOps` records (what `rawByNumber` reads back), built from the
   * block in hand: the replica pushes a block it just made to the client nodes without reading it.
   */
  static rawOf(block: Block, receipts: readonly TxReceipt[], rawTxs: readonly Uint8Array[]): { header: Uint8Array; body: Uint8Array; receipts: Uint8Array } {
    return { header: block.header.serialize(), body: encodeBody(rawTxs), receipts: encodeReceipts(receipts) };
  }

  /** A canonical block as stored (header, body, receipts), to serve a client node's mirror. */
  async rawByNumber(number: bigint): Promise<{ header: Uint8Array; body: Uint8Array; receipts: Uint8Array } | undefined> {
    const hash = await this.canonicalHash(number);
    if (hash === undefined) return undefined;
    // Below a snapshot's block the ledger keeps headers only (BLOCKHASH reads them): no block to give.
    if (number > 0n && number < (await this.#snapshotBlock())) return undefined;
    const [header, body, receipts] = await Promise.all([this.headers.get(hash), this.bodies.get(hash), this.receiptsByBlock.get(hash)]);
    if (header === undefined || body === undefined || receipts === undefined) {
      throw new BulwarkError('LEDGER_CORRUPT', `canonical block ${number} is incomplete`, { location: this.kv.location });
    }
    return { header, body, receipts: encodeReceipts(receipts) };
  }

  async receipts(blockHash: Uint8Array): Promise<readonly TxReceipt[] | undefined> {
    return this.#recent.block(blockHash)?.receipts ?? this.receiptsByBlock.get(blockHash);
  }

  async txLocation(txHash: Uint8Array): Promise<TxLocation | undefined> {
    return this.#recent.txLocation(txHash) ?? this.txLocations.get(txHash);
  }
}

/** A block body of `rawTxs` (canonical encodings): a legacy transaction is an RLP list, a typed one an opaque byte string. */
function encodeBody(rawTxs: readonly Uint8Array[]): Uint8Array {
  const txItems = rawTxs.map((raw) => ((raw[0] ?? 0) >= 0xc0 ? (RLP.decode(raw) as Uint8Array[]) : raw));
  return RLP.encode([txItems, [], []]);
}

/** Sizes of blocks decoded from their stored bytes (`BlockStore.block`), read by `blockSize`. */
const ENCODED_SIZES = new WeakMap<Block, number>();

/**
 * A block's encoded size in bytes (`eth_getBlockBy*`'s `size`): known for a stored block, else
 * encoded once and remembered (the head block is asked for at every poll of `latest`).
 */
export function blockSize(block: Block): number {
  let size = ENCODED_SIZES.get(block);
  if (size === undefined) {
    size = block.serialize().length;
    ENCODED_SIZES.set(block, size);
  }
  return size;
}

/**
 * The length of RLP([header, ...body items]) from the stored header's RLP and the body's RLP list:
 * the block's list prefix around the header and the body's payload.
 */
function encodedBlockSize(headerBytes: number, body: Uint8Array): number {
  const first = body[0] ?? 0xc0;
  const bodyPrefix = first <= 0xf7 ? 1 : 1 + (first - 0xf7);
  const payload = headerBytes + body.length - bodyPrefix;
  return payload + listPrefixLength(payload);
}

function listPrefixLength(payload: number): number {
  if (payload < 56) return 1;
  let bytes = 0;
  for (let n = payload; n > 0; n = Math.floor(n / 256)) bytes++;
  return 1 + bytes;
}
