/**
 * Checks 1 and 2 of `verify-ledger`: the stored chain config is network.json's and block 0 its
 * genesis; every block 0..head hashes to its canonical key and links to its parent, with its body,
 * receipts (and what they derive: roots, bloom, gas, created contracts) and index entries, and the
 * head pointer names the last one. A ledger installed from a snapshot (`BlockStore.snapshotBase`)
 * holds, below the snapshot's block, genesis and the headers before it alone: those are checked
 * as headers (hash, number, link to the next), the blocks from the snapshot's on as above.
 */
import { createBlockFromBytesArray, createBlockHeaderFromRLP, type Block, type BlockHeader } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { RLP } from '@ethereumjs/rlp';
import { createContractAddress } from '@ethereumjs/util';
import { encodeReceipt } from '@ethereumjs/vm';
import { equalBytes, toHex } from '../common/bytes.ts';
import { keccak256 } from '../crypto/index.ts';
import { listRoot } from '../execution/assemble.ts';
import { chainConfigToJson } from '../execution/chain-config.ts';
import { loadStoredConfig } from '../execution/config-store.ts';
import { Executor } from '../execution/executor.ts';
import { decodeReceipts, logsBloom, type TxReceipt } from '../ledger/receipt.ts';
import { MemoryStore, PREFIX, bytesCodec, createRepository, uint64Codec, utf8Codec, type KvStore } from '../storage/index.ts';
import type { CheckedBlock, Checker } from './checker.ts';
import { fail } from './problems.ts';
import { TX_OPTIONS_PARAMS } from '../execution/common.ts';

// ---- 1. chain config and genesis -------------------------------------------------------------

export async function checkChainConfig(c: Checker): Promise<void> {
  let stored;
  try {
    stored = await loadStoredConfig(c.kv);
  } catch {
    fail('chain-config', "meta 'chain-config'", 'the stored chain config does not parse');
  }
  if (stored === undefined) fail('chain-config', "meta 'chain-config'", 'no chain config is stored');
  const mine = chainConfigToJson(stored) as Record<string, unknown>;
  const theirs = chainConfigToJson(c.ctx.network.chainConfig) as Record<string, unknown>;
  const differing = [...new Set([...Object.keys(mine), ...Object.keys(theirs)])].filter(
    (k) => JSON.stringify(mine[k]) !== JSON.stringify(theirs[k]),
  );
  if (differing.length > 0) {
    const k = differing[0]!;
    fail('chain-config', "meta 'chain-config'", `differs from network.json's chain config in ${differing.join(', ')}`, `${k} = ${JSON.stringify(theirs[k])}`, `${k} = ${JSON.stringify(mine[k])}`);
  }
  const genesis = await Executor.open({ kv: new MemoryStore(), config: c.ctx.network.chainConfig, allowJsSecp256k1: true });
  const block0 = await c.blocks.canonicalHash(0n);
  if (block0 === undefined) fail('genesis', 'block 0', 'no canonical hash for the genesis block');
  if (!equalBytes(block0, genesis.head.hash())) {
    fail('genesis', 'block 0', "is not the genesis network.json's chain config produces", toHex(genesis.head.hash()), toHex(block0));
  }
}

// ---- 2. blocks ---------------------------------------------------------------------------------

export async function checkBlocks(c: Checker): Promise<CheckedBlock> {
  const canonical = createRepository(c.kv, 'canonicalHashByNumber', uint64Codec, bytesCodec);
  const meta = createRepository(c.kv, 'meta', utf8Codec, bytesCodec);
  const sinceBytes = await meta.get('logIndexSince');
  const logIndexSince = sinceBytes === undefined ? undefined : uint64Codec.decode(sinceBytes);
  const base = await c.blocks.snapshotBase();
  const baseBlock = BigInt(base?.blockNumber ?? 0);
  let previous: CheckedBlock | undefined;
  let expected = 0n;
  for await (const [number, hash] of canonical.entries()) {
    // Below a snapshot's block: genesis, the blocks of an earlier life (a replica that fell far behind),
    // then the run of headers that ends just before it.
    const gapAllowed = base !== undefined && number < baseBlock;
    if (number !== expected && !gapAllowed) fail('canonical-gap', `block ${expected}`, 'has no canonical hash', `block ${expected}`, `next stored block ${number}`);
    if (hash.length !== 32) fail('canonical-gap', `block ${number}`, 'canonical hash is not 32 bytes', '32 bytes', `${hash.length} bytes`);
    if (number > 0n && number < baseBlock && !(await c.kv.get(Uint8Array.of(PREFIX.blockBodyByHash, ...hash)))) {
      previous = await checkHeaderOnly(c, number, hash, number === expected ? previous : undefined);
      c.counts.snapshot = { seq: base!.seq, block: base!.blockNumber, headers: (c.counts.snapshot?.headers ?? 0) + 1 };
    } else {
      if (number === baseBlock && base !== undefined) {
        c.counts.snapshot ??= { seq: base.seq, block: base.blockNumber, headers: 0 };
        if (!equalBytes(hash, base.blockHash)) fail('snapshot-base', `block ${number}`, "is not the snapshot's block", toHex(base.blockHash), toHex(hash));
      }
      previous = await checkBlock(c, number, hash, number === expected ? previous : undefined, logIndexSince);
    }
    expected = number + 1n;
  }
  if (base !== undefined && expected <= baseBlock) fail('snapshot-base', `block ${base.blockNumber}`, "the snapshot's block is not stored", toHex(base.blockHash), 'none');
  if (previous === undefined) fail('canonical-gap', 'block 0', 'the store holds no blocks');
  const head = await meta.get('head');
  if (head === undefined) fail('head', "meta 'head'", 'no head pointer', toHex(previous.hash));
  if (!equalBytes(head, previous.hash)) fail('head', "meta 'head'", `does not name the last block ${previous.header.number}`, toHex(previous.hash), toHex(head));
  // Index entries above the head would be read by log queries for blocks that do not exist.
  const blooms = createRepository(c.kv, 'logsBloomByNumber', uint64Codec, bytesCodec);
  for await (const n of blooms.keys({ gte: expected })) fail('bloom-index', `logs bloom index ${n}`, `has an entry above the head block ${expected - 1n}`);
  return previous;
}

