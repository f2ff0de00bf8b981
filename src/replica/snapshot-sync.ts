/**
 * Fetching a snapshot (ARCHITECTURE "Snapshots"): how a joining or far-behind replica gets the
 * state at a recent checkpoint from its peers instead of replaying every batch since genesis.
 *
 * 1. **Manifest.** Every peer is asked for the image of its newest checkpoint (`codec/snapshot.ts`:
 *    the checkpoint's summary, the reserved pages as they stood there, the last block timestamp).
 *    An image is taken only when f + 1 peers gave the same bytes: one of them at least is honest,
 *    and execution is deterministic, so the image is the network's. When the peers stand at
 *    different checkpoints, they are asked again for the newest one f + 1 of them have reached.
 *    The image's reserved pages must hash to the summary's digest; the checkpoint's block must hash
 *    to the summary's block hash, and the 256 headers before it must chain to it.
 * 2. **State.** The state trie is walked depth-first from the summary's state root: each node this
 *    store lacks is asked of a peer, many at a time, from several peers at once, and taken only if
 *    it hashes to the reference that named it — so a wrong item from a faulty peer is caught at
 *    once; that peer is dropped and its items asked of another. Nodes this store holds are read
 *    here and walked all the same (a walk cut short by a crash left subtrees half fetched).
 *    Memory stays bounded: the walk's stack, the requests in flight and one write batch.
 * 3. **Install.** One synced batch: the block and the headers, the head pointer, the reserved pages
 *    from the image (with the image itself, so this replica can serve it in turn), and where the
 *    ledger now starts. The replica then starts as after any restart, and replays only the batches
 *    after the checkpoint.
 */
import type { Common } from '@ethereumjs/common';
import { KECCAK256_RLP } from '@ethereumjs/util';
import type { Logger } from 'pino';
import { decodeCheckpointImage, SNAPSHOT_ITEM, type CheckpointImage } from '../codec/snapshot.ts';
import { MAX_SNAPSHOT_ITEMS } from '../codec/message-codec.ts';
import type { SnapshotItemRef, SnapshotManifest, SnapshotRequest } from '../codec/messages.ts';
import { equalBytes, toHex } from '../common/bytes.ts';
import type { Clock } from '../common/clock.ts';
import { BulwarkError } from '../common/errors.ts';
import { reservedPagesDigest } from '../consensus/reserved-pages.ts';
import { keccak256, sha256 } from '../crypto/index.ts';
import { stateItemKey, trieRefs } from '../execution/trie-walk.ts';
import { verifyBlock, type VerifiedBlock } from '../execution/verify-block.ts';
import { BlockStore } from '../ledger/block-store.ts';
import { ReservedPages } from '../ledger/reserved-pages.ts';
import { batchesFromOp } from '../ledger/retention.ts';
import { stateFromOp } from '../execution/state-from.ts';
import type { BatchOp, KvStore } from '../storage/kvstore.ts';

export interface SnapshotSyncOptions {
  readonly kv: KvStore;
  readonly common: Common;
  readonly log: Logger;
  /** The replicas to ask (every replica but this one). */
  readonly peers: readonly number[];
  readonly f: number;
  /** Sends a request to a peer; false when the transport would not take it. */
  readonly send: (peer: number, m: SnapshotRequest) => boolean;
  /** What this replica has executed: a snapshot is taken only if it is at least `minGain` batches ahead of it. */
  readonly lastExecuted: number;
  readonly minGain: number;
  /** How long to wait for the peers' manifests in each round (default 3 s). */
  readonly manifestWaitMs?: number;
  /** How long one request for items may go unanswered before it is asked of another peer (default 5 s). */
  readonly requestTimeoutMs?: number;
  /** Items per request (default and most: `MAX_SNAPSHOT_ITEMS`). */
  readonly itemsPerRequest?: number;
  /**
   * What the waits and timeouts run on (default: the monotonic clock and Node's timers). The
   * deterministic simulator passes its simulated clock, so a fetch there moves only with its events.
   */
  readonly clock?: Clock;
}

