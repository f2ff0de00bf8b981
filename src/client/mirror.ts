/**
 * The client node's verified ledger mirror: blocks, receipts and indexes, accepted only when f + 1
 * replicas vouch for them. Each replica announces every block it makes (`BlockNotice`, signed with
 * its execution key); a block hash named by f + 1 valid, matching notices is certified. The mirror
 * fetches blocks from one replica at a time and stores a run of them only when it ends in a
 * certified block and every block links to the next by its parent hash, starting from the mirror's
 * own head — so a lying replica can delay the mirror (it then asks another) but never put a block
 * in it. Each block is also checked against its transactions and receipts roots (`verifyBlock`).
 * After a disconnect, or on an idle network, asking for blocks also brings each replica's latest
 * notice, so the mirror learns how far the chain has gone.
 */
import type { Common } from '@ethereumjs/common';
import { decodeCertificate, encodeCertificate, type CertificateEntry } from '../codec/block-certificate.ts';
import { encodeMessage } from '../codec/message-codec.ts';
import type { BlockData, BlockNotice, Message } from '../codec/messages.ts';
import { replyBytes } from '../codec/signing.ts';
import { equalBytes } from '../common/bytes.ts';
import type { ChainConfig } from '../execution/chain-config.ts';
import { Executor, type BlockHashSource } from '../execution/executor.ts';
import type { ChainSource } from '../execution/reader.ts';
import type { Block } from '@ethereumjs/block';
import { BulwarkError } from '../common/errors.ts';
import { verifyBlock, type VerifiedBlock } from '../execution/verify-block.ts';
import type { BlockStore } from '../ledger/block-store.ts';
import { bytesCodec, createRepository, uint64Codec, type KvStore, type Repository } from '../storage/index.ts';
import { executionKeys, type ExecutionKeys, type ExecutionKeysInput } from './execution-keys.ts';

/** A block the mirror stored, as verified, and its state changes when a replica sent them. */
export interface StoredBlock extends VerifiedBlock {
  readonly changes?: Uint8Array;
}

export interface MirrorOptions {
  readonly kv: KvStore;
  readonly config: ChainConfig;
  readonly send: (to: number, frame: Uint8Array) => void;
  readonly executionKeys: ExecutionKeysInput;
  readonly f: number;
  /** How long a replica may take to answer before the next one is asked. */
  readonly fetchTimeoutMs?: number;
  /**
   * Each block stored, in order, with what was verified of it and the state changes that came with
   * it (unverified: the local state checks them against the state root; see `LocalState.offer`).
   */
  readonly onBlock?: (number: bigint, stored: StoredBlock) => void;
  /**
   * Blocks could not be written (a full disk): a `MIRROR_STORE_FAILED` error naming the blocks and
   * the storage code. Nothing is lost: the blocks stay in hand and the write is tried again after
   * `storeRetryMs`, and the mirror fetches no more meanwhile; reads go on from what is stored.
   */
  readonly onStoreError?: (err: BulwarkError) => void;
  readonly storeRetryMs?: number;
  /** Anything else that failed while processing a message (a bug): reported, the mirror goes on. */
  readonly onError?: (err: unknown) => void;
}

const CHUNK = 64;
/** How far the fetch timeout may grow while replicas answer late: 8 × 2 s by default. */
const LATE_FACTOR = 8;
/**
 * Notices are kept only for blocks at most this far above the head: a replica cannot make the
 * mirror hold notices for blocks that will not exist for a long time (a Byzantine one announces
 * any number it likes).
 */
export const NOTICE_WINDOW = 1_024n;
/**
 * Not-yet-certified block numbers each replica may have a notice held for: its latest ones. An
 * honest replica's notices are certified as fast as f + 1 others agree, and a block that lost its
 * notices is still stored as the ancestor of a later certified one.
 */
export const NOTICES_PER_REPLICA = 16;

