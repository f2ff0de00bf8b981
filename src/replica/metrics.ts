/**
 * The replica's Prometheus metrics (served by `common/metrics-server.ts`). Counters are fed by the
 * shell from the state machine's `reject` and `event` outputs; gauges are read when scraped.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { registerSnapshotGauges } from '../common/metrics-server.ts';
import { registerPeerGauges, registerTransportGauges, type TransportCounterView } from '../net/metrics.ts';
import type { PeerStats } from '../net/transport.ts';
import type { StoreMemory } from '../storage/index.ts';

export interface ReplicaGauges {
  readonly view: number;
  readonly active: boolean;
  readonly lastExecuted: number;
  readonly lastStable: number;
  readonly blockNumber: number;
  readonly peers: readonly PeerStats[];
  readonly transport: TransportCounterView;
  /** RocksDB's native memory by use (`StoreMemory`). */
  readonly store: StoreMemory | null;
  /** The executor's trie-node cache: estimated bytes. */
  readonly trieCacheBytes: number;
}

export class ReplicaMetrics {
  readonly registry = new Registry();
  readonly rejected: Counter<'reason'>;
  readonly committed: Counter<'path'>;
  readonly viewChanges: Counter;
  readonly undecodable: Counter;
  readonly notSent: Counter<'type'>;
  readonly penalties: Counter<'reason'>;
  /** Wall time of executing one committed batch that carried transactions, storing included. */
  readonly executionSeconds: Histogram;
  readonly blocks: Counter;
  readonly transactions: Counter;
  readonly gasUsed: Counter;
  /** Snapshot requests answered for joining replicas, by part (manifest, items). */
  readonly snapshotServed: Counter<'part'>;

  constructor(read: () => ReplicaGauges) {
    const registers = [this.registry];
    this.rejected = new Counter({ name: 'bulwark_consensus_rejected_total', help: 'Inputs refused, by reason', labelNames: ['reason'], registers });
    this.committed = new Counter({ name: 'bulwark_consensus_committed_total', help: 'Sequence numbers committed, by path', labelNames: ['path'], registers });
    this.viewChanges = new Counter({ name: 'bulwark_consensus_view_changes_total', help: 'View changes started', registers });
    this.undecodable = new Counter({ name: 'bulwark_net_undecodable_frames_total', help: 'Frames that did not decode', registers });
    this.penalties = new Counter({
      name: 'bulwark_peer_penalties_total',
      help: 'Peers cut off for a while for sending invalid messages, by the reason of the last one',
      labelNames: ['reason'],
      registers,
    });
    this.notSent = new Counter({
      name: 'bulwark_consensus_messages_not_sent_total',
      help: 'Messages the transport refused for a peer (its queue full, or the frame too large), by type',
      labelNames: ['type'],
      registers,
    });
    this.executionSeconds = new Histogram({
      name: 'bulwark_execution_batch_duration_seconds',
      help: 'Time to execute one committed batch carrying transactions and store its block, atomically',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.blocks = new Counter({ name: 'bulwark_execution_blocks_total', help: 'Blocks this replica executed and stored', registers });
    this.transactions = new Counter({ name: 'bulwark_execution_transactions_total', help: 'Transactions included in the blocks this replica executed', registers });
    this.gasUsed = new Counter({ name: 'bulwark_execution_gas_used_total', help: 'Gas used by the blocks this replica executed', registers });
    this.snapshotServed = new Counter({
      name: 'bulwark_snapshot_served_total',
      help: 'Snapshot requests of joining replicas answered, by part (manifest, items)',
      labelNames: ['part'],
      registers,
    });
    registerSnapshotGauges(this.registry, read, [
      ['bulwark_consensus_view', 'Current view', (g) => g.view],
      ['bulwark_consensus_view_active', '1 when the view is active, 0 during a view change', (g) => (g.active ? 1 : 0)],
      ['bulwark_consensus_last_executed', 'Last executed sequence number', (g) => g.lastExecuted],
      ['bulwark_consensus_last_stable', 'Last stable checkpoint', (g) => g.lastStable],
      ['bulwark_chain_block_number', 'Head block number', (g) => g.blockNumber],
      ['bulwark_trie_cache_bytes', "The executor's trie-node cache: estimated memory of its entries", (g) => g.trieCacheBytes],
      ['bulwark_store_memtables_bytes', "RocksDB's memtables", (g) => g.store?.memtables ?? 0],
      ['bulwark_store_pinned_memtables_bytes', "RocksDB's flushed memtables still held by an open iterator or snapshot", (g) => g.store?.pinnedMemtables ?? 0],
      ['bulwark_store_table_readers_bytes', "RocksDB's table readers (index and filter blocks outside the block cache)", (g) => g.store?.tableReaders ?? 0],
      ['bulwark_store_block_cache_bytes', "RocksDB's block cache in use", (g) => g.store?.blockCache ?? 0],
    ]);
    registerPeerGauges(this.registry, () => read().peers);
    registerTransportGauges(this.registry, () => read().transport);
  }
}
