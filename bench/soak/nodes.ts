/**
 * What the harness reads from each node process every sample: its resident memory from the
 * kernel (/proc/<pid>/status VmRSS: the whole process, native allocations such as RocksDB's and
 * BLST's included, which V8's heap figures miss) and, from the node's Prometheus /metrics, its V8
 * heap and consensus progress (prom-client's default metrics carry the prefix `bulwark_`).
 */
import { readFileSync } from 'node:fs';

export interface NodeHandle {
  /** `replica0` … `replica3`, `client`. */
  readonly name: string;
  /** Replica id 0–3, or null for the client node. */
  readonly replica: number | null;
  readonly metricsUrl: string | null;
  pid(): number | undefined;
  running(): boolean;
}

export interface NodeSample {
  readonly name: string;
  readonly up: boolean;
  /** The process sampled (a restarted node is a new one). */
  readonly pid: number | null;
  readonly rssMb: number | null;
  readonly heapUsedMb: number | null;
  readonly view: number | null;
  readonly viewChanges: number | null;
  readonly viewActive: boolean | null;
  readonly lastExecuted: number | null;
  /** Head block (the replica's executed chain, or the client node's verified mirror). */
  readonly head: number | null;
  /** The client node: the last block it executed itself (its state reads come from there). */
  readonly localHead: number | null;
  readonly poolPending: number | null;
  readonly poolQueued: number | null;
}

const MB = 1024 * 1024;
const round1 = (x: number) => Math.round(x * 10) / 10;

/** VmRSS in MB, or null (no such process, or not Linux). */
export function rssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : round1(Number(m[1]) / 1024);
  } catch {
    return null;
  }
}

/** The unlabelled `bulwark_*` series of a Prometheus text page. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(bulwark_[a-z0-9_]+) (\S+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

async function metricsOf(url: string | null): Promise<Map<string, number> | null> {
  if (url === null) return null;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(4_000) });
    return res.ok ? parseMetrics(await res.text()) : null;
  } catch {
    return null;
  }
}

export async function sampleNode(node: NodeHandle): Promise<NodeSample> {
  const up = node.running();
  const m = up ? await metricsOf(node.metricsUrl) : null;
  const get = (name: string) => m?.get(name) ?? null;
  const heap = get('bulwark_nodejs_heap_size_used_bytes');
  const active = get('bulwark_consensus_view_active');
  return {
    name: node.name,
    up,
    pid: up ? (node.pid() ?? null) : null,
    // The kernel's figure where there is one; the node's own report (prom-client reads the same file) otherwise.
    rssMb: (up ? rssMb(node.pid()) : null) ?? (get('bulwark_process_resident_memory_bytes') === null ? null : round1(get('bulwark_process_resident_memory_bytes')! / MB)),
    heapUsedMb: heap === null ? null : round1(heap / MB),
    view: get('bulwark_consensus_view'),
    viewChanges: get('bulwark_consensus_view_changes_total'),
    viewActive: active === null ? null : active === 1,
    lastExecuted: get('bulwark_consensus_last_executed'),
    head: get('bulwark_chain_block_number'),
    localHead: get('bulwark_local_state_block_number'),
    poolPending: get('bulwark_txpool_pending'),
    poolQueued: get('bulwark_txpool_queued'),
  };
}