/** `performance.now` and Node's timers: what a fetch measures and waits with unless given a clock. */
const monotonicClock: Clock = {
  now: () => performance.now(),
  after(ms, run) {
    const timer = setTimeout(run, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

export type SnapshotOutcome =
  | { readonly installed: false; readonly reason: string }
  | {
      readonly installed: true;
      readonly seq: number;
      readonly blockNumber: number;
      /** Items fetched from peers (nodes and code), and their bytes; items found in this store. */
      readonly fetched: number;
      readonly bytes: number;
      readonly local: number;
      /** Peers dropped for serving an item that did not match its hash. */
      readonly faulty: readonly number[];
      readonly ms: number;
    };

/** One item the walk needs: a node of the account trie or of a storage trie, or code. */
interface Wanted {
  readonly kind: number;
  readonly hash: Uint8Array;
  /** For a node: whether it belongs to the account trie (its leaves are accounts). */
  readonly account: boolean;
}

interface InFlight {
  readonly peer: number;
  readonly items: readonly Wanted[];
  readonly sentAt: number;
}

/** Bytes of fetched items written per (unsynced) batch. */
const WRITE_BATCH_BYTES = 4 << 20;
/** Rounds of asking for a manifest before giving up. */
const MANIFEST_ROUNDS = 4;

export class SnapshotSync {
  readonly #o: SnapshotSyncOptions;
  readonly #clock: Clock;
  #nextId = 1;
  /** Manifest answers of the current round, by peer. */
  #manifests = new Map<number, SnapshotManifest>();
  #manifestId = 0;
  #manifestWaiter: (() => void) | null = null;
  readonly #inFlight = new Map<number, InFlight>();
  #itemWaiter: (() => void) | null = null;
  readonly #answers: { id: number; peer: number; items: readonly Uint8Array[] }[] = [];
  readonly #faulty = new Set<number>();
  /** Peers that let a request time out (or whose link would not take one): asked only when no other is left. */
  readonly #slow = new Set<number>();

  constructor(o: SnapshotSyncOptions) {
    this.#o = o;
    this.#clock = o.clock ?? monotonicClock;
  }

  /** A peer's answer (the composition root routes `SnapshotManifest` and `SnapshotItems` here). */
  onManifest(from: number, m: SnapshotManifest): void {
    if (m.id !== this.#manifestId || !this.#o.peers.includes(from)) return;
    this.#manifests.set(from, m);
    if (this.#manifests.size >= this.#o.peers.length) this.#manifestWaiter?.();
  }

  onItems(from: number, id: number, items: readonly Uint8Array[]): void {
    const f = this.#inFlight.get(id);
    if (f === undefined || f.peer !== from) return;
    this.#answers.push({ id, peer: from, items });
    this.#itemWaiter?.();
  }

  /** Fetches and installs a snapshot if the peers agree on one far enough ahead; says why not otherwise. */
  async run(): Promise<SnapshotOutcome> {
    const started = this.#clock.now();
    const chosen = await this.#agreeOnManifest();
    if (typeof chosen === 'string') return { installed: false, reason: chosen };
    const { image, block, headers } = chosen;
    if (image.seq < this.#o.lastExecuted + this.#o.minGain) {
      return { installed: false, reason: `the newest checkpoint f + 1 peers agree on (${image.seq}) is fewer than ${this.#o.minGain} batches ahead of ${this.#o.lastExecuted}` };
    }
    this.#o.log.info({ seq: image.seq, block: image.summary.blockNumber, stateRoot: toHex(image.summary.stateRoot), from: this.#o.lastExecuted }, 'fetching a snapshot');
    const walked = await this.#fetchState(image.summary.stateRoot, chosen.holders);
    await this.#install(image, block, headers);
    const ms = Math.round(this.#clock.now() - started);
    this.#o.log.info({ seq: image.seq, block: image.summary.blockNumber, ...walked, faulty: [...this.#faulty], ms }, 'snapshot installed');
    return { installed: true, seq: image.seq, blockNumber: image.summary.blockNumber, ...walked, faulty: [...this.#faulty], ms };
  }

  // ---- 1. the manifest --------------------------------------------------------------------------

  async #agreeOnManifest(): Promise<
    { image: CheckpointImage; block: VerifiedBlock; headers: readonly Uint8Array[]; holders: number[] } | string
  > {
    let target = 0;
    for (let round = 0; round < MANIFEST_ROUNDS; round++) {
      const answers = await this.#askManifests(target);
      // Grouped by the image's bytes: f + 1 identical ones make it the network's.
      const groups = new Map<string, { image: CheckpointImage; peers: number[] }>();
      const seqs: number[] = [];
      for (const [peer, m] of answers) {
        if (m.image.length === 0) continue;
        let image: CheckpointImage;
        try {
          image = decodeCheckpointImage(m.image);
        } catch (err) {
          this.#o.log.warn({ peer, err }, 'a peer sent a checkpoint image that does not decode');
          continue;
        }
        seqs.push(image.seq);
        const key = toHex(sha256(m.image));
        const g = groups.get(key) ?? { image, peers: [] };
        g.peers.push(peer);
        groups.set(key, g);
      }
      const agreed = [...groups.values()].filter((g) => g.peers.length >= this.#o.f + 1).sort((a, b) => b.image.seq - a.image.seq)[0];
      if (agreed !== undefined) {
        // Another image of the same checkpoint: execution is deterministic, so its sender is faulty.
        // Named for the operator; its items are still taken when they hash right, as anyone's are.
        for (const g of groups.values()) {
          if (g !== agreed && g.image.seq === agreed.image.seq) {
            this.#o.log.warn({ peers: g.peers, seq: g.image.seq }, 'peers sent an image of the checkpoint that differs from the one f + 1 peers agree on: faulty');
          }
        }
        const checked = await this.#checkManifest(agreed.image, agreed.peers, answers);
        if (typeof checked !== 'string') return { ...checked, holders: agreed.peers };
        return checked;
      }
      // The newest checkpoint that f + 1 peers have reached at least: every one of them keeps its image.
      seqs.sort((a, b) => b - a);
      const next = seqs[this.#o.f];
      if (next === undefined) return `fewer than f + 1 = ${this.#o.f + 1} peers offered a checkpoint (${seqs.length} did)`;
      if (next === target) return `the peers do not agree on checkpoint ${target}`;
      target = next;
    }
    return 'the peers did not agree on a checkpoint';
  }

  async #askManifests(seq: number): Promise<Map<number, SnapshotManifest>> {
    this.#manifestId = this.#nextId++;
    this.#manifests = new Map();
    for (const peer of this.#o.peers) this.#o.send(peer, { type: 'SnapshotRequest', id: this.#manifestId, seq, items: [] });
    await new Promise<void>((resolve) => {
      const cancel = this.#clock.after(this.#o.manifestWaitMs ?? 3_000, resolve);
      this.#manifestWaiter = () => {
        cancel();
        resolve();
      };
    });
    this.#manifestWaiter = null;
    return this.#manifests;
  }

  /** The image against its summary; the block and headers (from any holder whose copy checks) against the image. */
  async #checkManifest(
    image: CheckpointImage,
    holders: readonly number[],
    answers: ReadonlyMap<number, SnapshotManifest>,
  ): Promise<{ image: CheckpointImage; block: VerifiedBlock; headers: readonly Uint8Array[] } | string> {
    const digest = reservedPagesDigest(image.clients, image.keys, image.operator, image.nodeKeys);
    if (!equalBytes(digest, image.summary.reservedDigest)) return `the checkpoint image of ${image.seq} does not match its reserved-pages digest`;
    for (const peer of holders) {
      const m = answers.get(peer)!;
      if (m.block === null) continue;
      try {
        const block = await verifyBlock(this.#o.common, m.block, image.summary.blockHash);
        checkHeaderChain(new BlockStore(this.#o.kv, this.#o.common), m.headers, block);
        return { image, block, headers: m.headers };
      } catch (err) {
        this.#o.log.warn({ peer, err }, "a peer's checkpoint block or headers do not match the agreed summary");
        this.#faulty.add(peer);
      }
    }
    return `no peer sent the block of checkpoint ${image.seq} with headers that check`;
  }

  // ---- 2. the state -----------------------------------------------------------------------------

  async #fetchState(root: Uint8Array, holders: readonly number[]): Promise<{ fetched: number; bytes: number; local: number }> {
    const stack: Wanted[] = [];
    if (!equalBytes(root, KECCAK256_RLP)) stack.push({ kind: SNAPSHOT_ITEM.node, hash: root, account: true });
    // The peers that agreed on the image first: they hold this state for sure.
    const peers = [...holders, ...this.#o.peers.filter((p) => !holders.includes(p))];
    const perRequest = Math.min(this.#o.itemsPerRequest ?? MAX_SNAPSHOT_ITEMS, MAX_SNAPSHOT_ITEMS);
    const timeout = this.#o.requestTimeoutMs ?? 5_000;
    /** Per item (hex hash), the peers that answered they do not hold it. */
    const missing = new Map<string, Set<number>>();
    let fetched = 0;
    let bytes = 0;
    let local = 0;
    let batch: BatchOp[] = [];
    let batchBytes = 0;
    const take = (w: Wanted, value: Uint8Array) => {
      if (w.kind === SNAPSHOT_ITEM.code) return;
      const refs = trieRefs(value, w.account);
      for (const h of refs.nodes) stack.push({ kind: SNAPSHOT_ITEM.node, hash: h, account: w.account });
      for (const h of refs.storageRoots) stack.push({ kind: SNAPSHOT_ITEM.node, hash: h, account: false });
      for (const h of refs.codeHashes) stack.push({ kind: SNAPSHOT_ITEM.code, hash: h, account: false });
    };
    /** Items this store lacks, taken from the top of the stack (those it holds are walked at once). */
    let toFetch: Wanted[] = [];

    while (stack.length > 0 || toFetch.length > 0 || this.#inFlight.size > 0) {
      // Requests to every free peer, each filled from the top of the stack (items this store already
      // holds are walked here at once, not asked for).
      for (;;) {
        while (stack.length > 0 && toFetch.length < perRequest) {
          const group = stack.splice(Math.max(0, stack.length - perRequest), perRequest).reverse();
          const held = await this.#o.kv.getMany(group.map(storeKey));
          group.forEach((w, i) => {
            const v = held[i];
            if (v === undefined) toFetch.push(w);
            else {
              local++;
              take(w, v);
            }
          });
        }
        if (toFetch.length === 0) break;
        const peer = this.#freePeer(peers, toFetch[0]!, missing);
        if (peer === undefined) break;
        const items = toFetch.slice(0, perRequest);
        toFetch = toFetch.slice(items.length);
        const id = this.#nextId++;
        this.#inFlight.set(id, { peer, items, sentAt: this.#clock.now() });
        const refs: SnapshotItemRef[] = items.map((w) => ({ kind: w.kind, hash: w.hash }));
        if (!this.#o.send(peer, { type: 'SnapshotRequest', id, seq: 0, items: refs })) {
          this.#inFlight.delete(id);
          toFetch.unshift(...items);
          this.#slow.add(peer);
          break;
        }
      }
      if (this.#inFlight.size === 0) {
        if (toFetch.length > 0) {
          const hash = toHex(toFetch[0]!.hash);
          throw new BulwarkError('SNAPSHOT_UNAVAILABLE', `no peer left holds state item ${hash}`, { hash, faulty: [...this.#faulty] });
        }
        continue;
      }
      await this.#nextAnswer(timeout);
      // Answers: each item checked against the hash that named it.
      for (const a of this.#answers.splice(0)) {
        const f = this.#inFlight.get(a.id);
        if (f === undefined) continue;
        this.#inFlight.delete(a.id);
        let wrong = a.items.length !== f.items.length;
        const back: Wanted[] = [];
        for (let i = 0; i < f.items.length && !wrong; i++) {
          const w = f.items[i]!;
          const v = a.items[i]!;
          if (v.length === 0) {
            const key = toHex(w.hash);
            const set = missing.get(key) ?? new Set<number>();
            set.add(a.peer);
            missing.set(key, set);
            back.push(w);
            continue;
          }
          if (!equalBytes(keccak256(v), w.hash)) {
            wrong = true;
            break;
          }
          missing.delete(toHex(w.hash));
          fetched++;
          bytes += v.length;
          batch.push({ type: 'put', key: storeKey(w), value: v });
          batchBytes += v.length;
          take(w, v);
        }
        if (wrong) {
          // Everything it sent is suspect: asked again elsewhere (what it sent right is rewritten).
          this.#o.log.warn({ peer: a.peer }, 'a peer served a snapshot item that does not match its hash: dropped for this snapshot');
          this.#faulty.add(a.peer);
          toFetch.push(...f.items);
        } else toFetch.push(...back);
      }
      // Requests unanswered for too long: asked of another peer.
      const now = this.#clock.now();
      for (const [id, f] of this.#inFlight) {
        if (now - f.sentAt < timeout) continue;
        this.#inFlight.delete(id);
        this.#o.log.warn({ peer: f.peer, items: f.items.length }, 'a peer did not answer a snapshot request in time: asking the others');
        this.#slow.add(f.peer);
        toFetch.push(...f.items);
      }
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await this.#o.kv.write(batch);
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length > 0) await this.#o.kv.write(batch);
    return { fetched, bytes, local };
  }

  /**
   * A peer with no request in flight, not faulty, that has not said it lacks `first`; one that was
   * slow to answer only when no other is left.
   */
  #freePeer(peers: readonly number[], first: Wanted, missing: ReadonlyMap<string, ReadonlySet<number>>): number | undefined {
    const busy = new Set([...this.#inFlight.values()].map((f) => f.peer));
    const lacking = missing.get(toHex(first.hash));
    const usable = peers.filter((p) => !this.#faulty.has(p) && !(lacking?.has(p) ?? false));
    const prompt = usable.filter((p) => !this.#slow.has(p));
    const candidates = prompt.length > 0 ? prompt : usable;
    return candidates.find((p) => !busy.has(p));
  }

  #nextAnswer(timeoutMs: number): Promise<void> {
    if (this.#answers.length > 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        cancel();
        this.#itemWaiter = null;
        resolve();
      };
      const cancel = this.#clock.after(timeoutMs, done);
      this.#itemWaiter = done;
    });
  }

  // ---- 3. install -------------------------------------------------------------------------------

  async #install(image: CheckpointImage, block: VerifiedBlock, headers: readonly Uint8Array[]): Promise<void> {
    const blocks = new BlockStore(this.#o.kv, this.#o.common);
    await blocks.open();
    const pages = new ReservedPages(this.#o.kv);
    const ops: BatchOp[] = [];
    for (const raw of headers) ops.push(...blocks.putHeaderOps(raw));
    ops.push(...blocks.putBlockOps(block.block, block.receipts, block.rawTxs));
    ops.push(...(await pages.installOps(image)));
    ops.push(blocks.snapshotBaseOp({ seq: image.seq, blockNumber: image.summary.blockNumber, blockHash: image.summary.blockHash }));
    // Below the snapshot there is no state and no ordered batch: reads there are refused as pruned
    // (STATE_PRUNED), and catch-up, the ledger check and pruning start after it.
    ops.push(stateFromOp(BigInt(image.summary.blockNumber)), batchesFromOp(image.seq + 1));
    await this.#o.kv.write(ops, { sync: true });
  }
}

/** The store key of an item: a trie node under its hash, code under 'c' ‖ its hash (ethereumjs' layout). */
function storeKey(w: Wanted): Uint8Array {
  return stateItemKey(w.kind === SNAPSHOT_ITEM.code, w.hash);
}

/** The headers must be the consecutive ancestors of `block`, oldest first, each the parent of the next. */
function checkHeaderChain(blocks: BlockStore, headers: readonly Uint8Array[], block: VerifiedBlock): void {
  let child = block.block.header;
  for (let i = headers.length - 1; i >= 0; i--) {
    const raw = headers[i]!;
    const hash = keccak256(raw);
    if (!equalBytes(hash, child.parentHash)) throw new BulwarkError('BLOCK_INVALID', `header ${i} is not the parent of block ${child.number}`);
    child = blocks.decodeHeader(raw);
  }
  const expected = Math.min(256, Number(block.block.header.number));
  if (headers.length !== expected) throw new BulwarkError('BLOCK_INVALID', `${headers.length} headers before block ${block.block.header.number}, expected ${expected}`);
}
