/**
 * Writes the Grafana dashboards of `deploy/grafana/dashboards/` (run: `node --import tsx
 * scripts/grafana-dashboards.ts`, then commit the JSON). The panels are data here so that every
 * dashboard has the same variables, layout and data source, and so a query is written once;
 * `test/e2e/deploy-dashboards.test.ts` checks that every metric a query names is one a running
 * node serves. Edit here, not in the JSON (or export from Grafana and port the change back).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Target {
  readonly expr: string;
  readonly legend: string;
}

interface Panel {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly targets: readonly Target[];
  /** Grid width in Grafana's 24 columns (default 12). */
  readonly width?: number;
  readonly kind?: 'timeseries' | 'stat';
}

interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly panels: readonly Panel[];
}

/** Every query narrows to the instances chosen in the dashboard's `instance` variable. */
const I = 'instance=~"$instance"';
const RATE = '$__rate_interval';

const consensus: Dashboard = {
  uid: 'bulwark-consensus',
  title: 'Bulwark — consensus',
  description: 'SBFT on the replicas: views and view changes, commits by path, checkpoints, refusals, links.',
  panels: [
    { title: 'View', description: 'Current view per replica (the primary is view mod n)', unit: 'none', kind: 'stat', width: 8, targets: [{ expr: `max by (instance) (bulwark_consensus_view{${I}})`, legend: '{{instance}}' }] },
    { title: 'View active', description: '1 while the view is active, 0 during a view change', unit: 'none', kind: 'stat', width: 8, targets: [{ expr: `bulwark_consensus_view_active{${I}}`, legend: '{{instance}}' }] },
    { title: 'View changes (last hour)', description: 'View changes each replica started in the last hour', unit: 'none', kind: 'stat', width: 8, targets: [{ expr: `increase(bulwark_consensus_view_changes_total{${I}}[1h])`, legend: '{{instance}}' }] },
    { title: 'Commit rate by path', description: 'Sequence numbers committed per second, summed over replicas, by path: fast (n − c shares), slow (prepare + commit), catch-up, new-view', unit: 'ops', targets: [{ expr: `sum by (path) (rate(bulwark_consensus_committed_total{${I}}[${RATE}]))`, legend: '{{path}}' }] },
    {
      title: 'Fast-path share',
      description: 'Of the slots committed by the fast or slow path, the share that took the fast path (falls when a replica is slow or down)',
      unit: 'percentunit',
      targets: [{ expr: `sum(rate(bulwark_consensus_committed_total{${I},path="fast"}[${RATE}])) / sum(rate(bulwark_consensus_committed_total{${I},path=~"fast|slow"}[${RATE}]))`, legend: 'fast share' }],
    },
    { title: 'View changes', description: 'View changes started per second, per replica', unit: 'ops', targets: [{ expr: `rate(bulwark_consensus_view_changes_total{${I}}[${RATE}])`, legend: '{{instance}}' }] },
    {
      title: 'Checkpoint lag',
      description: 'Sequence numbers executed beyond the last stable checkpoint (normally below the checkpoint interval, 150; ordering stops at the window, 300)',
      unit: 'none',
      targets: [{ expr: `bulwark_consensus_last_executed{${I}} - bulwark_consensus_last_stable{${I}}`, legend: '{{instance}}' }],
    },
    {
      title: 'Behind the most advanced replica',
      description: 'Sequence numbers this replica has yet to execute to reach the furthest one (catching up after a restart or a partition)',
      unit: 'none',
      targets: [{ expr: `scalar(max(bulwark_consensus_last_executed)) - bulwark_consensus_last_executed{${I}}`, legend: '{{instance}}' }],
    },
    { title: 'Last executed and stable', description: 'Sequence numbers', unit: 'none', targets: [
      { expr: `bulwark_consensus_last_executed{${I}}`, legend: 'executed {{instance}}' },
      { expr: `bulwark_consensus_last_stable{${I}}`, legend: 'stable {{instance}}' },
    ] },
    { title: 'Inputs refused', description: 'Consensus inputs refused per second, by reason', unit: 'ops', targets: [{ expr: `sum by (reason) (rate(bulwark_consensus_rejected_total{${I}}[${RATE}]))`, legend: '{{reason}}' }] },
    { title: 'Messages not sent', description: 'Messages the transport refused (queue full, frame too large), by type', unit: 'ops', targets: [{ expr: `sum by (type) (rate(bulwark_consensus_messages_not_sent_total{${I}}[${RATE}]))`, legend: '{{type}}' }] },
    { title: 'Peer links up', description: 'Links up per node (a replica has n − 1 + client nodes, a client node n)', unit: 'none', targets: [{ expr: `sum by (instance) (bulwark_net_peer_connected{${I}})`, legend: '{{instance}}' }] },
    { title: 'Peers penalised', description: 'Peers cut off for invalid messages, by reason', unit: 'none', targets: [{ expr: `sum by (reason) (increase(bulwark_peer_penalties_total{${I}}[${RATE}]))`, legend: '{{reason}}' }] },
  ],
};

