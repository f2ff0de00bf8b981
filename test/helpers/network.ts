/**
 * A real local network for end-to-end tests: the trusted setup in a temporary directory, four
 * replica processes and one client node process on free loopback ports, torn down by `stop`.
 * Every node (the client node too) serves /metrics and /health on its own port; any node can be
 * killed with a signal and started again with the same command line on the same data directory,
 * one at a time or all together. Each process's standard output (its pino log lines) is appended
 * to a file in the network's directory, kept across restarts, and read back with `logs()`.
 * Each node runs with an explicit V8 old-space limit (`heapMb`), so a leak shows as a crash at a
 * known size rather than at whatever the machine's default happens to be.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import type { ChainConfig } from '../../src/execution/chain-config.ts';
import { runInit } from '../../src/setup/init.ts';
import { testConfig } from './chain.ts';
import { freePorts } from './net.ts';
import { nodeEnv, nodeV8Flags } from '../../src/cli/node-process.ts';

/** A replica's `/health` document (`ReplicaProcess.status`, the shell's `ReplicaNode.status`). */
export interface ReplicaHealth {
  readonly replica: number;
  readonly view: number;
  readonly primary: number;
  readonly active: boolean;
  readonly lastExecuted: number;
  readonly lastStable: number;
  readonly block: number;
  readonly blockHash: string;
  readonly peers: ReadonlyArray<{ peer: number; connected: boolean }>;
}

/** How a process ended: its exit code, or the signal that ended it. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface NetworkOptions {
  /** The nodes' `--log-level` (default `warn`). */
  readonly logLevel?: string;
  /** The genesis (default `testConfig()`: chain id 1337, free gas, four funded test keys). */
  readonly chainConfig?: ChainConfig;
  /** Each node's `--max-old-space-size` in MB (default 2048). */
  readonly heapMb?: number;
  /** Each node's `--max-semi-space-size` in MB (default: V8's own). */
  readonly semiSpaceMb?: number;
  /** `stop` leaves the network's directory (data and logs) in place. */
  readonly keep?: boolean;
  /** More arguments for every replica's command line (e.g. `--prune`). */
  readonly replicaArgs?: readonly string[];
  /** More arguments for the client node's command line (e.g. `--no-local-state`). */
  readonly clientArgs?: readonly string[];
  /**
   * Replica ids kept free for replicas added later (`bulwark init --max-replicas`): the client node
   * is then this id, not 4. Up to three replicas may be added (`addReplica`).
   */
  readonly maxReplicas?: number;
  /** What each node process runs after its V8 flags (default `--import tsx src/cli/main.ts`): e.g. another tree's `bin/bulwark.mjs`. */
  readonly entry?: readonly string[];
}

export interface TestNetwork {
  readonly url: string;
  /** Replica ids 0–3 and any added since (`setReplicas`); the client node is id 4 (or `maxReplicas`). */
  readonly replicas: readonly number[];
  /** The replica set `ready` and `restartAll` mean from now on (after a reconfiguration). */
  setReplicas(ids: readonly number[]): void;
  /** The endpoint port of a replica id that is not in the network yet (ids 4..6), for its `bulwark member`. */
  freePort(id: number): number;
  readonly clientId: number;
  /** The network's directory (node directories, `logs/`, `run/`), removed by `stop` unless `keep`. */
  readonly root: string;
  /** The environment the nodes run with beyond the launcher's (`BULWARK_RUNTIME_DIR`: where their admin sockets are). */
  readonly env: Readonly<Record<string, string>>;
  healthUrl(replica: number): string;
  /** Node `id`'s Prometheus /metrics (replicas 0–3 and the client node). */
  metricsUrl(id: number): string;
  /** The replica's /health document, or null while it does not answer. */
  health(replica: number): Promise<ReplicaHealth | null>;
  isRunning(id: number): boolean;
  /** The process id of node `id`'s current (or last) process. */
  pid(id: number): number | undefined;
  /** Resolves when node `id`'s current (or last) process ends, however it ends. */
  exited(id: number): Promise<Exit>;
  /** Sends `signal` to node `id` and resolves once the process has ended. */
  kill(id: number, signal?: NodeJS.Signals): Promise<Exit>;
  /** Starts node `id` again (it must not be running) with its original command line. */
  restart(id: number): void;
  /** Stops every node with SIGTERM, starts all five again on their directories, waits until they answer. */
  restartAll(): Promise<Exit[]>;
  /** Resolves once the JSON-RPC endpoint and every replica's /health answer, and the client node's links to all replicas are up. */
  ready(ms?: number): Promise<void>;
  /** Every node's log lines so far (standard output of every run), by node id. */
  logs(): Map<number, string>;
  stop(): Promise<void>;
}