export class LedgerMirror {
  readonly blocks: BlockStore;
  readonly common: Common;
  readonly #o: MirrorOptions;
  readonly #kv: KvStore;
  readonly #keys: ExecutionKeys;
  readonly #n: number;
  #head: { number: bigint; hash: Uint8Array };
  #headBlock: Block;
  readonly #blockHashes: BlockHashSource;
  /** block number → block hash (hex) → the valid notices announcing it, by replica */
  readonly #notices = new Map<bigint, Map<string, Map<number, BlockNotice>>>();
  /** replica → block number → the hash (hex) it announced there: one notice per replica and number. */
  readonly #announced = new Map<number, Map<bigint, string>>();
  /** Certified blocks above the head: their hash and the f + 1 notices that certify it. */
  readonly #certified = new Map<bigint, { hash: Uint8Array; notices: CertificateEntry[] }>();
  readonly #certificates: Repository<bigint, Uint8Array>;
  /** Fetched blocks waiting for a certified block above them. */
  #pending: { number: bigint; parts: BlockData['blocks'][number] }[] = [];
  #source = 0;
  #fetching: { to: number; from: bigint; timer: NodeJS.Timeout } | null = null;
  /**
   * Replicas whose question timed out, and the first block number it asked for: a late answer is
   * still used if it is what the mirror needs then (see `#onData`).
   */
  readonly #late = new Map<number, bigint>();
  /** The fetch timeout now: doubled at each timeout (to `LATE_FACTOR` × the configured one), reset by an answer. */
  #timeoutMs: number;
  /** Answers in a row that brought nothing while a certified block was wanted (see `#onData`). */
  #emptyAnswers = 0;
  #retry: NodeJS.Timeout | null = null;
  #busy: Promise<void> = Promise.resolve();
  /** Callers of `nextBlock` waiting for the head to move. */
  #waiters: (() => void)[] = [];
  rejected = 0;
  /** Writes of certified blocks that failed (each tried again later). */
  storeFailures = 0;
  /** Set while the last write failed: no more is fetched until a retry succeeds. */
  #storeRetry: NodeJS.Timeout | null = null;
  /** Notices refused: beyond the window, beyond a replica's share, or a second hash for a number (also in `rejected`). */
  noticesRefused = 0;

  private constructor(o: MirrorOptions, executor: Executor) {
    this.#o = o;
    this.#kv = o.kv;
    this.#keys = executionKeys(o.executionKeys);
    this.#n = this.#keys.n;
    this.blocks = executor.blocks;
    this.common = executor.common;
    const h = executor.head;
    this.#head = { number: h.header.number, hash: h.hash() };
    this.#headBlock = h;
    this.#blockHashes = executor.blockHashes;
    this.#certificates = createRepository(o.kv, 'blockCertificate', uint64Codec, bytesCodec);
    this.#timeoutMs = this.#baseTimeoutMs;
  }