const execution: Dashboard = {
  uid: 'bulwark-execution',
  title: 'Bulwark — execution',
  description: 'Blocks, transactions and gas executed on the replicas; the client nodes’ mirror, local state and pool.',
  panels: [
    { title: 'Transactions per second', description: 'Transactions included in blocks, per replica', unit: 'ops', targets: [{ expr: `rate(bulwark_execution_transactions_total{${I}}[${RATE}])`, legend: '{{instance}}' }] },
    { title: 'Gas per second', description: 'Gas used by executed blocks, per replica', unit: 'short', targets: [{ expr: `rate(bulwark_execution_gas_used_total{${I}}[${RATE}])`, legend: '{{instance}}' }] },
    { title: 'Blocks per second', description: 'Blocks made (a block per committed batch carrying a valid transaction)', unit: 'ops', targets: [{ expr: `rate(bulwark_execution_blocks_total{${I}}[${RATE}])`, legend: '{{instance}}' }] },
    {
      title: 'Block time (mean interval)',
      description: 'Seconds between blocks while blocks are made (a chain with no transactions makes none)',
      unit: 's',
      targets: [{ expr: `1 / (rate(bulwark_execution_blocks_total{${I}}[${RATE}]) > 0)`, legend: '{{instance}}' }],
    },
    {
      title: 'Batch execution time',
      description: 'Time to execute a committed batch and store its block atomically: median and 99th percentile over replicas',
      unit: 's',
      targets: [
        { expr: `histogram_quantile(0.5, sum by (le) (rate(bulwark_execution_batch_duration_seconds_bucket{${I}}[${RATE}])))`, legend: 'p50' },
        { expr: `histogram_quantile(0.99, sum by (le) (rate(bulwark_execution_batch_duration_seconds_bucket{${I}}[${RATE}])))`, legend: 'p99' },
        { expr: `sum(rate(bulwark_execution_batch_duration_seconds_sum{${I}}[${RATE}])) / sum(rate(bulwark_execution_batch_duration_seconds_count{${I}}[${RATE}]))`, legend: 'mean' },
      ],
    },
    { title: 'Transactions per block', description: 'Mean over the interval', unit: 'none', targets: [{ expr: `rate(bulwark_execution_transactions_total{${I}}[${RATE}]) / (rate(bulwark_execution_blocks_total{${I}}[${RATE}]) > 0)`, legend: '{{instance}}' }] },
    { title: 'Head block', description: 'Replicas: their executed head; client nodes: the verified mirror’s head', unit: 'none', targets: [{ expr: `bulwark_chain_block_number{${I}}`, legend: '{{instance}}' }] },
    {
      title: 'Client node: own state behind its mirror',
      description: 'Certified blocks the client node has not executed itself yet (reads wait or go to the replicas meanwhile)',
      unit: 'none',
      targets: [{ expr: `bulwark_chain_block_number{${I}} - on(instance) bulwark_local_state_block_number{${I}}`, legend: '{{instance}}' }],
    },
    { title: 'Transaction pool', description: 'Pending (ready or being ordered) and queued (behind a nonce gap)', unit: 'none', targets: [
      { expr: `bulwark_txpool_pending{${I}}`, legend: 'pending {{instance}}' },
      { expr: `bulwark_txpool_queued{${I}}`, legend: 'queued {{instance}}' },
    ] },
    { title: 'Pool evictions', description: 'Transactions the pool dropped without ordering them, by reason', unit: 'none', targets: [{ expr: `sum by (reason) (bulwark_txpool_evicted_total{${I}})`, legend: '{{reason}}' }] },
  ],
};

