/**
 * The client node's Prometheus metrics (served by `common/metrics-server.ts`): JSON-RPC calls by
 * method and outcome, requests to the replicas that failed, and — read when scraped — the pool,
 * the mirror's head and refusals, invalid read answers, and every replica link.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerSnapshotGauges } from '../common/metrics-server.ts';
import { registerPeerGauges, registerTransportGauges, type TransportCounterView } from '../net/metrics.ts';
import type { PeerStats } from '../net/transport.ts';

export interface ClientGauges {
  readonly poolPending: number;
  readonly poolQueued: number;
  /** Transactions the pool dropped without ordering them, by why (`EvictionReason`). */
  readonly poolEvicted: Readonly<Record<string, number>>;
  /** Transactions the pool refused, by the refusal's code (`PoolErrorCode`). */
  readonly poolRefused: Readonly<Record<string, number>>;
  /** Pending transactions the pool takes now (its bound in time, within the global limit). */
  readonly poolPendingBound: number;
  /** The rate (transactions/s) at which the pool's transactions are being included, as the bound uses it. */
  readonly poolDrainRate: number;
  /** Block notices the mirror refused: beyond its window above the head or a replica's share, or a second hash for a number. */
  readonly mirrorNoticesRefused: number;
  /** Writes to the node's stores that failed (a full disk), by store: each is tried again. */
  readonly storeWriteFailures: Readonly<Record<'mirror' | 'local_state' | 'records' | 'request_numbers' | 'txpool_journal', number>>;
  readonly headBlock: number;
  readonly mirrorRejected: number;
  readonly invalidReadReplies: number;
  readonly keyRecordsRefused: number;
  /** The last block this node executed itself (-1: no local state). */
  readonly localStateHead: number;
  /** 1 once a certified block did not execute to its certified hash here. */
  readonly localStateDiverged: number;
  readonly localReads: number;
  /** Blocks the local state made its head by applying their state changes, and by executing them. */
  readonly localBlocks: Readonly<Record<'applied' | 'executed', number>>;
  readonly localChangesRefused: number;
  readonly forwardedReads: number;
  readonly peers: readonly PeerStats[];
  readonly transport: TransportCounterView;
}

export class ClientMetrics {
  readonly registry = new Registry();
  readonly rpcCalls: Counter<'method' | 'outcome'>;
  readonly rpcSeconds: Histogram<'method'>;
  readonly requestsFailed: Counter;
  readonly rpcRefused: Counter<'reason'>;
  readonly evmTimeouts: Counter<'where'>;
  readonly journalRestored: Counter;
  readonly journalDropped: Counter;