  get #baseTimeoutMs(): number {
    return this.#o.fetchTimeoutMs ?? 2_000;
  }

  /** The mirror as a source for `ChainReader`: blocks, receipts, transactions and logs; no state. */
  chain(): ChainSource {
    const headBlock = () => this.#headBlock;
    return {
      blocks: this.blocks,
      get head() {
        return headBlock();
      },
      common: this.common,
      blockHashes: this.#blockHashes,
      stateAt(): never {
        throw new BulwarkError('READ_NO_STATE', 'the ledger mirror holds blocks, not state: state is read from the replicas');
      },
    };
  }

  /** Opens (or creates, from the genesis in the network file) the mirror's store. */
  static async open(o: MirrorOptions): Promise<LedgerMirror> {
    const executor = await Executor.open({ kv: o.kv, config: o.config, nodeCacheBytes: 1_000_000, blocksOnly: true });
    return new LedgerMirror(o, executor);
  }

  get head(): { number: bigint; hash: Uint8Array } {
    return this.#head;
  }

  /** Resolves when the head next moves, or after `timeoutMs` (whichever is first). */
  nextBlock(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  /** Asks for blocks above what the mirror holds (start-up, reconnect, or a periodic check on an idle network). */
  poke(source = this.#source): void {
    if (this.#fetching !== null || this.#storeRetry !== null || this.#retry !== null) return;
    const last = this.#pending[this.#pending.length - 1];
    this.#fetch(source, last === undefined ? this.#head.number + 1n : last.number + 1n);
  }

  onMessage(from: number, m: Message): void {
    if (from < 0 || from >= this.#n) return;
    if (m.type === 'BlockNotice') this.#onNotice(from, m);
    else if (m.type === 'BlockData') this.#enqueue(() => this.#onData(from, m));
  }

  /** Resolves when everything received so far has been processed (for tests and shutdown). */
  settled(): Promise<void> {
    return this.#busy;
  }

  /** Notices held for blocks not yet certified (bounded by the replicas' shares). */
  get noticesHeld(): number {
    let n = 0;
    for (const byHash of this.#notices.values()) for (const who of byHash.values()) n += who.size;
    return n;
  }

  #refuseNotice(): void {
    this.noticesRefused++;
    this.rejected++;
  }

  #onNotice(from: number, m: BlockNotice): void {
    const number = BigInt(m.summary.blockNumber);
    if (number <= this.#head.number || this.#certified.has(number)) return;
    if (number > this.#head.number + NOTICE_WINDOW) return this.#refuseNotice();
    if (!this.#keys.verify(from, replyBytes(m.seq, m.summary, m.resultsRoot), m.signature, m.seq)) {
      this.rejected++;
      return;
    }
    const key = Buffer.from(m.summary.blockHash).toString('hex');
    if (!this.#admitNotice(from, number, key)) return this.#refuseNotice();
    let byHash = this.#notices.get(number);
    if (byHash === undefined) this.#notices.set(number, (byHash = new Map()));
    let who = byHash.get(key);
    if (who === undefined) byHash.set(key, (who = new Map()));
    who.set(from, m);
    if (who.size < this.#o.f + 1) {
      // The first announcer certainly has the block: fetching it now, while the other notices are
      // on their way, takes the fetch off the path from commit to receipt. It is stored only once
      // certified. Decided in turn after what arrived before the notice: a small block comes with
      // it (its BlockData first, on the same link), and then nothing is fetched.
      if (who.size === 1) {
        this.#enqueue(async () => {
          if (number === this.#head.number + 1n && this.#pending.length === 0) this.poke(from);
        });
      }
      return;
    }
    this.#certified.set(number, { hash: m.summary.blockHash, notices: [...who].map(([replica, notice]) => ({ replica, notice })) });
    this.#forgetNotices((n) => n === number);
    // In turn after what arrived before the notice (a block sent with it, an answer).
    this.#enqueue(async () => {
      if (number <= this.#head.number) return;
      if (!this.#pending.some((p) => p.number === number)) return this.poke();
      if (!(await this.#storePending())) this.poke();
    });
  }

  /**
   * Whether replica `from`'s notice of `hash` at `number` may be held: one hash per replica and
   * number (a second one is refused: a replica does not make two blocks at one height), and at most
   * `NOTICES_PER_REPLICA` numbers per replica, its highest (its lowest gives way to a higher one).
   */
  #admitNotice(from: number, number: bigint, hash: string): boolean {
    let mine = this.#announced.get(from);
    if (mine === undefined) this.#announced.set(from, (mine = new Map()));
    const before = mine.get(number);
    if (before !== undefined) return before === hash;
    if (mine.size >= NOTICES_PER_REPLICA) {
      const lowest = [...mine.keys()].reduce((a, b) => (b < a ? b : a));
      if (number < lowest) return false;
      this.#dropNotice(from, lowest, mine.get(lowest)!);
      mine.delete(lowest);
      this.noticesRefused++;
    }
    mine.set(number, hash);
    return true;
  }

  #dropNotice(from: number, number: bigint, hash: string): void {
    const byHash = this.#notices.get(number);
    const who = byHash?.get(hash);
    who?.delete(from);
    if (who?.size === 0) byHash!.delete(hash);
    if (byHash?.size === 0) this.#notices.delete(number);
  }

  /** Drops held notices for the block numbers `gone` names (certified, or at or below the head). */
  #forgetNotices(gone: (n: bigint) => boolean): void {
    for (const n of this.#notices.keys()) if (gone(n)) this.#notices.delete(n);
    for (const mine of this.#announced.values()) for (const n of mine.keys()) if (gone(n)) mine.delete(n);
  }

  /** Runs `work` after everything queued before it; a failure is reported and does not stop what follows. */
  #enqueue(work: () => Promise<void>): void {
    this.#busy = this.#busy.then(work).catch((err: unknown) => this.#o.onError?.(err));
  }

  #fetch(to: number, fromNumber: bigint): void {
    const timer = setTimeout(() => {
      // No answer yet: the next replica is asked, and given longer; this one's answer may still come
      // (and is used if it is still what the mirror needs: see `#onData`).
      this.#fetching = null;
      this.#late.set(to, fromNumber);
      this.#timeoutMs = Math.min(this.#timeoutMs * 2, this.#baseTimeoutMs * LATE_FACTOR);
      this.#source = (this.#source + 1) % this.#n;
      this.poke();
    }, this.#timeoutMs);
    this.#fetching = { to, from: fromNumber, timer };
    const n = Number(fromNumber);
    this.#o.send(to, encodeMessage({ type: 'BlockRequest', fromNumber: n, toNumber: n + CHUNK - 1 }));
  }

  /**
   * Blocks from `m.fromNumber` on: the answer to this mirror's question, a late answer to one that
   * timed out, or a small block a replica sent with its notice; taken if it starts where the mirror
   * needs blocks now. (A late answer matters: a mirror that fell behind under load asked for 64
   * blocks, every replica, busy executing, answered after the timeout, and when late answers were
   * dropped the soak's ERC-20 run saw the mirror's head stand still for 40 s.) Unasked, only the
   * very next block is taken, alone, while nothing else is held: a Byzantine replica cannot fill
   * the mirror with blocks nobody certified, and one that sends a false next block costs a fetch
   * (the run fails its certificate, is dropped and counted, and the block is asked for).
   */
  async #onData(from: number, m: BlockData): Promise<void> {
    const next = BigInt(m.fromNumber);
    const fetching = this.#fetching;
    const answer = fetching !== null && fetching.to === from && fetching.from === next;
    if (answer) {
      clearTimeout(fetching.timer);
      this.#fetching = null;
    }
    const late = !answer && this.#late.get(from) === next;
    if (answer || late) this.#late.delete(from);
    const last = this.#pending[this.#pending.length - 1];
    const expected = last === undefined ? this.#head.number + 1n : last.number + 1n;
    // Blocks the mirror holds already, or does not need yet: of no use (if this was the answer to
    // the question in flight, the next question goes out).
    if (next !== expected) {
      if (answer) this.poke();
      return;
    }
    if (!answer) {
      // A block sent with its notice, or a late answer: stored once certified. The question in
      // flight, if any, goes on (its answer will be of no use, and the next question goes out).
      if (m.blocks.length === 0) return;
      if (!late && (m.blocks.length !== 1 || this.#pending.length > 0)) return;
      this.#timeoutMs = this.#baseTimeoutMs;
      m.blocks.forEach((parts, i) => this.#pending.push({ number: next + BigInt(i), parts }));
      if (!(await this.#storePending())) return this.poke();
      // A full chunk: the replica may have more (a certified block not held asks for itself: `#onNotice`).
      if (m.blocks.length === CHUNK) this.poke();
      return;
    }
    this.#timeoutMs = this.#baseTimeoutMs;
    m.blocks.forEach((parts, i) => this.#pending.push({ number: next + BigInt(i), parts }));
    if (!(await this.#storePending())) return this.poke();
    // The source had more to give.
    if (m.blocks.length === CHUNK) return this.poke();
    const wanted = this.#wanted();
    if (wanted === undefined) {
      this.#emptyAnswers = 0;
      // Blocks held that f + 1 notices do not certify yet: on an idle network no notice will come
      // (a mirror restarted, or restored from a backup, behind). Each answer ends with the
      // replica's latest notice, so the next question goes to the next replica.
      if (this.#pending.length > 0) this.#source = (from + 1) % this.#n;
      return;
    }
    if (m.blocks.length > 0) {
      this.#emptyAnswers = 0;
      return this.poke();
    }
    // The source has nothing above what is held, yet f + 1 replicas have certified a block there:
    // it lags (slow, restarted, or lying). One of the block's announcers is asked instead; had the
    // mirror waited for the next notice, it would wait for ever once the load stops.
    this.#source = this.#announcerOf(wanted, from);
    // Past a round of empty answers, the next question waits a fetch timeout: no spinning.
    if (++this.#emptyAnswers < this.#n) return this.poke();
    this.#emptyAnswers = 0;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.poke();
    }, this.#o.fetchTimeoutMs ?? 2_000);
  }

  /** The lowest block certified above what the mirror holds (stored or pending), if any. */
  #wanted(): bigint | undefined {
    const held = this.#pending[this.#pending.length - 1]?.number ?? this.#head.number;
    let wanted: bigint | undefined;
    for (const n of this.#certified.keys()) if (n > held && (wanted === undefined || n < wanted)) wanted = n;
    return wanted;
  }

  /** A replica whose notice certified block `number`, other than `not` when there is one: the next after `not`, in turn. */
  #announcerOf(number: bigint, not: number): number {
    const who = (this.#certified.get(number)?.notices ?? []).map((e) => e.replica).filter((r) => r !== not).sort((a, b) => a - b);
    if (who.length === 0) return (not + 1) % this.#n;
    return who.find((r) => r > not) ?? who[0]!;
  }

  /** Stores what of the pending run is certified; a run that does not verify is dropped and the source changed. */
  async #storePending(): Promise<boolean> {
    const stored = await this.#storeCertifiedRun();
    if (stored.ok) return true;
    this.rejected++;
    this.#pending = [];
    this.#source = (this.#source + 1) % this.#n;
    return false;
  }

  /** Stores the longest prefix of pending blocks that ends in a certified block and links up. */
  async #storeCertifiedRun(): Promise<{ ok: boolean }> {
    let top = -1;
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      if (this.#certified.has(this.#pending[i]!.number)) {
        top = i;
        break;
      }
    }
    if (top < 0) return { ok: this.#pending.length <= 10_000 };
    const run = this.#pending.slice(0, top + 1);
    const verified: VerifiedBlock[] = new Array<VerifiedBlock>(run.length);
    let expected = this.#certified.get(run[top]!.number)!.hash;
    try {
      for (let i = top; i >= 0; i--) {
        const v = await verifyBlock(this.common, run[i]!.parts, expected);
        verified[i] = v;
        expected = v.block.header.parentHash;
      }
    } catch {
      return { ok: false };
    }
    if (!equalBytes(expected, this.#head.hash)) return { ok: false };
    const ops = verified.flatMap((v) => {
      const cert = this.#certified.get(v.block.header.number);
      const certOps = cert === undefined ? [] : [this.#certificates.putOp(v.block.header.number, encodeCertificate(cert.notices))];
      return [...this.blocks.putBlockOps(v.block, v.receipts, v.rawTxs), ...certOps];
    });
    const last = verified[verified.length - 1]!.block;
    try {
      // Not synced: the replicas hold every certified block, and a mirror that a power cut set back
      // fetches them again (the store keeps a prefix of its batches: never a block without its
      // certificate, never a gap). A killed process loses nothing: the batch is the operating
      // system's once written. An fsync here cost 0.3–1 ms on the way from commit to receipt.
      await this.#kv.write(ops);
    } catch (cause) {
      this.#storeFailed(cause, verified[0]!.block.header.number, last.header.number);
      return { ok: true };
    }
    for (const v of verified) this.blocks.remember(v.block, v.receipts, v.rawTxs);
    this.#head = { number: last.header.number, hash: last.hash() };
    this.#headBlock = last;
    for (const n of this.#certified.keys()) if (n <= this.#head.number) this.#certified.delete(n);
    this.#forgetNotices((n) => n <= this.#head.number);
    this.#pending = this.#pending.slice(top + 1);
    verified.forEach((v, i) => {
      const changes = run[i]!.parts.changes;
      this.#o.onBlock?.(v.block.header.number, changes === undefined ? v : { ...v, changes });
    });
    for (const w of this.#waiters.splice(0)) w();
    return { ok: true };
  }

  /** A write failed: reported with its storage code; the same run is stored again after a while. */
  #storeFailed(cause: unknown, from: bigint, to: bigint): void {
    this.storeFailures++;
    const storageCode = (cause as { code?: unknown }).code;
    const why = cause instanceof Error ? cause.message : String(cause);
    const err = new BulwarkError('MIRROR_STORE_FAILED', `the mirror could not store blocks ${from}..${to}: ${why}`, { storageCode, from: Number(from), to: Number(to) }, { cause });
    this.#o.onStoreError?.(err);
    if (this.#storeRetry !== null) return;
    this.#storeRetry = setTimeout(() => {
      this.#storeRetry = null;
      this.#enqueue(async () => {
        await this.#storePending();
        // Fetching resumes unless the write failed again.
        this.poke();
      });
    }, this.#o.storeRetryMs ?? 1_000);
  }

  /**
   * The f + 1 replica notices that certified block `number` when this mirror stored it; undefined
   * for a block stored as the ancestor of a certified one (its certificate is that block's, through
   * parent hashes).
   */
  async certificate(number: bigint): Promise<CertificateEntry[] | undefined> {
    const bytes = await this.#certificates.get(number);
    return bytes === undefined ? undefined : decodeCertificate(bytes);
  }

  close(): void {
    if (this.#fetching !== null) clearTimeout(this.#fetching.timer);
    this.#fetching = null;
    if (this.#storeRetry !== null) clearTimeout(this.#storeRetry);
    if (this.#retry !== null) clearTimeout(this.#retry);
  }
}