const rpc: Dashboard = {
  uid: 'bulwark-rpc',
  title: 'Bulwark — JSON-RPC',
  description: 'The client nodes’ JSON-RPC endpoint: calls, errors and latency by method; refusals.',
  panels: [
    { title: 'Calls per second by method', description: 'Every call naming a method ("unknown" for methods that do not exist)', unit: 'reqps', width: 24, targets: [{ expr: `sum by (method) (rate(bulwark_rpc_calls_total{${I}}[${RATE}]))`, legend: '{{method}}' }] },
    { title: 'Errors per second by method and code', description: 'Calls answered with an error, by method and JSON-RPC error code', unit: 'reqps', targets: [{ expr: `sum by (method, outcome) (rate(bulwark_rpc_calls_total{${I},outcome!="ok"}[${RATE}]))`, legend: '{{method}} {{outcome}}' }] },
    {
      title: 'Error ratio',
      description: 'Share of calls answered with an error (many are the caller’s: reverts, nonce too low; -32603 is ours)',
      unit: 'percentunit',
      targets: [{ expr: `sum(rate(bulwark_rpc_calls_total{${I},outcome!="ok"}[${RATE}])) / sum(rate(bulwark_rpc_calls_total{${I}}[${RATE}]))`, legend: 'errors' }],
    },
    { title: 'Latency p99 by method', description: '99th percentile of call time, from parsing to the answer', unit: 's', targets: [{ expr: `histogram_quantile(0.99, sum by (le, method) (rate(bulwark_rpc_call_duration_seconds_bucket{${I}}[${RATE}])))`, legend: '{{method}}' }] },
    { title: 'Latency p50 by method', description: 'Median call time', unit: 's', targets: [{ expr: `histogram_quantile(0.5, sum by (le, method) (rate(bulwark_rpc_call_duration_seconds_bucket{${I}}[${RATE}])))`, legend: '{{method}}' }] },
    {
      title: 'Mean latency by method',
      description: 'Total call time over calls',
      unit: 's',
      targets: [{ expr: `sum by (method) (rate(bulwark_rpc_call_duration_seconds_sum{${I}}[${RATE}])) / sum by (method) (rate(bulwark_rpc_call_duration_seconds_count{${I}}[${RATE}]))`, legend: '{{method}}' }],
    },
    { title: 'Requests refused', description: 'Refused by the endpoint before any method ran, by reason (auth, CORS, rate limit, sizes, WebSocket limits, EVM busy)', unit: 'reqps', targets: [{ expr: `sum by (reason) (rate(bulwark_rpc_refused_total{${I}}[${RATE}]))`, legend: '{{reason}}' }] },
    { title: 'EVM timeouts', description: 'Calls stopped at their deadline, waiting or running', unit: 'ops', targets: [{ expr: `sum by (where) (rate(bulwark_rpc_evm_timeouts_total{${I}}[${RATE}]))`, legend: '{{where}}' }] },
    { title: 'Requests to the replicas not committed in time', description: 'Their transactions wait in the pool again', unit: 'ops', targets: [{ expr: `rate(bulwark_client_requests_failed_total{${I}}[${RATE}])`, legend: '{{instance}}' }] },
    { title: 'State reads: local vs replicas', description: 'Reads answered from the node’s own state, and those sent to the replicas', unit: 'ops', targets: [
      { expr: `rate(bulwark_reads_local_total{${I}}[${RATE}])`, legend: 'local {{instance}}' },
      { expr: `rate(bulwark_reads_forwarded_total{${I}}[${RATE}])`, legend: 'forwarded {{instance}}' },
    ] },
  ],
};

