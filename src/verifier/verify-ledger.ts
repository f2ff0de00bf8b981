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
 *     verifies (BLS aggregate, fast path n − c signers, slow path ⌈(n + f + 1) / 2⌉, over the bytes
 *     `codec/signing.ts` defines, as `consensus/ordering.ts` checks it); the stable checkpoint
 *     certificate verifies (⌈(n + f + 1) / 2⌉, checkpoint domain) and names the stored block and state
 *     root; the execution progress record agrees with the batches and the head;
 *  5. client node: each stored block certificate holds f + 1 valid notices from distinct replicas
 *     naming exactly the stored block; each kept checkpoint certificate verifies and matches;
 *  6. client node with its own executed state (`<dir>/state`): that store passes 1–3 on its own, and
 *     each of its blocks is the one the mirror holds (certified) at that number.
 * Signatures are checked against the keys in effect at their sequence number: network.json's, then
 * the published ones in the store's key tables (consensus 0x18; execution, authentication and TLS
 * 0x1a, each record possessed by its key and endorsed by the one before).
 *
 * This file opens the directory and runs the checks; each lives beside it: `blocks.ts` (1, 2),
 * `state.ts` (3), `replica-records.ts` (4), `client-records.ts` (5), with the key history in
 * `keys.ts`, certificate verification in `certificates.ts` and the results in `problems.ts`.
 */
import { mkdtemp, readdir, readFile, rm, copyFile, link, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { equalBytes, toHex } from '../common/bytes.ts';
import { BulwarkError } from '../common/errors.ts';
import { initHashes } from '../crypto/index.ts';
import { buildCommon } from '../execution/common.ts';
import { BlockStore } from '../ledger/block-store.ts';
import { ReservedPages } from '../ledger/reserved-pages.ts';
import { NETWORK_FILE, NODE_FILE } from '../setup/layout.ts';
import { loadNetworkFile } from '../setup/network-file.ts';
import { openRocksStore, type KvStore } from '../storage/index.ts';
import { checkBlocks, checkChainConfig } from './blocks.ts';
import type { Checker, LedgerContext } from './checker.ts';
import { checkClient } from './client-records.ts';
import { readEpochs, singleEpoch, type Epochs } from './configurations.ts';
import { keyHistoryOf, keyHistoryWithPublished, type KeyHistory } from './keys.ts';
import { Inconsistent, emptyCounts, fail, readOrFail, type LedgerHead, type LedgerInconsistency, type LedgerRole, type VerifyLedgerResult } from './problems.ts';
import { checkReplica } from './replica-records.ts';
import { checkHeadState } from './state.ts';

export type { LedgerContext } from './checker.ts';
export { keyHistoryOf, type KeyHistory } from './keys.ts';
export {
  describeInconsistency,
  type InconsistencyKind,
  type LedgerCounts,
  type LedgerHead,
  type LedgerInconsistency,
  type LedgerRole,
  type VerifyLedgerResult,
} from './problems.ts';

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
  const c: Checker = { kv, ctx, common, epochs: singleEpoch(ctx.network), blocks: new BlockStore(kv, common), pages: new ReservedPages(kv), counts };
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

/** Runs every check on an open store; the first inconsistency ends the run. */
export async function verifyLedgerStore(kv: KvStore, ctx: LedgerContext): Promise<VerifyLedgerResult> {
  const counts = emptyCounts();
  const common = buildCommon(ctx.network.chainConfig.chainId, ctx.network.chainConfig.hardfork);
  // BlockStore is used for reads only (`open` is never called: it may write the log-index marker).
  const c: Checker = { kv, ctx, common, epochs: singleEpoch(ctx.network), blocks: new BlockStore(kv, common), pages: new ReservedPages(kv), counts };
  try {
    const operator = await readOrFail('execution-progress', "operatorState 'state'", () => c.pages.operatorState());
    c.epochs = await readEpochs(kv, ctx.network, operator);
    counts.configurationEpochs = c.epochs.count;
    const keys = await keyHistoryWithPublished(c.pages, c.epochs.union, c.epochs.count === 1 ? ctx.keys : keyHistoryOf(c.epochs.union));
    c.ctx = { ...ctx, keys: c.epochs.count === 1 ? keys : inEffect(keys, c.epochs) };
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

/** The keys of the replicas of the epoch a sequence number is in (the history is over every replica any epoch named). */
function inEffect(keys: KeyHistory, epochs: Epochs): KeyHistory {
  return {
    consensusKeysAt: (seq) => keys.consensusKeysAt(seq).slice(0, epochs.networkAt(seq).n),
    executionKeysAt: (seq) => keys.executionKeysAt(seq).slice(0, epochs.networkAt(seq).n),
  };
}
