/**
 * `bulwark verify-ledger`: an offline check of a node's data directory (a replica's, or a client
 * node's mirror) that stops at the FIRST inconsistency and names it: which record, where, what was
 * expected and what was found. It reads the store only, and it reads a private snapshot of it
 * (`openSnapshot`), so it works on a `cp -r` of a live node and never writes to the directory given.
 *
 * Checks, in order:
 *  1. the stored chain config is network.json's, and block 0 is the genesis that config produces;
 *  2. every block 0..head: canonical hash → header whose Keccak-256 is that hash, numbers in
 *     sequence, parent hash links, body present and decodable, transactions root, receipts (type,
 *     gas per transaction, created-contract address, receipts root), logs bloom, gas used, each
 *     transaction's index entry, the logs-bloom index entry (from meta `logIndexSince` on);
 *  3. the head pointer names the last block, and the head's state root node is stored (the genesis
 *     root on a client node's mirror, which keeps no state beyond it); `state: true` walks every
 *     account and storage trie node and every contract's code, checking each hash;
 *  4. replica: every ordered batch decodes, its digest is the batch's, and its commit certificate
 *     verifies (BLS aggregate, fast path n − c signers, slow path 2f + c + 1, over the bytes
 *     `codec/signing.ts` defines, as `consensus/ordering.ts` checks it); the stable checkpoint
 *     certificate verifies (2f + c + 1, checkpoint domain) and names the stored block and state
 *     root; the execution progress record agrees with the batches and the head;
 *  5. client node: each stored block certificate holds f + 1 valid notices from distinct replicas
 *     naming exactly the stored block; each kept checkpoint certificate verifies and matches;
 *  6. client node with its own executed state (`<dir>/state`): that store passes 1–3 on its own, and
 *     each of its blocks is the one the mirror holds (certified) at that number.
 * Signatures are checked against the keys in effect at their sequence number: network.json's, then
 * the published ones in the store's key tables (consensus 0x18; execution, authentication and TLS
 * 0x1a, each record possessed by its key and endorsed by the one before).
 */
import { mkdtemp, readdir, readFile, rm, copyFile, link, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBlockFromBytesArray, createBlockHeaderFromRLP, type Block, type BlockHeader } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { RLP } from '@ethereumjs/rlp';
import { KECCAK256_NULL, KECCAK256_RLP, createContractAddress } from '@ethereumjs/util';
import { encodeReceipt } from '@ethereumjs/vm';
import { Reader } from '../codec/binary.ts';
import { decodeCertificate } from '../codec/block-certificate.ts';
import { readCheckpointCert } from '../codec/message-codec.ts';
import type { Certificate, CheckpointCertificate, CommitCertificate } from '../codec/messages.ts';
import { decodeCommitted, decodeStable } from '../codec/records.ts';
import { batchDigestBytes, checkpointBytes, commitShareBytes, replyBytes, slowCommitBytes } from '../codec/signing.ts';
import { decodeTxPayload } from '../codec/tx-payload.ts';
import { equalBytes, toHex } from '../common/bytes.ts';
import { BulwarkError } from '../common/errors.ts';
import { quorumsOf, type Quorums } from '../consensus/config.ts';
import { KeyBook, decodeKeyRecord, type KeyRecord } from '../consensus/keys.ts';
import { reservedPagesDigest } from '../consensus/reserved-pages.ts';
import { NO_OPERATOR_STATE, decodeOperatorState } from '../consensus/operator.ts';
import { decodeNodeKeyRecord, type NodeKeyRecord } from '../consensus/node-keys.ts';
import { nodeKeyBookFor } from '../consensus/bls-crypto.ts';
import {
  DOMAIN_CHECKPOINT,
  DOMAIN_CONSENSUS,
  SignerBitVector,
  blsPublicKeyFromBytes,
  blsPublicKeyToBytes,
  blsSignatureFromBytes,
  initHashes,
  keccak256,
  sha256,
  verifyAggregate,
  verifyNodeAuth,
  verifyPossession,
  type BlsDomain,
  type BlsPublicKey,
  type NodeAuthPublicKey,
} from '../crypto/index.ts';
import { listRoot } from '../execution/assemble.ts';
import { chainConfigToJson } from '../execution/chain-config.ts';
import { buildCommon } from '../execution/common.ts';
import { loadStoredConfig } from '../execution/config-store.ts';
import { Executor } from '../execution/executor.ts';
import { NETWORK_FILE, NODE_FILE } from '../setup/layout.ts';
import { loadNetworkFile, type NetworkConfig } from '../setup/network-file.ts';
import {
  MemoryStore,
  PREFIX,
  bytesCodec,
  createRepository,
  openRocksStore,
  uint64Codec,
  utf8Codec,
  type Codec,
  type KvStore,
} from '../storage/index.ts';
import { BlockStore } from '../ledger/block-store.ts';
import { decodeReceipts, logsBloom, type TxReceipt } from '../ledger/receipt.ts';

// ---- results ---------------------------------------------------------------------------------