  constructor(read: () => ClientGauges) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'bulwark_' });
    this.rpcCalls = new Counter({
      name: 'bulwark_rpc_calls_total',
      help: 'JSON-RPC calls, by method ("unknown" for methods that do not exist) and outcome ("ok" or the error code)',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.rpcSeconds = new Histogram({
      name: 'bulwark_rpc_call_duration_seconds',
      help: 'JSON-RPC call time, from parsing to the answer, by method ("unknown" for methods that do not exist)',
      labelNames: ['method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.rpcRefused = new Counter({
      name: 'bulwark_rpc_refused_total',
      help: 'JSON-RPC requests or calls refused by the endpoint, by reason (auth_missing, auth_invalid, method_not_allowed, cors_origin, rate_limit, body_size, batch_size, ws_connections, ws_slow_reader)',
      labelNames: ['reason'],
      registers,
    });
    this.evmTimeouts = new Counter({
      name: 'bulwark_rpc_evm_timeouts_total',
      help: 'EVM calls (eth_call, eth_estimateGas, debug_trace*) stopped by their deadline (--rpc-evmtimeout), while waiting for a place or while running',
      labelNames: ['where'],
      registers,
    });
    this.requestsFailed = new Counter({ name: 'bulwark_client_requests_failed_total', help: 'Requests to the replicas not committed in time (their transactions wait again)', registers });
    this.journalRestored = new Counter({
      name: 'bulwark_txpool_journal_restored_total',
      help: 'Transactions of the pool journal accepted into the pool again at start (submitted as usual)',
      registers,
    });
    this.journalDropped = new Counter({
      name: 'bulwark_txpool_journal_dropped_total',
      help: 'Transactions of the pool journal dropped at start: already in a block, or refused now (nonce too low, funds)',
      registers,
    });
    registerSnapshotGauges(this.registry, read, [
      ['bulwark_txpool_pending', 'Transactions ready or being ordered', (g) => g.poolPending],
      ['bulwark_txpool_queued', 'Transactions waiting behind a nonce gap', (g) => g.poolQueued],
      ['bulwark_txpool_pending_bound', 'Pending transactions the pool takes now: --txpool-max-wait seconds of its inclusion rate, within the global limit', (g) => g.poolPendingBound],
      ['bulwark_txpool_inclusion_rate', "Transactions/s at which the pool's transactions are being included (the mean over the last 20 s)", (g) => g.poolDrainRate],
      ['bulwark_chain_block_number', "The verified mirror's head block", (g) => g.headBlock],
      ['bulwark_mirror_rejected', 'Block notices or block data the mirror refused', (g) => g.mirrorRejected],
      ['bulwark_mirror_notices_refused', 'Block notices refused: beyond head + 1,024, beyond the 16 latest numbers per replica, or a second hash for a number', (g) => g.mirrorNoticesRefused],
      ['bulwark_reads_invalid_replies', 'Read answers with a bad signature or shape', (g) => g.invalidReadReplies],
      ['bulwark_key_records_refused', 'Key records or operator states reported by f + 1 replicas that did not decode or verify', (g) => g.keyRecordsRefused],
      ['bulwark_local_state_block_number', 'The last certified block this node executed itself (-1: no local state)', (g) => g.localStateHead],
      ['bulwark_local_state_diverged', '1 once a certified block did not execute here to its certified hash (reads then go to the replicas)', (g) => g.localStateDiverged],
      ['bulwark_local_state_changes_refused_total', 'Blocks whose state changes (sent by a replica) did not lead to the certified state root here; each was executed instead', (g) => g.localChangesRefused],
      ['bulwark_reads_local_total', 'State reads answered from this node\'s own state', (g) => g.localReads],
      ['bulwark_reads_forwarded_total', 'State reads sent to the replicas because the local state had not reached the block or had stopped', (g) => g.forwardedReads],
    ]);
    registerPeerGauges(this.registry, () => read().peers);
    registerTransportGauges(this.registry, () => read().transport);
    new Gauge({
      name: 'bulwark_store_write_failures_total',
      help: 'Writes to the client node\'s stores that failed (e.g. a full disk), by store (mirror, local_state, records, request_numbers, txpool_journal); each is tried again',
      labelNames: ['store'],
      registers,
      collect() {
        for (const [store, n] of Object.entries(read().storeWriteFailures)) this.set({ store }, n);
      },
    });
    new Gauge({
      name: 'bulwark_local_state_blocks_total',
      help: 'Certified blocks the local state followed, by how: applied (their state changes, checked against the state root) or executed',
      labelNames: ['how'],
      registers,
      collect() {
        for (const [how, n] of Object.entries(read().localBlocks)) this.set({ how }, n);
      },
    });
    new Gauge({
      name: 'bulwark_txpool_evicted_total',
      help: 'Transactions the pool dropped without ordering them, by reason (lifetime, account_queue, global_queue, global_pending)',
      labelNames: ['reason'],
      registers,
      collect() {
        for (const [reason, n] of Object.entries(read().poolEvicted)) this.set({ reason }, n);
      },
    });
    new Gauge({
      name: 'bulwark_txpool_refused_total',
      help: 'Transactions the pool refused, by code (TXPOOL_FULL, TXPOOL_NONCE_TOO_LOW, TXPOOL_INVALID, ...)',
      labelNames: ['code'],
      registers,
      collect() {
        for (const [code, n] of Object.entries(read().poolRefused)) this.set({ code }, n);
      },
    });
  }
}
