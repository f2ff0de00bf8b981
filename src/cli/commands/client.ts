/**
 * `bulwark client --dir D`: runs one client node — links to every replica, the verified ledger
 * mirror and the JSON-RPC endpoint — until SIGINT or SIGTERM. The `--rpc-*` security options
 * (TLS, bearer tokens, CORS, rate and size limits, EVM limits) are read and checked here, before
 * the node starts.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino } from 'pino';
import { ClientNode, type ClientNodeOptions } from '../../node/client.ts';
import { BulwarkError } from '../../common/errors.ts';
import { parseRpcAuthConfig } from '../../rpc/security.ts';
import type { RpcLimits } from '../../rpc/server.ts';
import type { PoolLimits } from '../../client/txpool.ts';
import type { RpcEvmLimits } from '../../rpc/evm-gate.ts';
import type { CliIo } from '../io.ts';
import { addNodeOptions, readPassphrase } from '../passphrase.ts';
import { UsageError, integer } from '../usage.ts';

interface ClientFlags {
  dir: string;
  passphraseFile?: string;
  passphraseEnv?: string;
  rpcHost: string;
  rpcPort: number;
  metricsHost: string;
  metricsPort?: number;
  adminSocket: boolean;
  logLevel: string;
  rpcTlsCert?: string;
  rpcTlsKey?: string;
  rpcAuth?: string;
  rpcCors?: string;
  rpcRateLimit?: number;
  rpcRateBurst?: number;
  rpcMaxBody?: number;
  rpcMaxBatch?: number;
  rpcWsMaxConnections?: number;
  rpcWsMaxPerAddress?: number;
  rpcWsMaxBuffered?: number;
  rpcMaxFiltersPerCaller?: number;
  localState: boolean;
  pruneLocalState?: number;
  explorer: boolean;
  txpoolAccountPending?: number;
  txpoolGlobalPending?: number;
  txpoolAccountSlots?: number;
  txpoolAccountQueue?: number;
  txpoolGlobalQueue?: number;
  txpoolLifetime?: number;
  txpoolMaxWait?: number;
  txpoolWaitFloor?: number;
  rpcGascap?: bigint;
  rpcEvmtimeout?: number;
  rpcEvmConcurrency?: number;
  rpcEvmQueue?: number;
}

type RpcSecurity = NonNullable<ClientNodeOptions['rpcSecurity']>;

/** The endpoint's security options from the flags: files read, the auth file validated. */
export async function readRpcSecurity(flags: Omit<ClientFlags, 'dir' | 'rpcHost' | 'rpcPort' | 'metricsHost' | 'logLevel' | 'localState' | 'pruneLocalState' | 'explorer' | 'adminSocket'>): Promise<RpcSecurity> {
  const read = async (file: string, what: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (cause) {
      throw new BulwarkError('CLIENT_RPC_CONFIG', `cannot read ${what} ${file}`, { path: file }, { cause });
    }
  };
  const out: { -readonly [K in keyof RpcSecurity]: RpcSecurity[K] } = {};
  if ((flags.rpcTlsCert === undefined) !== (flags.rpcTlsKey === undefined)) throw new UsageError('give both --rpc-tls-cert and --rpc-tls-key, or neither');
  if (flags.rpcTlsCert !== undefined && flags.rpcTlsKey !== undefined) {
    out.tls = { cert: await read(flags.rpcTlsCert, 'TLS certificate'), key: await read(flags.rpcTlsKey, 'TLS key') };
  }
  if (flags.rpcAuth !== undefined) {
    const text = await read(flags.rpcAuth, 'auth file');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new BulwarkError('CLIENT_RPC_CONFIG', `auth file ${flags.rpcAuth} is not JSON`, { path: flags.rpcAuth }, { cause });
    }
    try {
      out.auth = parseRpcAuthConfig(json);
    } catch (cause) {
      throw new BulwarkError('CLIENT_RPC_CONFIG', `auth file ${flags.rpcAuth}: ${(cause as Error).message}`, { path: flags.rpcAuth }, { cause });
    }
  }
  if (flags.rpcCors !== undefined) {
    const origins = flags.rpcCors.split(',').map((o) => o.trim()).filter((o) => o !== '');
    for (const o of origins) {
      if (o !== '*' && !/^https?:\/\/[^/\s]+$/i.test(o)) throw new UsageError(`--rpc-cors: "${o}" is not an origin (scheme://host[:port], or *)`);
    }
    out.cors = origins;
  }
  if (flags.rpcRateBurst !== undefined && flags.rpcRateLimit === undefined) throw new UsageError('--rpc-rate-burst needs --rpc-rate-limit');
  if (flags.rpcRateLimit !== undefined && flags.rpcRateLimit > 0) {
    out.rateLimit = flags.rpcRateBurst === undefined ? { perSecond: flags.rpcRateLimit } : { perSecond: flags.rpcRateLimit, burst: flags.rpcRateBurst };
  }
  const limits: { -readonly [K in keyof RpcLimits]?: RpcLimits[K] } = {};
  if (flags.rpcMaxBody !== undefined) limits.maxBodyBytes = flags.rpcMaxBody;
  if (flags.rpcMaxBatch !== undefined) limits.maxBatch = flags.rpcMaxBatch;
  if (flags.rpcWsMaxConnections !== undefined) limits.maxWsConnections = flags.rpcWsMaxConnections;
  if (flags.rpcWsMaxPerAddress !== undefined) limits.maxWsConnectionsPerAddress = flags.rpcWsMaxPerAddress;
  if (flags.rpcWsMaxBuffered !== undefined) limits.maxWsBufferedBytes = flags.rpcWsMaxBuffered;
  if (Object.keys(limits).length > 0) out.limits = limits;
  return out;
}