export type LedgerRole = 'replica' | 'client';

/** What failed; stable identifiers for tests and scripts (the message says it for people). */
export type InconsistencyKind =
  | 'chain-config'
  | 'genesis'
  | 'canonical-gap'
  | 'header-missing'
  | 'header-hash'
  | 'header-decode'
  | 'block-number'
  | 'parent-hash'
  | 'body-missing'
  | 'body-decode'
  | 'transactions-root'
  | 'receipts-missing'
  | 'receipts-decode'
  | 'receipt'
  | 'receipts-root'
  | 'logs-bloom'
  | 'gas-used'
  | 'tx-index'
  | 'bloom-index'
  | 'key-table'
  | 'head'
  | 'state-node'
  | 'code'
  | 'ordered-batch'
  | 'commit-certificate'
  | 'stable-checkpoint'
  | 'execution-progress'
  | 'block-certificate'
  | 'checkpoint-certificate'
  | 'local-state';

export interface LedgerInconsistency {
  readonly kind: InconsistencyKind;
  /** The record: `block 5 (0x…)`, `ordered batch 12`, `stable checkpoint 8`, … */
  readonly where: string;
  readonly what: string;
  readonly expected?: string;
  readonly found?: string;
}

export interface LedgerCounts {
  blocks: number;
  transactions: number;
  orderedBatches: number;
  commitCertificates: number;
  stableCheckpoint: number | null;
  blockCertificates: number;
  checkpointCertificates: number;
  /** Kept checkpoints naming blocks the mirror does not hold yet (checked, not matched). */
  checkpointsAhead: number;
  stateNodes: number;
  codes: number;
}

export interface LedgerHead {
  readonly number: bigint;
  readonly hash: string;
}

export type VerifyLedgerResult =
  | {
      readonly ok: true;
      readonly role: LedgerRole;
      readonly head: LedgerHead;
      readonly counts: LedgerCounts;
      /** A client node's own executed state (`<dir>/state`), when it has one: its head, every block of it checked. */
      readonly localState?: LedgerHead;
    }
  | { readonly ok: false; readonly role: LedgerRole; readonly problem: LedgerInconsistency; readonly counts: LedgerCounts };

/** One line: `<where>: <what> (expected …, found …)`. */
export function describeInconsistency(p: LedgerInconsistency): string {
  const diff = p.expected === undefined && p.found === undefined ? '' : ` (expected ${p.expected ?? '—'}, found ${p.found ?? '—'})`;
  return `${p.where}: ${p.what}${diff}`;
}

/** Thrown inside the checker and caught at its top: the first problem ends the run. */
class Inconsistent extends Error {
  constructor(readonly problem: LedgerInconsistency) {
    super(describeInconsistency(problem));
  }
}

function fail(kind: InconsistencyKind, where: string, what: string, expected?: string, found?: string): never {
  throw new Inconsistent({ kind, where, what, ...(expected === undefined ? {} : { expected }), ...(found === undefined ? {} : { found }) });
}

// ---- keys ------------------------------------------------------------------------------------

/**
 * The public keys a signature must be checked against, by the sequence number (consensus) or the
 * block (execution) it was made for. Certificates are checked against the keys in effect then.
 */
export interface KeyHistory {
  consensusKeysAt(seq: number): readonly BlsPublicKey[];
  /** By the sequence number the execution signature is for (a BlockNotice's `seq`). */
  executionKeysAt(seq: number): readonly NodeAuthPublicKey[];
}

export function keyHistoryOf(network: NetworkConfig): KeyHistory {
  const bootstrap = network.replicas.map((r) => r.bootstrapKey);
  const execution = network.replicas.map((r) => r.executionKey);
  return {
    // The bootstrap keys of network.json; `keyHistoryWithPublished` adds the keys the store's
    // key table says the replicas published (`consensus/keys.ts`).
    consensusKeysAt: () => bootstrap,
    // Likewise the execution keys of network.json, until the node key table says otherwise.
    executionKeysAt: () => execution,
  };
}

/**
 * The key history with the keys the replicas published through consensus (the reserved page
 * `keyTable` of a replica's store; on a client node, the records it took from f + 1 replicas).
 * Each record must be its replica's next epoch, take effect after the previous one, and carry a
 * valid proof of possession.
 */