export async function startNetwork(seedByte: number, options: NetworkOptions = {}): Promise<TestNetwork> {
  await initHashes(); // the funded test accounts' addresses need Keccak-256
  const CLIENT = options.maxReplicas ?? 4;
  const root = mkdtempSync(join(tmpdir(), 'bulwark-e2e-'));
  const logDir = join(root, 'logs');
  const procs = new Map<number, ChildProcess>();
  const exits = new Map<number, Promise<Exit>>();
  // Replicas 0–3 (endpoint), the RPC port, metrics of replicas 0–3 and the client node, and the
  // endpoint and metrics ports of up to three replicas added later (ids 4–6).
  const ports = await freePorts(options.maxReplicas === undefined ? 10 : 16);
  const rpcPort = ports[4]!;
  const metricsPort = (id: number) => (id === CLIENT ? ports[9]! : id < 4 ? ports[5 + id]! : ports[13 + id - 4]!);
  const freePort = (id: number) => {
    if (options.maxReplicas === undefined || id < 4 || id > 6) throw new Error(`no port kept for replica ${id}`);
    return ports[10 + id - 4]!;
  };
  let replicaIds: readonly number[] = [0, 1, 2, 3];
  const url = `http://127.0.0.1:${rpcPort}`;
  const healthUrl = (id: number) => `http://127.0.0.1:${metricsPort(id)}/health`;
  const runtimeEnv = { BULWARK_RUNTIME_DIR: join(root, 'run') };
  const logFile = (id: number) => join(logDir, id === CLIENT ? `client-${CLIENT}.log` : `replica-${id}.log`);
  const argsOf = (id: number) =>
    id === CLIENT
      ? ['client', '--dir', join(root, `client-${CLIENT}`), '--rpc-port', String(rpcPort), '--metrics-port', String(metricsPort(CLIENT)), ...(options.clientArgs ?? [])]
      : ['replica', '--dir', join(root, `replica-${id}`), '--metrics-port', String(metricsPort(id)), ...(options.replicaArgs ?? [])];

  // nodeV8Flags adds BULWARK_NODE_V8_FLAGS (diagnosis: `--cpu-prof --cpu-prof-dir=/tmp/prof`).
  const v8Flags = nodeV8Flags(options.heapMb ?? 2048, options.semiSpaceMb);
  const isRunning = (id: number) => {
    const p = procs.get(id);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  };
  const launch = (id: number) => {
    if (isRunning(id)) throw new Error(`node ${id} is already running`);
    const out = openSync(logFile(id), 'a');
    try {
      const child = spawn(process.execPath, [...v8Flags, ...(options.entry ?? ['--import', 'tsx', 'src/cli/main.ts']), ...argsOf(id), '--log-level', options.logLevel ?? 'warn'], {
        stdio: ['ignore', out, 'inherit'],
        // Admin sockets (node/admin.ts) in the network's directory, so a node killed with SIGKILL
        // leaves none behind in /tmp; `runtimeEnv` gives the same to a `bulwark backup` run.
        env: { ...nodeEnv(), ...runtimeEnv },
      });
      procs.set(id, child);
      exits.set(id, new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))));
    } finally {
      closeSync(out);
    }
  };
  const exitOf = (id: number): Promise<Exit> => exits.get(id) ?? Promise.resolve({ code: null, signal: null });
  const kill = async (id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> => {
    if (isRunning(id)) procs.get(id)!.kill(signal);
    return exitOf(id);
  };
  /** SIGTERM to every running node; SIGKILL to any still running after `graceMs`. */
  const terminateAll = async (graceMs: number): Promise<Exit[]> => {
    const ids = [...procs.keys()].sort((a, b) => a - b);
    for (const id of ids) if (isRunning(id)) procs.get(id)!.kill('SIGTERM');
    const force = setTimeout(() => {
      for (const id of ids) if (isRunning(id)) procs.get(id)!.kill('SIGKILL');
    }, graceMs);
    try {
      return await Promise.all(ids.map(exitOf));
    } finally {
      clearTimeout(force);
    }
  };

  const health = async (id: number): Promise<ReplicaHealth | null> => {
    try {
      const res = await fetch(healthUrl(id), { signal: AbortSignal.timeout(5_000) });
      return res.ok ? ((await res.json()) as ReplicaHealth) : null;
    } catch {
      return null;
    }
  };
  /** The client node's answer to `method`, or undefined while it does not answer one. */
  const rpcResult = async <T>(method: string): Promise<T | undefined> => {
    try {
      const res = await fetch(url, {
        method: 'POST',
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }),
        signal: AbortSignal.timeout(5_000),
      });
      return ((await res.json()) as { result?: T }).result;
    } catch {
      return undefined;
    }
  };
  const rpcUp = async (): Promise<boolean> => (await rpcResult<string>('eth_blockNumber')) !== undefined;
  /** Whether the client node reports its link to every replica up (`bft_status`). */
  const linksUp = async (): Promise<boolean> =>
    (await rpcResult<{ nodes: { link: string }[] }>('bft_status'))?.nodes.every((n) => n.link === 'up') === true;
  const ready = async (ms = 60_000): Promise<void> => {
    const end = Date.now() + ms;
    for (;;) {
      const [rpc, ...replicas] = await Promise.all([rpcUp(), ...replicaIds.map(health)]);
      // The client node's links too: a test that asks for bft_status at once must not see one
      // still dialling (its back-off can leave a link down for a second after start-up).
      if (rpc && replicas.every((h) => h !== null) && (await linksUp())) return;
      for (const id of [...replicaIds, CLIENT]) {
        if (procs.has(id) && !isRunning(id)) throw new Error(`node ${id} exited while the network was coming up: ${JSON.stringify(await exitOf(id))}`);
      }
      if (Date.now() > end) throw new Error('the network did not come up');
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const startAll = () => {
    for (const id of replicaIds) launch(id);
    launch(CLIENT);
  };

  let stopped: Promise<void> | null = null;
  const stop = () =>
    (stopped ??= terminateAll(20_000).then(() => {
      if (options.keep !== true) rmSync(root, { recursive: true, force: true });
    }));
  try {
    await runInit({
      outDir: root,
      topology: { replicas: 4, clients: 1, ...(options.maxReplicas === undefined ? {} : { maxReplicas: options.maxReplicas }), replicaEndpoints: ports.slice(0, 4).map((port) => ({ host: '127.0.0.1', port })) },
      chainConfig: options.chainConfig ?? testConfig(),
      seed: new Uint8Array(32).fill(seedByte),
    });
    mkdirSync(logDir); // after init, which refuses a non-empty target
    startAll();
    await ready();
    return {
      url,
      get replicas() {
        return replicaIds;
      },
      setReplicas: (ids) => void (replicaIds = [...ids]),
      freePort,
      clientId: CLIENT,
      root,
      env: runtimeEnv,
      healthUrl,
      metricsUrl: (id) => `http://127.0.0.1:${metricsPort(id)}/metrics`,
      health,
      isRunning,
      pid: (id) => procs.get(id)?.pid,
      exited: exitOf,
      kill,
      restart: launch,
      restartAll: async () => {
        const stopped = await terminateAll(30_000);
        startAll();
        await ready();
        return stopped;
      },
      ready,
      logs: () => new Map([...procs.keys()].map((id) => [id, existsSync(logFile(id)) ? readFileSync(logFile(id), 'utf8') : ''])),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