/** The pool's limits from the flags (each absent one keeps its default). */
export function readPoolLimits(flags: Pick<ClientFlags, `txpool${string}` & keyof ClientFlags>): Partial<PoolLimits> {
  const out: { -readonly [K in keyof PoolLimits]?: PoolLimits[K] } = {};
  if (flags.txpoolAccountPending !== undefined) out.accountPending = flags.txpoolAccountPending;
  if (flags.txpoolGlobalPending !== undefined) out.globalPending = flags.txpoolGlobalPending;
  if (flags.txpoolAccountSlots !== undefined) out.accountSlots = flags.txpoolAccountSlots;
  if (flags.txpoolAccountQueue !== undefined) out.accountQueue = flags.txpoolAccountQueue;
  if (flags.txpoolGlobalQueue !== undefined) out.globalQueue = flags.txpoolGlobalQueue;
  if (flags.txpoolLifetime !== undefined) out.lifetimeMs = flags.txpoolLifetime * 1_000;
  if (flags.txpoolMaxWait !== undefined) out.maxWaitSeconds = flags.txpoolMaxWait;
  if (flags.txpoolWaitFloor !== undefined) out.waitFloor = flags.txpoolWaitFloor;
  return out;
}

/** Gas for `--rpc-gascap`: a whole number; 0 means no cap, as in go-ethereum. */
export function gasCap(value: string): bigint {
  if (!/^[0-9]+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole amount of gas, got "${value}"`);
  const gas = BigInt(value.trim());
  // A transaction's gas limit is a 64-bit quantity: that is as good as no cap.
  return gas === 0n || gas > MAX_GAS ? MAX_GAS : gas;
}

const MAX_GAS = 2n ** 64n - 1n;
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * A timeout for `--rpc-evmtimeout`: milliseconds, or a Go duration (`5s`, `500ms`, `1m30s`,
 * `1.5s`); 0 means none, as in go-ethereum.
 */
export function durationMs(value: string): number {
  const v = value.trim();
  let ms: number;
  if (/^[0-9]+$/.test(v)) ms = Number(v);
  else {
    const parts = [...v.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)/gy)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== v) throw new InvalidArgumentError(`expected milliseconds or a duration such as 5s or 500ms, got "${value}"`);
    ms = parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
  }
  return ms === 0 ? Infinity : ms;
}

/** The EVM limits from the flags (each absent one keeps its default). */
export function readEvmLimits(flags: Pick<ClientFlags, 'rpcGascap' | 'rpcEvmtimeout' | 'rpcEvmConcurrency' | 'rpcEvmQueue'>): Partial<RpcEvmLimits> {
  return {
    ...(flags.rpcGascap === undefined ? {} : { gasCap: flags.rpcGascap }),
    ...(flags.rpcEvmtimeout === undefined ? {} : { timeoutMs: flags.rpcEvmtimeout }),
    ...(flags.rpcEvmConcurrency === undefined ? {} : { maxConcurrent: flags.rpcEvmConcurrency }),
    ...(flags.rpcEvmQueue === undefined ? {} : { maxQueued: flags.rpcEvmQueue }),
  };
}

export function registerClient(program: Command, io: CliIo): void {
  addNodeOptions(program.command('client').description('run one client node (JSON-RPC endpoint) from its directory (written by bulwark init)').requiredOption('--dir <dir>', "the client node's directory; its ledger mirror lives in <dir>/data"))
    .addOption(new Option('--rpc-host <host>', 'address the JSON-RPC endpoint listens on').default('127.0.0.1'))
    .addOption(new Option('--rpc-port <port>', 'JSON-RPC port (HTTP and WebSocket)').argParser(integer(0, 65_535)).default(8545))
    .addOption(new Option('--rpc-tls-cert <file>', 'serve HTTPS/WSS (TLS 1.3 only) with this PEM certificate (needs --rpc-tls-key)'))
    .addOption(new Option('--rpc-tls-key <file>', 'the PEM private key for --rpc-tls-cert'))
    .addOption(new Option('--rpc-auth <file>', 'require bearer tokens: a JSON file {"tokens":[{"name","sha256","methods"}]} (bulwark rpc-token makes entries)'))
    .addOption(new Option('--rpc-cors <origins>', 'comma-separated origins browsers may call from, or * (default: none, no CORS headers)'))
    .addOption(new Option('--rpc-rate-limit <n>', 'calls per second per client address, each call of a batch counting (default 0: unlimited)').argParser(integer(0)))
    .addOption(new Option('--rpc-rate-burst <n>', 'calls a client may make at once after a quiet spell (default: the rate)').argParser(integer(1)))
    .addOption(new Option('--rpc-max-body <bytes>', 'largest HTTP body or WebSocket message (default 5242880)').argParser(integer(1)))
    .addOption(new Option('--rpc-max-batch <n>', 'most calls in one batch (default 1000)').argParser(integer(1)))
    .addOption(new Option('--rpc-gascap <gas>', 'most gas one eth_call, eth_estimateGas or debug_traceCall runs with; more is lowered to it (default 50000000; 0: none)').argParser(gasCap))
    .addOption(new Option('--rpc-evmtimeout <duration>', 'how long one eth_call or eth_estimateGas may take, waiting included, in ms or as 5s/500ms (default 5s; 0: none); also the default debug_trace* timeout').argParser(durationMs))
    .addOption(new Option('--rpc-evm-concurrency <n>', 'EVM calls (eth_call, eth_estimateGas, debug_trace*) running at once (default 4)').argParser(integer(1)))
    .addOption(new Option('--rpc-evm-queue <n>', 'EVM calls waiting for a turn; beyond it a call is refused with -32005 (default 256)').argParser(integer(0)))
    .addOption(new Option('--rpc-ws-max-connections <n>', 'open WebSocket connections at once (default 1000; 0: unlimited)').argParser(integer(0)))
    .addOption(new Option('--rpc-ws-max-per-address <n>', 'open WebSocket connections from one client address (default 100; 0: unlimited)').argParser(integer(0)))
    .addOption(new Option('--rpc-ws-max-buffered <bytes>', 'bytes a WebSocket connection may have waiting for its reader before it is closed (default 16777216)').argParser(integer(1)))
    .addOption(new Option('--rpc-max-filters-per-caller <n>', 'polling filters one caller (its token with --rpc-auth, else its address) may hold (default 1000; the node holds 10000)').argParser(integer(1)))
    .addOption(new Option('--txpool-account-pending <n>', 'pending transactions (ready or being ordered) one sender may have (default 1024)').argParser(integer(1)))
    .addOption(new Option('--txpool-global-pending <n>', 'pending transactions in the pool (default 20000; go-ethereum GlobalSlots is 5120)').argParser(integer(1)))
    .addOption(new Option('--txpool-account-slots <n>', 'pending transactions each sender keeps when the pool is full (default 16, go-ethereum AccountSlots)').argParser(integer(0)))
    .addOption(new Option('--txpool-account-queue <n>', 'transactions one sender may have waiting behind a nonce gap (default 64, go-ethereum AccountQueue)').argParser(integer(0)))
    .addOption(new Option('--txpool-global-queue <n>', 'transactions waiting behind nonce gaps in the pool (default 1024, go-ethereum GlobalQueue)').argParser(integer(0)))
    .addOption(
      new Option('--txpool-max-wait <seconds>', "pending transactions at most this many seconds of the rate the pool's are being included; beyond it a sender with some pending is refused with `txpool is full` (default 10; 0: only --txpool-global-pending)").argParser(integer(0)),
    )
    .addOption(new Option('--txpool-wait-floor <n>', 'the fewest pending transactions --txpool-max-wait allows, whatever the rate (default 2048)').argParser(integer(1)))
    .addOption(new Option('--txpool-lifetime <seconds>', "how long a sender's queued transactions wait without progress (default 10800, go-ethereum Lifetime)").argParser(integer(1)))
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus /metrics and /health on this port').argParser(integer(1, 65_535)))
    .addOption(new Option('--metrics-host <host>', 'address for the metrics endpoint').default('127.0.0.1'))
    .option('--no-admin-socket', 'no admin socket (the unix socket through which `bulwark backup` asks the running node; node/admin.ts)')
    .addOption(
      new Option('--no-local-state', 'do not execute the certified blocks here (<dir>/state): every state read goes to the replicas, and debug_trace* is unavailable'),
    )
    .addOption(
      new Option(
        '--prune-local-state <blocks>',
        'keep only the last <blocks> blocks\' states in <dir>/state (a prune every <blocks> blocks more): older state reads go to the replicas, and debug_trace* of older blocks answers STATE_PRUNED (docs/operations/pruning.md)',
      ).argParser(integer(16)),
    )
    .addOption(new Option('--no-explorer', 'do not serve the explorer web page at / on the JSON-RPC port'))
    .action(async (flags: ClientFlags) => {
      const passphrase = await readPassphrase(flags);
      const rpcSecurity = await readRpcSecurity(flags);
      const logger = pino({ level: flags.logLevel, base: { node: 'client' } });
      // The replicas moved to a later configuration and the node replaced its network.json by the
      // file they run (`node/configuration.ts`): it is stopped and started again on it.
      let reconfigured: () => void = () => undefined;
      const options = {
        dir: flags.dir,
        logger,
        rpc: { host: flags.rpcHost, port: flags.rpcPort },
        rpcSecurity,
        localState: flags.localState,
        ...(flags.pruneLocalState === undefined ? {} : { localStatePrune: { retainBlocks: flags.pruneLocalState, everyBlocks: flags.pruneLocalState } }),
        explorer: flags.explorer,
        txpool: readPoolLimits(flags),
        ...(flags.rpcMaxFiltersPerCaller === undefined ? {} : { maxFiltersPerCaller: flags.rpcMaxFiltersPerCaller }),
        evm: readEvmLimits(flags),
        ...(flags.metricsPort === undefined ? {} : { metrics: { host: flags.metricsHost, port: flags.metricsPort } }),
        adminSocket: flags.adminSocket,
        ...(passphrase === undefined ? {} : { passphrase }),
        onReconfigured: () => reconfigured(),
      };
      let node = await ClientNode.start(options);
      io.out(`JSON-RPC at ${node.rpc.url}\n`);
      if (flags.explorer) io.out(`Explorer at ${node.rpc.url}/\n`);
      let stopping = false;
      let restarting: Promise<void> = Promise.resolve();
      reconfigured = () => {
        restarting = restarting
          .then(async () => {
            if (stopping) return;
            await node.stop();
            node = await ClientNode.start(options);
          })
          .catch((err: unknown) => {
            logger.fatal({ err }, 'the client node could not start again on the new network file');
            process.exit(1);
          });
      };
      await new Promise<void>((resolve) => {
        const stop = () => {
          stopping = true;
          void restarting.then(() => node.stop()).then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