async function keyHistoryWithPublished(kv: KvStore, network: NetworkConfig, base: KeyHistory): Promise<KeyHistory> {
  const book = new KeyBook<BlsPublicKey>(
    network.replicas.map((r) => ({ publicKey: blsPublicKeyToBytes(r.bootstrapKey), proofOfPossession: new Uint8Array(), key: r.bootstrapKey })),
  );
  let published = 0;
  for await (const [, bytes] of createRepository(kv, 'keyTable', bytesCodec, bytesCodec).entries()) {
    let record: KeyRecord;
    try {
      record = decodeKeyRecord(bytes);
    } catch {
      fail('key-table', 'key table', 'a published key record does not decode');
    }
    const where = `key table: replica ${record.replica} epoch ${record.epoch}`;
    let pk: BlsPublicKey;
    try {
      pk = blsPublicKeyFromBytes(record.publicKey);
      if (!verifyPossession(pk, blsSignatureFromBytes(record.proofOfPossession))) throw new Error('no possession');
    } catch {
      fail('key-table', where, 'the key or its proof of possession does not verify');
    }
    try {
      book.add(record, pk);
    } catch (err) {
      fail('key-table', where, err instanceof Error ? err.message : String(err));
    }
    published++;
  }
  const nodeKeys = nodeKeyBookFor(network);
  let rotated = 0;
  for await (const [, bytes] of createRepository(kv, 'nodeKeyTable', bytesCodec, bytesCodec).entries()) {
    let record: NodeKeyRecord;
    try {
      record = decodeNodeKeyRecord(bytes);
    } catch {
      fail('key-table', 'node key table', 'a published key record does not decode');
    }
    const where = `node key table: ${record.kind} key of node ${record.node} epoch ${record.epoch}`;
    // Each record must be possessed and endorsed by the key before it, back to network.json's.
    const problem = nodeKeys.problem(record);
    if (problem !== null) fail('key-table', where, problem);
    if (!nodeKeys.add(record)) fail('key-table', where, 'does not take effect after the key before it');
    rotated++;
  }
  if (published === 0 && rotated === 0) return base;
  const ids = network.replicas.map((r) => r.id);
  return {
    consensusKeysAt: (seq) => book.keysAt(seq),
    executionKeysAt: (seq) => (rotated === 0 ? base.executionKeysAt(seq) : ids.map((r) => nodeKeys.keyAt('execution', r, seq)!)),
  };
}

// ---- the directory ---------------------------------------------------------------------------

export interface VerifyLedgerOptions {
  /** The node directory: `network.json`, `node.json` and the database in `data/`. */
  readonly dir: string;
  /** Also walk the whole state trie, storage tries and code (slow: reads every state node). */
  readonly state?: boolean;
}

/**
 * Verifies a node directory. Throws (typed) when it cannot be read at all — not a node directory,
 * an unreadable network file, a database that does not open; an inconsistency is a result.
 */
export async function verifyLedgerDirectory(o: VerifyLedgerOptions): Promise<VerifyLedgerResult> {
  await initHashes();
  const role = await nodeRole(o.dir);
  const network = await loadNetworkFile(join(o.dir, NETWORK_FILE));
  const snapshot = await openSnapshot(join(o.dir, 'data'));
  try {
    const ctx: LedgerContext = { role, network, keys: keyHistoryOf(network), state: o.state === true };
    const result = await verifyLedgerStore(snapshot.kv, ctx);
    const localDir = join(o.dir, 'state');
    if (!result.ok || role !== 'client' || !(await stat(localDir).catch(() => null))?.isDirectory()) return result;
    const local = await openSnapshot(localDir);
    try {
      const checked = await verifyLocalState(local.kv, snapshot.kv, ctx);
      return checked.ok ? { ...result, localState: checked.head } : { ok: false, role, problem: checked.problem, counts: result.counts };
    } finally {
      await local.close();
    }
  } finally {
    await snapshot.close();
  }
}

/**
 * A client node's own executed state (`client/local-state.ts`): a chain of its own, checked like
 * any (hash chain, bodies, receipts, roots, indexes, head state), every block of which must be the
 * block the mirror holds, certified, at that number. Problems are named under `local state:`.
 */
async function verifyLocalState(
  kv: KvStore,
  mirrorKv: KvStore,
  ctx: LedgerContext,
): Promise<{ ok: true; head: LedgerHead } | { ok: false; problem: LedgerInconsistency }> {
  const common = buildCommon(ctx.network.chainConfig.chainId, ctx.network.chainConfig.hardfork);
  const counts = { ...emptyCounts() };
  const c: Checker = { kv, ctx, common, q: quorumsOf(ctx.network), blocks: new BlockStore(kv, common), counts };
  const mirror = new BlockStore(mirrorKv, common);
  try {
    await checkChainConfig(c);
    const head = await checkBlocks(c);
    await checkHeadState(c, head);
    for (let n = 0n; n <= head.header.number; n++) {
      const mine = (await c.blocks.canonicalHash(n))!;
      const certified = await mirror.canonicalHash(n);
      if (certified === undefined || !equalBytes(mine, certified)) {
        fail('local-state', `block ${n}`, 'is not the block the mirror holds (certified by f + 1 replicas)', certified === undefined ? 'a block' : toHex(certified), toHex(mine));
      }
    }
    return { ok: true, head: { number: head.header.number, hash: toHex(head.hash) } };
  } catch (err) {
    if (err instanceof Inconsistent) return { ok: false, problem: { ...err.problem, where: `local state: ${err.problem.where}` } };
    throw err;
  }
}