/** A header kept without its block (below a snapshot's block): its hash, number and link to the one before. */
async function checkHeaderOnly(c: Checker, number: bigint, hash: Uint8Array, parent: CheckedBlock | undefined): Promise<CheckedBlock> {
  const at = `header ${number} (${toHex(hash)})`;
  const raw = await c.kv.get(Uint8Array.of(PREFIX.blockHeaderByHash, ...hash));
  if (raw === undefined) fail('header-missing', at, 'no header stored under its canonical hash');
  const headerHash = keccak256(raw);
  if (!equalBytes(headerHash, hash)) fail('header-hash', at, 'the stored header does not hash to its key', toHex(hash), toHex(headerHash));
  let header: BlockHeader;
  try {
    header = createBlockHeaderFromRLP(raw, { common: c.common, setHardfork: false, params: TX_OPTIONS_PARAMS });
  } catch (e) {
    fail('header-decode', at, `the header does not decode: ${(e as Error).message}`);
  }
  if (header.number !== number) fail('block-number', at, 'the header carries another number', String(number), String(header.number));
  if (parent !== undefined && !equalBytes(header.parentHash, parent.hash)) {
    fail('parent-hash', at, `parent hash does not link to block ${parent.header.number}`, toHex(parent.hash), toHex(header.parentHash));
  }
  return { hash, header };
}

async function checkBlock(c: Checker, number: bigint, hash: Uint8Array, parent: CheckedBlock | undefined, logIndexSince: bigint | undefined): Promise<CheckedBlock> {
  const at = `block ${number} (${toHex(hash)})`;
  const raw = await rawParts(c.kv, hash);
  if (raw.header === undefined) fail('header-missing', at, 'no header stored under its canonical hash');
  const headerHash = keccak256(raw.header);
  if (!equalBytes(headerHash, hash)) fail('header-hash', at, 'the stored header does not hash to its key', toHex(hash), toHex(headerHash));
  let header: BlockHeader;
  try {
    header = createBlockHeaderFromRLP(raw.header, { common: c.common, setHardfork: false, params: TX_OPTIONS_PARAMS });
  } catch (e) {
    fail('header-decode', at, `the header does not decode: ${(e as Error).message}`);
  }
  if (header.number !== number) fail('block-number', at, 'the header carries another number', String(number), String(header.number));
  if (parent !== undefined && !equalBytes(header.parentHash, parent.hash)) {
    fail('parent-hash', at, `parent hash does not link to block ${parent.header.number}`, toHex(parent.hash), toHex(header.parentHash));
  }
  if (raw.body === undefined) fail('body-missing', at, 'no body stored');
  const { block, rawTxs } = decodeBlock(c.common, raw.header, raw.body, at);
  const txRoot = await listRoot(rawTxs);
  if (!equalBytes(txRoot, header.transactionsTrie)) fail('transactions-root', at, "the body's transactions do not match the header's transactions root", toHex(header.transactionsTrie), toHex(txRoot));
  if (raw.receipts === undefined) fail('receipts-missing', at, 'no receipts stored');
  let receipts: TxReceipt[];
  try {
    receipts = decodeReceipts(raw.receipts);
  } catch (e) {
    fail('receipts-decode', at, `the receipts do not decode: ${(e as Error).message}`);
  }
  await checkReceipts(at, block, receipts);
  await checkIndexes(c, at, block, hash, rawTxs, receipts, logIndexSince);
  c.counts.blocks++;
  c.counts.transactions += rawTxs.length;
  return { hash, header };
}

async function rawParts(kv: KvStore, hash: Uint8Array) {
  const key = (bucket: number) => Uint8Array.of(bucket, ...hash);
  const [header, body, receipts] = await kv.getMany([key(PREFIX.blockHeaderByHash), key(PREFIX.blockBodyByHash), key(PREFIX.receiptsByBlockHash)]);
  return { header, body, receipts };
}

