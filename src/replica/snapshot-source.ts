/**
 * What a replica serves of its snapshots (ARCHITECTURE "Snapshots"), beside consensus: the manifest
 * of a checkpoint it keeps an image of — the image, the checkpoint's block and the 256 headers
 * before it — and state items by hash, read from the store as they are (content-addressed: an item
 * is the same at every root that names it, so what is served needs no snapshot of the store).
 * `snapshot-sync.ts` is the other side.
 */
import { encodeCheckpointImage } from '../codec/snapshot.ts';
import { SNAPSHOT_ITEM } from '../codec/snapshot.ts';
import type { SnapshotItemRef, SnapshotManifest } from '../codec/messages.ts';
import type { Executor } from '../execution/executor.ts';
import type { ReservedPages } from '../ledger/reserved-pages.ts';
import type { KvStore } from '../storage/kvstore.ts';
import { stateItemKey } from '../execution/trie-walk.ts';

/** Bytes of items in one answer, at most (a frame may be 16 MiB; items past this are answered as not held). */
const MAX_ANSWER_BYTES = 8 << 20;

export class SnapshotSource {
  readonly #executor: Executor;
  readonly #kv: KvStore;
  readonly #pages: ReservedPages;

  constructor(executor: Executor, kv: KvStore, pages: ReservedPages) {
    this.#executor = executor;
    this.#kv = kv;
    this.#pages = pages;
  }

  /**
   * The manifest of checkpoint `seq`, or with `seq` 0 of the newest kept at or below `stable` (the
   * checkpoints the peers agree on), else the newest kept. An empty image when there is none.
   */
  async manifest(id: number, seq: number, stable: number): Promise<SnapshotManifest> {
    const none: SnapshotManifest = { type: 'SnapshotManifest', id, image: new Uint8Array(), headers: [], block: null };
    const kept = await this.#pages.imageSeqs();
    const chosen = seq > 0 ? (kept.includes(seq) ? seq : undefined) : (kept.filter((k) => k <= stable).at(-1) ?? kept.at(-1));
    if (chosen === undefined) return none;
    const image = await this.#pages.image(chosen);
    if (image === undefined) return none;
    const number = image.summary.blockNumber;
    const block = await this.#executor.blocks.rawByNumber(BigInt(number));
    if (block === undefined) return none;
    const headers: Uint8Array[] = [];
    for (let n = Math.max(0, number - 256); n < number; n++) {
      const h = await this.#executor.blocks.rawHeaderByNumber(BigInt(n));
      if (h === undefined) return none;
      headers.push(h);
    }
    return { type: 'SnapshotManifest', id, image: encodeCheckpointImage(image), headers, block };
  }

  /** The items asked for, in order; an empty one for each not held (or past the answer's size bound). */
  async items(refs: readonly SnapshotItemRef[]): Promise<Uint8Array[]> {
    const keys = refs.map((r) => stateItemKey(r.kind === SNAPSHOT_ITEM.code, r.hash));
    const values = await this.#kv.getMany(keys);
    let bytes = 0;
    return values.map((v) => {
      if (v === undefined || bytes + v.length > MAX_ANSWER_BYTES) return new Uint8Array();
      bytes += v.length;
      return v;
    });
  }
}
