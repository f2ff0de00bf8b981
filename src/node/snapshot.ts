/**
 * The replica's composition root fetching a snapshot (ARCHITECTURE "Snapshots"), while nothing else
 * runs on its store: a transport of its own, pinned as the store's key history says, carries the
 * requests and answers of `SnapshotSync` (`replica/snapshot-sync.ts`), and is closed before the
 * replica starts again on what was installed. Peers fetching a snapshot at the same moment (a whole
 * network starting) are told this replica has none to give.
 */
import type { Logger } from 'pino';
import { decodeMessage, encodeMessage } from '../codec/message-codec.ts';
import { nodeKeyBookFor } from '../consensus/bls-crypto.ts';
import { Executor } from '../execution/executor.ts';
import { ReservedPages } from '../ledger/reserved-pages.ts';
import type { Transport } from '../net/transport.ts';
import { SnapshotSync, type SnapshotOutcome, type SnapshotSyncOptions } from '../replica/snapshot-sync.ts';
import type { ReplicaMaterial } from '../setup/node-directory.ts';
import type { KvStore } from '../storage/index.ts';

export interface FetchSnapshotOptions {
  readonly kv: KvStore;
  readonly material: ReplicaMaterial;
  readonly log: Logger;
  /** Only a checkpoint at least this many batches past what the store executed is installed. */
  readonly minGain: number;
  /** The replica's transport for this key history and point (`ReplicaProcess`): built once, started here, closed here. */
  readonly transportFor: (book: ReturnType<typeof nodeKeyBookFor>, lastExecuted: number) => { transport: Transport };
  /**
   * The fetch's clock and sizes, when not the defaults: the deterministic simulator runs this phase
   * on its simulated clock and network (a `SimTransport` from `transportFor`), with small requests.
   */
  readonly tuning?: Pick<SnapshotSyncOptions, 'clock' | 'manifestWaitMs' | 'requestTimeoutMs' | 'itemsPerRequest'>;
}

export async function fetchSnapshot(o: FetchSnapshotOptions): Promise<SnapshotOutcome> {
  const network = o.material.network;
  // Opened for its chain config and genesis (a new store gets them here), closed before installing.
  const executor = await Executor.open({ kv: o.kv, config: network.chainConfig });
  const pages = await new ReservedPages(o.kv).read();
  const lastExecuted = pages.progress?.lastExecuted ?? 0;
  // The TLS keys as the store's reserved pages know them (a replica far behind knows some).
  const book = nodeKeyBookFor(network);
  for (const k of pages.nodeKeys) if (book.problem(k) === null) book.add(k);
  const { transport } = o.transportFor(book, lastExecuted);
  const self = o.material.id;
  const sync = new SnapshotSync({
    kv: o.kv,
    common: executor.common,
    log: o.log,
    peers: network.replicas.map((r) => r.id).filter((id) => id !== self),
    f: network.f,
    send: (peer, m) => transport.send(peer, encodeMessage(m)),
    lastExecuted,
    minGain: o.minGain,
    ...o.tuning,
  });
  transport.onFrame((from, frame) => {
    let m;
    try {
      m = decodeMessage(frame);
    } catch {
      return;
    }
    if (m.type === 'SnapshotManifest') sync.onManifest(from, m);
    else if (m.type === 'SnapshotItems') sync.onItems(from, m.id, m.items);
    else if (m.type === 'SnapshotRequest' && from < network.replicas.length) {
      const none = m.items.length === 0 ? { type: 'SnapshotManifest' as const, id: m.id, image: new Uint8Array(), headers: [], block: null } : { type: 'SnapshotItems' as const, id: m.id, items: m.items.map(() => new Uint8Array()) };
      transport.send(from, encodeMessage(none));
    }
  });
  await transport.start();
  try {
    const outcome = await sync.run();
    if (!outcome.installed) o.log.info({ reason: outcome.reason, lastExecuted }, 'no snapshot taken: replaying the batches instead');
    return outcome;
  } finally {
    await transport.close();
  }
}