function decodeBlock(common: Common, header: Uint8Array, body: Uint8Array, at: string): { block: Block; rawTxs: Uint8Array[] } {
  try {
    const items = RLP.decode(body) as unknown[];
    const txItems = items[0] as (Uint8Array | Uint8Array[])[];
    const block = createBlockFromBytesArray([RLP.decode(header), ...items] as Parameters<typeof createBlockFromBytesArray>[0], { common, setHardfork: false, params: TX_OPTIONS_PARAMS });
    // Body form: a typed transaction is its bytes, a legacy one the list those bytes encode.
    const rawTxs = txItems.map((item) => (item instanceof Uint8Array ? item : RLP.encode(item)));
    return { block, rawTxs };
  } catch (e) {
    return fail('body-decode', at, `the body does not decode: ${(e as Error).message}`);
  }
}

/** Receipts against the header: what the roots cover, and what the store derived (gas, contract). */
async function checkReceipts(at: string, block: Block, receipts: readonly TxReceipt[]): Promise<void> {
  const txs = block.transactions;
  const header = block.header;
  if (receipts.length !== txs.length) fail('receipt', at, 'one receipt per transaction', String(txs.length), String(receipts.length));
  let cumulative = 0n;
  for (const [i, r] of receipts.entries()) {
    const tx = txs[i]!;
    const where = `${at} receipt ${i}`;
    if (r.txType !== tx.type) fail('receipt', where, "type is not its transaction's", String(tx.type), String(r.txType));
    const gasUsed = r.cumulativeGasUsed - cumulative;
    if (gasUsed < 0n) fail('receipt', where, 'cumulative gas goes down', `≥ ${cumulative}`, String(r.cumulativeGasUsed));
    if (r.gasUsed !== gasUsed) fail('receipt', where, 'gas used is not the cumulative difference', String(gasUsed), String(r.gasUsed));
    cumulative = r.cumulativeGasUsed;
    const created = tx.to === undefined && r.status === 1 ? createContractAddress(tx.getSenderAddress(), tx.nonce).bytes : undefined;
    if (!sameOptional(created, r.contractAddress)) fail('receipt', where, 'contract address is not the one the transaction created', hexOrNone(created), hexOrNone(r.contractAddress));
  }
  const encodings = receipts.map((r, i) =>
    encodeReceipt(
      { status: r.status, cumulativeBlockGasUsed: r.cumulativeGasUsed, bitvector: logsBloom(r.logs), logs: r.logs.map(([a, t, d]) => [a, [...t], d]) },
      txs[i]!.type,
    ),
  );
  const receiptRoot = await listRoot(encodings);
  if (!equalBytes(receiptRoot, header.receiptTrie)) fail('receipts-root', at, "the stored receipts do not match the header's receipts root", toHex(header.receiptTrie), toHex(receiptRoot));
  const bloom = logsBloom(receipts.flatMap((r) => r.logs));
  if (!equalBytes(bloom, header.logsBloom)) fail('logs-bloom', at, "the receipts' logs do not give the header's logs bloom", toHex(header.logsBloom), toHex(bloom));
  if (cumulative !== header.gasUsed) fail('gas-used', at, "the receipts' gas does not add up to the header's gas used", String(header.gasUsed), String(cumulative));
}

async function checkIndexes(
  c: Checker,
  at: string,
  block: Block,
  hash: Uint8Array,
  rawTxs: readonly Uint8Array[],
  receipts: readonly TxReceipt[],
  logIndexSince: bigint | undefined,
): Promise<void> {
  for (const [index, raw] of rawTxs.entries()) {
    const txHash = keccak256(raw);
    let loc;
    try {
      loc = await c.blocks.txLocation(txHash);
    } catch (e) {
      fail('tx-index', `transaction ${toHex(txHash)}`, `its index entry does not decode: ${(e as Error).message}`);
    }
    const want = `${toHex(hash)} #${index}`;
    if (loc === undefined) fail('tx-index', `${at} transaction ${index} (${toHex(txHash)})`, 'has no transaction index entry', want, 'none');
    if (!equalBytes(loc.blockHash, hash) || loc.index !== index) {
      fail('tx-index', `${at} transaction ${index} (${toHex(txHash)})`, 'the transaction index points elsewhere', want, `${toHex(loc.blockHash)} #${loc.index}`);
    }
  }
  const number = block.header.number;
  if (logIndexSince === undefined || number < logIndexSince) return;
  const entry = await c.kv.get(Uint8Array.of(PREFIX.logsBloomByNumber, ...uint64Codec.encode(number)));
  const hasLogs = receipts.some((r) => r.logs.length > 0);
  if (hasLogs && (entry === undefined || !equalBytes(entry, block.header.logsBloom))) {
    fail('bloom-index', `${at} logs bloom index`, "entry is not the header's logs bloom", toHex(block.header.logsBloom), entry === undefined ? 'none' : toHex(entry));
  }
  if (!hasLogs && entry !== undefined) fail('bloom-index', `${at} logs bloom index`, 'has an entry for a block without logs', 'none', toHex(entry));
}

function sameOptional(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : equalBytes(a, b);
}

function hexOrNone(b: Uint8Array | undefined): string {
  return b === undefined ? 'none' : toHex(b);
}