const nodes: Dashboard = {
  uid: 'bulwark-nodes',
  title: 'Bulwark — nodes',
  description: 'Every node process: CPU, heap, RSS, event loop, RocksDB memory, disk, network.',
  panels: [
    { title: 'Scrape up', description: '1 when Prometheus reached the node’s /metrics', unit: 'none', kind: 'stat', width: 24, targets: [{ expr: `up{${I}}`, legend: '{{instance}}' }] },
    { title: 'CPU', description: 'CPU seconds per second (1 = one core)', unit: 'none', targets: [{ expr: `rate(bulwark_process_cpu_seconds_total{${I}}[${RATE}])`, legend: '{{instance}}' }] },
    { title: 'Resident memory (RSS)', description: 'Resident set size of the process', unit: 'bytes', targets: [{ expr: `bulwark_process_resident_memory_bytes{${I}}`, legend: '{{instance}}' }] },
    { title: 'V8 heap used', description: 'Heap used; the launchers cap old space at 768 MB', unit: 'bytes', targets: [
      { expr: `bulwark_nodejs_heap_size_used_bytes{${I}}`, legend: 'used {{instance}}' },
      { expr: `bulwark_nodejs_heap_size_total_bytes{${I}}`, legend: 'total {{instance}}' },
    ] },
    { title: 'Event loop lag p99', description: 'How late the event loop runs what is due (consensus steps wait behind it)', unit: 's', targets: [{ expr: `bulwark_nodejs_eventloop_lag_p99_seconds{${I}}`, legend: '{{instance}}' }] },
    { title: 'GC time', description: 'Seconds per second spent in garbage collection, by kind', unit: 'percentunit', targets: [{ expr: `sum by (instance, kind) (rate(bulwark_nodejs_gc_duration_seconds_sum{${I}}[${RATE}]))`, legend: '{{instance}} {{kind}}' }] },
    { title: 'RocksDB memory (replicas)', description: 'Memtables, block cache and table readers', unit: 'bytes', targets: [
      { expr: `bulwark_store_memtables_bytes{${I}}`, legend: 'memtables {{instance}}' },
      { expr: `bulwark_store_block_cache_bytes{${I}}`, legend: 'block cache {{instance}}' },
      { expr: `bulwark_store_table_readers_bytes{${I}}`, legend: 'table readers {{instance}}' },
    ] },
    { title: 'Database size on disk', description: 'Bytes of each database’s files (data: the ledger; state: a client node’s own state)', unit: 'bytes', targets: [{ expr: `bulwark_store_disk_bytes{${I}}`, legend: '{{instance}} {{store}}' }] },
    { title: 'Disk free', description: 'Free share of the filesystem holding the node directory', unit: 'percentunit', targets: [{ expr: `bulwark_disk_free_bytes{${I}} / bulwark_disk_size_bytes{${I}}`, legend: '{{instance}}' }] },
    {
      title: 'Disk: hours until full',
      description: 'At the last 6 hours’ rate of filling (empty while the disk is not filling)',
      unit: 'h',
      targets: [{ expr: `(bulwark_disk_free_bytes{${I}} / -deriv(bulwark_disk_free_bytes{${I}}[6h]) > 0) / 3600`, legend: '{{instance}}' }],
    },
    { title: 'Network out', description: 'Bytes per second sent to peers', unit: 'Bps', targets: [{ expr: `sum by (instance) (rate(bulwark_net_bytes_sent{${I}}[${RATE}]))`, legend: '{{instance}}' }] },
    { title: 'Network in', description: 'Bytes per second received from peers', unit: 'Bps', targets: [{ expr: `sum by (instance) (rate(bulwark_net_bytes_received{${I}}[${RATE}]))`, legend: '{{instance}}' }] },
  ],
};

/** Grafana's dashboard model (schemaVersion 39): a data source variable, an instance variable, panels in rows of 24 columns. */
function render(d: Dashboard): unknown {
  const ds = { type: 'prometheus', uid: '${datasource}' };
  let x = 0;
  let y = 0;
  const panels = d.panels.map((p, i) => {
    const w = p.width ?? 12;
    const h = p.kind === 'stat' ? 5 : 8;
    if (x + w > 24) {
      x = 0;
      y += 8;
    }
    const gridPos = { x, y, w, h };
    x += w;
    return {
      id: i + 1,
      type: p.kind ?? 'timeseries',
      title: p.title,
      description: p.description,
      datasource: ds,
      gridPos,
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      options: p.kind === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'] } } : { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
      targets: p.targets.map((t, j) => ({ datasource: ds, expr: t.expr, legendFormat: t.legend, refId: String.fromCharCode(65 + j) })),
    };
  });
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['bulwark'],
    editable: true,
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {} },
        {
          name: 'instance',
          label: 'Node',
          type: 'query',
          datasource: ds,
          query: { query: 'label_values(bulwark_node_info, instance)', refId: 'instance' },
          definition: 'label_values(bulwark_node_info, instance)',
          refresh: 2,
          multi: true,
          includeAll: true,
          allValue: '.*',
          current: { text: 'All', value: '$__all' },
        },
      ],
    },
    panels,
  };
}

const out = join(import.meta.dirname, '..', 'deploy', 'grafana', 'dashboards');
mkdirSync(out, { recursive: true });
for (const d of [consensus, execution, rpc, nodes]) {
  writeFileSync(join(out, `${d.uid}.json`), `${JSON.stringify(render(d), null, 2)}\n`);
}