async function nodeRole(dir: string): Promise<LedgerRole> {
  const path = join(dir, NODE_FILE);
  let role: unknown;
  try {
    role = (JSON.parse(await readFile(path, 'utf8')) as { role?: unknown }).role;
  } catch (cause) {
    throw new BulwarkError('VERIFY_NOT_A_NODE_DIR', `${path} cannot be read: ${dir} is not a node directory`, { path }, { cause });
  }
  if (role !== 'replica' && role !== 'client') {
    throw new BulwarkError('VERIFY_NOT_A_NODE_DIR', `${path} names role ${String(role)}: only a replica's or a client node's directory has a ledger`, { path });
  }
  return role;
}

/**
 * The database as a private snapshot: RocksDB opened read-write replays its log, writes a new
 * MANIFEST and may flush or compact — on the directory it opens. The binding has no read-only
 * mode, so the checker opens a scratch copy instead: SST and blob files (immutable) hard-linked
 * when the file system allows, everything else copied; the copy's LOCK is left behind (a `cp -r`
 * of a live node carries one). The directory given is never written.
 */
async function openSnapshot(dataDir: string): Promise<{ kv: KvStore; close(): Promise<void> }> {
  const info = await stat(dataDir).catch(() => null);
  if (info === null || !info.isDirectory()) {
    throw new BulwarkError('STORAGE_MISSING', `no database at ${dataDir}`, { location: dataDir });
  }
  const scratch = await mkdtemp(join(tmpdir(), 'bulwark-verify-'));
  try {
    for (const entry of await readdir(dataDir, { withFileTypes: true })) {
      if (!entry.isFile() || entry.name === 'LOCK') continue;
      const from = join(dataDir, entry.name);
      const to = join(scratch, entry.name);
      if (/\.(sst|blob)$/.test(entry.name)) await link(from, to).catch(() => copyFile(from, to));
      else await copyFile(from, to);
    }
    const kv = await openRocksStore(scratch, { createIfMissing: false });
    return {
      kv,
      close: async () => {
        await kv.close();
        await rm(scratch, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}

// ---- the store -------------------------------------------------------------------------------

export interface LedgerContext {
  readonly role: LedgerRole;
  readonly network: NetworkConfig;
  readonly keys: KeyHistory;
  readonly state: boolean;
}

const seqCodec: Codec<number> = {
  encode: (n) => uint64Codec.encode(BigInt(n)),
  decode: (b) => Number(uint64Codec.decode(b)),
};

interface Checker {
  readonly kv: KvStore;
  /** The context, its key history completed from the store's key table once read. */
  ctx: LedgerContext;
  readonly common: Common;
  readonly q: Quorums;
  readonly blocks: BlockStore;
  readonly counts: LedgerCounts;
}

function emptyCounts(): LedgerCounts {
  return {
    blocks: 0,
    transactions: 0,
    orderedBatches: 0,
    commitCertificates: 0,
    stableCheckpoint: null,
    blockCertificates: 0,
    checkpointCertificates: 0,
    checkpointsAhead: 0,
    stateNodes: 0,
    codes: 0,
  };
}

/** Runs every check on an open store; the first inconsistency ends the run. */
export async function verifyLedgerStore(kv: KvStore, ctx: LedgerContext): Promise<VerifyLedgerResult> {
  const counts = emptyCounts();
  const common = buildCommon(ctx.network.chainConfig.chainId, ctx.network.chainConfig.hardfork);
  // BlockStore is used for reads only (`open` is never called: it may write the log-index marker).
  const c: Checker = { kv, ctx, common, q: quorumsOf(ctx.network), blocks: new BlockStore(kv, common), counts };
  try {
    c.ctx = { ...ctx, keys: await keyHistoryWithPublished(kv, ctx.network, ctx.keys) };
    await checkChainConfig(c);
    const head = await checkBlocks(c);
    await checkHeadState(c, head);
    if (ctx.role === 'replica') await checkReplica(c, head);
    else await checkClient(c, head);
    return { ok: true, role: ctx.role, head: { number: head.header.number, hash: toHex(head.hash) }, counts };
  } catch (err) {
    if (err instanceof Inconsistent) return { ok: false, role: ctx.role, problem: err.problem, counts };
    throw err;
  }
}

// ---- 1. chain config and genesis -------------------------------------------------------------

async function checkChainConfig(c: Checker): Promise<void> {
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

interface CheckedBlock {
  readonly hash: Uint8Array;
  readonly header: BlockHeader;
}

async function checkBlocks(c: Checker): Promise<CheckedBlock> {
  const canonical = createRepository(c.kv, 'canonicalHashByNumber', uint64Codec, bytesCodec);
  const meta = createRepository(c.kv, 'meta', utf8Codec, bytesCodec);
  const sinceBytes = await meta.get('logIndexSince');
  const logIndexSince = sinceBytes === undefined ? undefined : uint64Codec.decode(sinceBytes);
  let previous: CheckedBlock | undefined;
  let expected = 0n;
  for await (const [number, hash] of canonical.entries()) {
    if (number !== expected) fail('canonical-gap', `block ${expected}`, 'has no canonical hash', `block ${expected}`, `next stored block ${number}`);
    if (hash.length !== 32) fail('canonical-gap', `block ${number}`, 'canonical hash is not 32 bytes', '32 bytes', `${hash.length} bytes`);
    previous = await checkBlock(c, number, hash, previous, logIndexSince);
    expected++;
  }
  if (previous === undefined) fail('canonical-gap', 'block 0', 'the store holds no blocks');
  const head = await meta.get('head');
  if (head === undefined) fail('head', "meta 'head'", 'no head pointer', toHex(previous.hash));
  if (!equalBytes(head, previous.hash)) fail('head', "meta 'head'", `does not name the last block ${previous.header.number}`, toHex(previous.hash), toHex(head));
  // Index entries above the head would be read by log queries for blocks that do not exist.
  const blooms = createRepository(c.kv, 'logsBloomByNumber', uint64Codec, bytesCodec);
  for await (const n of blooms.keys({ gte: expected })) fail('bloom-index', `logs bloom index ${n}`, `has an entry above the head block ${expected - 1n}`);
  return previous;
}

async function checkBlock(c: Checker, number: bigint, hash: Uint8Array, parent: CheckedBlock | undefined, logIndexSince: bigint | undefined): Promise<CheckedBlock> {
  const at = `block ${number} (${toHex(hash)})`;
  const raw = await rawParts(c.kv, hash);
  if (raw.header === undefined) fail('header-missing', at, 'no header stored under its canonical hash');
  const headerHash = keccak256(raw.header);
  if (!equalBytes(headerHash, hash)) fail('header-hash', at, 'the stored header does not hash to its key', toHex(hash), toHex(headerHash));
  let header: BlockHeader;
  try {
    header = createBlockHeaderFromRLP(raw.header, { common: c.common, setHardfork: false });
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
    const block = createBlockFromBytesArray([RLP.decode(header), ...items] as Parameters<typeof createBlockFromBytesArray>[0], { common, setHardfork: false });
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

// ---- 3. state ----------------------------------------------------------------------------------

async function checkHeadState(c: Checker, head: CheckedBlock): Promise<void> {
  // A client node's mirror keeps blocks only: the one state it holds is genesis's.
  const header = c.ctx.role === 'replica' ? head.header : (await c.blocks.headerByNumber(0n))!;
  const root = header.stateRoot;
  const where = `state root ${toHex(root)} of block ${header.number}`;
  if (!c.ctx.state) {
    if (equalBytes(root, KECCAK256_RLP)) return;
    await stateNode(c, root, where);
    return;
  }
  await walkState(c, root, where);
}

async function stateNode(c: Checker, hash: Uint8Array, where: string): Promise<unknown[]> {
  const node = await c.kv.get(Uint8Array.of(PREFIX.stateTrie, ...hash));
  if (node === undefined) fail('state-node', where, 'trie node is missing from the store', toHex(hash), 'none');
  const actual = keccak256(node);
  if (!equalBytes(actual, hash)) fail('state-node', where, 'trie node does not hash to its key', toHex(hash), toHex(actual));
  c.counts.stateNodes++;
  try {
    return RLP.decode(node) as unknown[];
  } catch {
    return fail('state-node', where, 'trie node does not decode');
  }
}

/**
 * Every node reachable from `root`: account trie, each account's storage trie, each contract's
 * code. Nodes are content-addressed and shared between tries and blocks, so each is read once.
 */
async function walkState(c: Checker, root: Uint8Array, where: string): Promise<void> {
  const seen = new Set<string>();
  const stack: { ref: Uint8Array | unknown[]; account: boolean; where: string }[] = [];
  const push = (ref: unknown, account: boolean, at: string) => {
    if (ref instanceof Uint8Array && ref.length === 0) return;
    if (ref instanceof Uint8Array && ref.length !== 32) fail('state-node', at, 'child reference is neither a hash nor an embedded node');
    if (ref instanceof Uint8Array) {
      const key = toHex(ref);
      if (seen.has(key)) return;
      seen.add(key);
    }
    stack.push({ ref: ref as Uint8Array | unknown[], account, where: at });
  };
  if (!equalBytes(root, KECCAK256_RLP)) push(root, true, where);
  while (stack.length > 0) {
    const { ref, account, where: at } = stack.pop()!;
    const node = ref instanceof Uint8Array ? await stateNode(c, ref, `${at}: node ${toHex(ref)}`) : ref;
    const values: unknown[] = [];
    if (node.length === 17) {
      for (let i = 0; i < 16; i++) push(node[i], account, at);
      if (node[16] instanceof Uint8Array && node[16].length > 0) values.push(node[16]);
    } else if (node.length === 2 && node[0] instanceof Uint8Array) {
      const leaf = (node[0][0] ?? 0) >> 4 >= 2;
      if (leaf) values.push(node[1]);
      else push(node[1], account, at);
    } else fail('state-node', at, 'trie node is neither a branch, an extension nor a leaf');
    if (account) for (const v of values) await accountValue(c, v, at, push);
  }
}

async function accountValue(c: Checker, value: unknown, at: string, push: (ref: unknown, account: boolean, at: string) => void): Promise<void> {
  let fields: Uint8Array[];
  try {
    fields = RLP.decode(value as Uint8Array) as Uint8Array[];
  } catch {
    return fail('state-node', at, 'an account does not decode');
  }
  const [, , storageRoot, codeHash] = fields;
  if (!(storageRoot instanceof Uint8Array) || !(codeHash instanceof Uint8Array)) fail('state-node', at, 'an account is not [nonce, balance, storageRoot, codeHash]');
  if (!equalBytes(storageRoot, KECCAK256_RLP)) push(storageRoot, false, `storage trie ${toHex(storageRoot)}`);
  if (equalBytes(codeHash, KECCAK256_NULL)) return;
  const code = await c.kv.get(Uint8Array.of(PREFIX.stateTrie, 0x63 /* 'c' */, ...codeHash));
  if (code === undefined) fail('code', `code ${toHex(codeHash)}`, 'contract code is missing from the store');
  const actual = keccak256(code);
  if (!equalBytes(actual, codeHash)) fail('code', `code ${toHex(codeHash)}`, 'contract code does not hash to its key', toHex(codeHash), toHex(actual));
  c.counts.codes++;
}

// ---- certificates ------------------------------------------------------------------------------

/** `bls-crypto.ts`'s `verifyCertificate`: well-formed, at least `minSigners` signers, aggregate valid. */
function verifyBlsCertificate(domain: BlsDomain, message: Uint8Array, cert: Certificate, keys: readonly BlsPublicKey[], minSigners: number): boolean {
  try {
    const signers = SignerBitVector.decode(keys.length, cert.signers);
    if (signers.count() < minSigners) return false;
    return verifyAggregate(domain, message, blsSignatureFromBytes(cert.signature), signers, keys, minSigners);
  } catch {
    return false;
  }
}

/** `consensus/ordering.ts`'s `verifyCommit`: fast path n − c shares, slow path 2f + c + 1 commit votes. */
function verifyCommit(c: Checker, seq: number, commit: CommitCertificate): boolean {
  const keys = c.ctx.keys.consensusKeysAt(seq);
  if (commit.kind === 'fast') return verifyBlsCertificate(DOMAIN_CONSENSUS, commitShareBytes(commit.view, seq, commit.digest), commit.cert, keys, c.q.fast);
  return verifyBlsCertificate(DOMAIN_CONSENSUS, slowCommitBytes(commit.view, seq, commit.digest), commit.cert, keys, c.q.slow);
}

/** `consensus/execution.ts`'s `verifyStable` (without the checkpoint-interval rule: that is run-time configuration). */
function verifyCheckpoint(c: Checker, cert: CheckpointCertificate): boolean {
  return verifyBlsCertificate(DOMAIN_CHECKPOINT, checkpointBytes(cert.seq, cert.summary), cert.cert, c.ctx.keys.consensusKeysAt(cert.seq), c.q.checkpoint);
}

/** A checkpoint names a block: it must be the stored one, with its state root. */
async function matchCheckpoint(c: Checker, where: string, cert: CheckpointCertificate, kind: InconsistencyKind): Promise<void> {
  const number = BigInt(cert.summary.blockNumber);
  const hash = await c.blocks.canonicalHash(number);
  if (hash === undefined) fail(kind, where, `names block ${number}, which is not stored`);
  if (!equalBytes(hash, cert.summary.blockHash)) fail(kind, where, `names another hash for block ${number}`, toHex(hash), toHex(cert.summary.blockHash));
  const header = (await c.blocks.header(hash))!;
  if (!equalBytes(header.stateRoot, cert.summary.stateRoot)) {
    fail(kind, where, `names another state root for block ${number}`, toHex(header.stateRoot), toHex(cert.summary.stateRoot));
  }
}

// ---- 4. replica ------------------------------------------------------------------------------

async function checkReplica(c: Checker, head: CheckedBlock): Promise<void> {
  const progress = await readProgress(c);
  const headTx = await firstTxHash(c, head);
  let headBatch: number | undefined;
  const batches = createRepository(c.kv, 'orderedBatches', seqCodec, bytesCodec);
  let expected = 1;
  for await (const [seq, bytes] of batches.entries()) {
    const where = `ordered batch ${seq}`;
    if (seq !== expected && expected <= progress.seq) fail('ordered-batch', `ordered batch ${expected}`, `is missing, yet execution progress is at ${progress.seq}`, `batch ${expected}`, `next stored batch ${seq}`);
    expected = seq + 1;
    let batch, commit;
    try {
      ({ batch, commit } = decodeCommitted(bytes));
    } catch (e) {
      fail('ordered-batch', where, `does not decode: ${(e as Error).message}`);
    }
    const digest = sha256(batchDigestBytes(seq, batch));
    if (!equalBytes(digest, commit.digest)) fail('ordered-batch', where, 'the batch is not the one its commit certificate names', toHex(commit.digest), toHex(digest));
    if (!verifyCommit(c, seq, commit)) {
      fail('commit-certificate', where, `${commit.kind}-path commit certificate (view ${commit.view}) does not verify against the consensus keys in effect`, `≥ ${commit.kind === 'fast' ? c.q.fast : c.q.slow} valid signers`, signerList(commit.cert, c.q.n, commit.kind === 'fast' ? c.q.fast : c.q.slow));
    }
    c.counts.orderedBatches++;
    c.counts.commitCertificates++;
    if (headTx !== undefined && headBatch === undefined && seq <= progress.seq && batchCarries(batch.requests, headTx)) headBatch = seq;
  }
  if (expected <= progress.seq) fail('execution-progress', "executionProgress 'progress'", 'names batches that are not stored', `batches up to ${progress.seq}`, `batches up to ${expected - 1}`);
  if (headTx !== undefined && headBatch === undefined) {
    fail('execution-progress', `block ${head.header.number} (${toHex(head.hash)})`, `its first transaction is in no batch executed so far (up to ${progress.seq})`, toHex(headTx), 'none');
  }
  await checkStable(c, head, progress.seq);
}

async function readProgress(c: Checker): Promise<{ seq: number; lastTimestamp: number }> {
  const raw = await c.kv.get(Uint8Array.of(PREFIX.executionProgress, ...new TextEncoder().encode('progress')));
  if (raw === undefined) return { seq: 0, lastTimestamp: 0 };
  if (raw.length !== 16) fail('execution-progress', "executionProgress 'progress'", 'is not 16 bytes', '16 bytes', `${raw.length} bytes`);
  const view = new DataView(raw.buffer, raw.byteOffset, 16);
  return { seq: Number(view.getBigUint64(0)), lastTimestamp: Number(view.getBigUint64(8)) };
}

async function firstTxHash(c: Checker, head: CheckedBlock): Promise<Uint8Array | undefined> {
  if (head.header.number === 0n) return undefined;
  return (await c.blocks.txHashes(head.hash))?.[0];
}

function batchCarries(requests: readonly { payload: Uint8Array }[], txHash: Uint8Array): boolean {
  for (const r of requests) {
    let txs: Uint8Array[];
    try {
      txs = decodeTxPayload(r.payload);
    } catch {
      continue; // a malformed payload executes as such: it carries no transaction
    }
    if (txs.some((tx) => equalBytes(keccak256(tx), txHash))) return true;
  }
  return false;
}

async function checkStable(c: Checker, head: CheckedBlock, executed: number): Promise<void> {
  const raw = await c.kv.get(Uint8Array.of(PREFIX.consensusState, ...new TextEncoder().encode('stable')));
  if (raw === undefined) return;
  let cert: CheckpointCertificate;
  try {
    cert = decodeStable(raw);
  } catch (e) {
    fail('stable-checkpoint', "consensusState 'stable'", `does not decode: ${(e as Error).message}`);
  }
  const where = `stable checkpoint ${cert.seq} (block ${cert.summary.blockNumber})`;
  if (!verifyCheckpoint(c, cert)) {
    fail('stable-checkpoint', where, 'its certificate does not verify against the consensus keys in effect', `≥ ${c.q.checkpoint} valid signers`, signerList(cert.cert, c.q.n, c.q.checkpoint));
  }
  c.counts.stableCheckpoint = cert.seq;
  if (BigInt(cert.summary.blockNumber) > head.header.number) {
    // A lagging replica adopts its peers' stable checkpoint before it has executed that far.
    if (executed >= cert.seq) fail('stable-checkpoint', where, `is above the head block ${head.header.number}, yet batch ${cert.seq} is executed`);
    return;
  }
  await matchCheckpoint(c, where, cert, 'stable-checkpoint');
  if (executed === cert.seq) {
    if (BigInt(cert.summary.blockNumber) !== head.header.number) fail('execution-progress', where, `is where execution stands, so its block must be the head`, String(head.header.number), String(cert.summary.blockNumber));
    const digest = await reservedDigest(c);
    if (!equalBytes(digest, cert.summary.reservedDigest)) fail('stable-checkpoint', where, "names another reserved-pages digest than the stored client table's", toHex(digest), toHex(cert.summary.reservedDigest));
  }
}

/** The reserved-pages digest (`consensus/reserved-pages.ts`), from the store's client table and key table. */
async function reservedDigest(c: Checker): Promise<Uint8Array> {
  const table = new Map<number, number>();
  const repo = createRepository(c.kv, 'clientTable', bytesCodec, bytesCodec);
  for await (const [k, v] of repo.entries()) {
    if (k.length !== 4 || v.length !== 8) fail('execution-progress', 'client table', 'an entry is malformed', '4-byte key, 8-byte value', `${k.length}-byte key, ${v.length}-byte value`);
    table.set(new DataView(k.buffer, k.byteOffset, 4).getUint32(0), Number(new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0)));
  }
  const keys: KeyRecord[] = [];
  for await (const [, bytes] of createRepository(c.kv, 'keyTable', bytesCodec, bytesCodec).entries()) keys.push(decodeKeyRecord(bytes));
  const operator = await createRepository(c.kv, 'operatorState', utf8Codec, bytesCodec).get('state');
  const nodeKeys: NodeKeyRecord[] = [];
  for await (const [, bytes] of createRepository(c.kv, 'nodeKeyTable', bytesCodec, bytesCodec).entries()) nodeKeys.push(decodeNodeKeyRecord(bytes));
  return reservedPagesDigest(table, keys, operator === undefined ? NO_OPERATOR_STATE : decodeOperatorState(operator), nodeKeys);
}

/** Why a certificate failed, as "found": too few signers, or enough whose aggregate is not valid. */
function signerList(cert: Certificate, n: number, quorum: number): string {
  try {
    const signers = [...SignerBitVector.decode(n, cert.signers).indices()];
    const who = `signers [${signers.join(', ')}]`;
    return signers.length < quorum ? `only ${signers.length} ${who}` : `${who} with an aggregate signature that does not verify`;
  } catch {
    return 'an unreadable signer list';
  }
}

// ---- 5. client node ------------------------------------------------------------------------------

async function checkClient(c: Checker, head: CheckedBlock): Promise<void> {
  const certificates = createRepository(c.kv, 'blockCertificate', uint64Codec, bytesCodec);
  for await (const [number, bytes] of certificates.entries()) await checkBlockCertificate(c, number, bytes, head);
  const checkpoints = createRepository(c.kv, 'checkpointCertificate', uint64Codec, bytesCodec);
  for await (const [seq, bytes] of checkpoints.entries()) {
    const where = `checkpoint certificate ${seq}`;
    let cert: CheckpointCertificate;
    try {
      const r = new Reader(bytes);
      cert = readCheckpointCert(r);
      r.end();
    } catch (e) {
      fail('checkpoint-certificate', where, `does not decode: ${(e as Error).message}`);
    }
    if (BigInt(cert.seq) !== seq) fail('checkpoint-certificate', where, 'is stored under another sequence number', String(seq), String(cert.seq));
    if (!verifyCheckpoint(c, cert)) {
      fail('checkpoint-certificate', where, 'does not verify against the consensus keys in effect', `≥ ${c.q.checkpoint} valid signers`, signerList(cert.cert, c.q.n, c.q.checkpoint));
    }
    c.counts.checkpointCertificates++;
    // Kept when a replica reported it, which may be before the mirror fetched its block.
    if (BigInt(cert.summary.blockNumber) > head.header.number) c.counts.checkpointsAhead++;
    else await matchCheckpoint(c, `${where} (block ${cert.summary.blockNumber})`, cert, 'checkpoint-certificate');
  }
}

async function checkBlockCertificate(c: Checker, number: bigint, bytes: Uint8Array, head: CheckedBlock): Promise<void> {
  const where = `block certificate ${number}`;
  if (number > head.header.number) fail('block-certificate', where, `certifies a block above the head ${head.header.number}`);
  let entries;
  try {
    entries = decodeCertificate(bytes);
  } catch (e) {
    fail('block-certificate', where, `does not decode: ${(e as Error).message}`);
  }
  const hash = (await c.blocks.canonicalHash(number))!;
  const header = (await c.blocks.header(hash))!;
  const seen = new Set<number>();
  for (const { replica, notice } of entries) {
    const keys = c.ctx.keys.executionKeysAt(notice.seq);
    const at = `${where}: replica ${replica}'s notice`;
    if (notice.type !== 'BlockNotice') fail('block-certificate', at, 'is not a BlockNotice', 'BlockNotice', String((notice as { type: string }).type));
    if (seen.has(replica)) fail('block-certificate', at, 'appears twice');
    seen.add(replica);
    const pk = keys[replica];
    if (pk === undefined) fail('block-certificate', at, 'comes from no replica of network.json', `0..${keys.length - 1}`, String(replica));
    if (!verifyNodeAuth(pk, replyBytes(notice.seq, notice.summary, notice.resultsRoot), notice.signature)) {
      fail('block-certificate', at, "signature does not verify under the replica's execution key");
    }
    if (BigInt(notice.summary.blockNumber) !== number) fail('block-certificate', at, 'names another block number', String(number), String(notice.summary.blockNumber));
    if (!equalBytes(notice.summary.blockHash, hash)) fail('block-certificate', at, 'names another hash than the stored block', toHex(hash), toHex(notice.summary.blockHash));
    if (!equalBytes(notice.summary.stateRoot, header.stateRoot)) fail('block-certificate', at, "names another state root than the stored block's", toHex(header.stateRoot), toHex(notice.summary.stateRoot));
  }
  if (seen.size < c.ctx.network.f + 1) fail('block-certificate', where, 'has too few notices from distinct replicas', `≥ ${c.ctx.network.f + 1}`, String(seen.size));
  c.counts.blockCertificates++;
}
