/**
 * The protocol's parameters and the quorums they imply. With n = 3f + 2c + 1 replicas:
 * - fast path: n − c = 3f + c + 1 shares make a FullCommitProof;
 * - slow path: 2f + c + 1 shares make a PrepareFull, and 2f + c + 1 commit votes a CommitFull;
 * - a stable checkpoint needs 2f + c + 1 matching signatures;
 * - a NewView is built from 2f + 2c + 1 ViewChange messages;
 * - f + 1 complaints (at least one from an honest replica) start a view change.
 */
import { BulwarkError } from '../common/errors.ts';

export interface ConsensusConfig {
  readonly f: number;
  readonly c: number;
  /** Number of client node ids, which follow the replicas': n .. n + clients − 1. */
  readonly clients: number;
  /** A checkpoint every K sequence numbers. */
  readonly checkpointInterval: number;
  /** Sequence numbers above the last stable checkpoint that may be in progress (a multiple of K). */
  readonly window: number;
  /** Batches the primary keeps in flight (proposed, not yet committed) at once. */
  readonly maxInFlight: number;
  readonly maxBatchRequests: number;
  readonly maxBatchBytes: number;
  /** How long the primary waits to fill a batch while others are in flight. */
  readonly batchDelayMs: number;
  /** Requests one client may have waiting at a replica. */
  readonly maxPendingPerClient: number;
  readonly maxPendingTotal: number;
  /** Payload bytes all pending requests may hold together. */
  readonly maxPendingBytes: number;
  /** A collector waits this long for the fast path before sending a PrepareFull. */
  readonly fastPathTimeoutMs: number;
  /** A request not executed this long after a replica saw it makes the replica complain. */
  readonly requestTimeoutMs: number;
  /**
   * However busy the primary says it is (executing what it ordered), a request waiting this long to
   * be ordered is held against it: the bound on what a primary can delay by claiming to be slow.
   */
  readonly orderingDeadlineMs: number;
  /** First view-change timeout; doubled for each view in a row that fails, up to the cap. */
  readonly viewChangeTimeoutMs: number;
  readonly viewChangeTimeoutCapMs: number;
  /** Status broadcast period (catch-up, retransmission). */
  readonly statusIntervalMs: number;
  /** Uncommitted slots older than this are retransmitted by their primary and voters. */
  readonly retransmitMs: number;
  /** Committed batches one replica serves another per Status. */
  readonly catchUpChunk: number;
  /** A proposal's timestamp may differ from the replica's clock by at most this. */
  readonly maxClockSkewMs: number;
  /**
   * Replicas replace their bootstrap consensus keys with keys they generate, published through
   * consensus (`keys.ts`); until 2f + c + 1 have published one, client requests are not executed.
   * Off (tests and simulations that study something else): replicas keep the bootstrap keys, and
   * key-exchange requests are refused.
   */
  readonly keyExchange: boolean;
  /** An operator's key rotation is refused sooner than this after the previous one (block time, s). */
  readonly minRotationIntervalSec: number;
  /** The network's chain id (network.json): operator commands signed for another are refused. */
  readonly chainId: number;
  /**
   * The first client node id (the network file's `firstClient`): client nodes are firstClient ..
   * firstClient + clients − 1. Absent: n, right after the replicas. A network created with room
   * for more replicas than it has (`bulwark init --max-replicas`) can add them without renumbering.
   */
  readonly firstClient?: number;
}

export const DEFAULT_CONSENSUS_CONFIG: Omit<ConsensusConfig, 'f' | 'c' | 'clients'> = {
  checkpointInterval: 150,
  window: 300,
  maxInFlight: 8,
  maxBatchRequests: 100,
  maxBatchBytes: 1 << 20,
  batchDelayMs: 2,
  maxPendingPerClient: 4096,
  maxPendingTotal: 65_536,
  maxPendingBytes: 64 << 20,
  fastPathTimeoutMs: 150,
  requestTimeoutMs: 2_000,
  orderingDeadlineMs: 30_000,
  viewChangeTimeoutMs: 2_000,
  viewChangeTimeoutCapMs: 30_000,
  statusIntervalMs: 500,
  retransmitMs: 400,
  catchUpChunk: 64,
  maxClockSkewMs: 60_000,
  keyExchange: true,
  minRotationIntervalSec: 600,
  chainId: 1337,
};

export interface Quorums {
  readonly n: number;
  readonly fast: number;
  readonly slow: number;
  readonly checkpoint: number;
  readonly viewChange: number;
  readonly weak: number;
}

export function quorumsOf(cfg: Pick<ConsensusConfig, 'f' | 'c'>): Quorums {
  const { f, c } = cfg;
  const n = 3 * f + 2 * c + 1;
  return { n, fast: 3 * f + c + 1, slow: 2 * f + c + 1, checkpoint: 2 * f + c + 1, viewChange: 2 * f + 2 * c + 1, weak: f + 1 };
}

/**
 * The value at least `f + 1` of the reports reach (0 when fewer answered): with f faulty replicas
 * at most, at least one honest replica reports reaching it.
 */
export function reachedByFPlusOne(values: readonly number[], f: number): number {
  const sorted = [...values].sort((a, b) => b - a);
  return sorted[f] ?? 0;
}

export function makeConsensusConfig(
  params: Pick<ConsensusConfig, 'f' | 'c' | 'clients'> & Partial<ConsensusConfig>,
): ConsensusConfig {
  const cfg: ConsensusConfig = { ...DEFAULT_CONSENSUS_CONFIG, ...params };
  const bad = (field: string, rule: string) =>
    new BulwarkError('CONSENSUS_BAD_CONFIG', `consensus configuration: ${field} ${rule}`, { field });
  for (const [k, v] of Object.entries(cfg)) {
    if (k === 'keyExchange') {
      if (typeof v !== 'boolean') throw bad(k, 'must be true or false');
    } else if (!Number.isSafeInteger(v) || (v as number) < 0) throw bad(k, 'must be a non-negative integer');
  }
  if (cfg.f < 1 && cfg.c > 0) throw bad('c', 'needs f ≥ 1');
  if (cfg.checkpointInterval < 1) throw bad('checkpointInterval', 'must be ≥ 1');
  if (cfg.window < cfg.checkpointInterval || cfg.window % cfg.checkpointInterval !== 0) {
    throw bad('window', 'must be a positive multiple of checkpointInterval');
  }
  if (cfg.maxInFlight < 1 || cfg.maxInFlight > cfg.window) throw bad('maxInFlight', 'must be in 1..window');
  if (cfg.maxBatchRequests < 1) throw bad('maxBatchRequests', 'must be ≥ 1');
  if (cfg.firstClient !== undefined && cfg.firstClient < 3 * cfg.f + 2 * cfg.c + 1) throw bad('firstClient', 'must be at least the number of replicas');
  return cfg;
}

/** Replica `view mod n` leads view `view`. */
export function primaryOf(view: number, n: number): number {
  return view % n;
}

/** c + 1 collectors for a sequence number, rotating with it so no replica collects every slot. */
export function collectorsOf(seq: number, q: Quorums, c: number): number[] {
  const out: number[] = [];
  for (let i = 0; i <= c; i++) out.push((seq + i) % q.n);
  return out;
}
