/**
 * `bulwark replica --dir D`: runs one replica from a directory written by `bulwark init`, until
 * SIGINT or SIGTERM (clean shutdown, exit 0) or a fatal condition (exit 1, reason logged).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino } from 'pino';
import { BulwarkError } from '../../common/errors.ts';
import { DEFAULT_SNAPSHOT_AFTER, ReplicaProcess } from '../../node/replica.ts';
import { DEFAULT_PRUNE } from '../../replica/pruning.ts';
import { isValidHost } from '../../setup/topology.ts';
import type { CliIo } from '../io.ts';
import { addNodeOptions, readPassphrase } from '../passphrase.ts';
import { integer } from '../usage.ts';

interface ReplicaFlags {
  dir: string;
  passphraseFile?: string;
  passphraseEnv?: string;
  metricsHost: string;
  metricsPort?: number;
  listenHost?: string;
  adminSocket: boolean;
  snapshotAfter?: number;
  logLevel: string;
  prune: boolean;
  pruneRetain: number;
  pruneEvery: number;
  pruneRetainBatches: number;
}

/** `--listen-host`: an IP address or a host name. */
function listenHost(value: string): string {
  if (!isValidHost(value)) throw new InvalidArgumentError(`"${value}" is neither an IP address nor a host name`);
  return value;
}

export function registerReplica(program: Command, _io: CliIo): void {
  addNodeOptions(program.command('replica').description('run one replica node from its directory (written by bulwark init)').requiredOption('--dir <dir>', "the replica's directory; its RocksDB database lives in <dir>/data"))
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus /metrics and /health on this port').argParser(integer(1, 65_535)))
    .addOption(new Option('--metrics-host <host>', 'address for the metrics endpoint').default('127.0.0.1'))
    .addOption(
      new Option(
        '--listen-host <host>',
        "address to accept peers on, instead of the host of this replica's endpoint in network.json (e.g. 0.0.0.0 when that is a public address behind NAT); the port stays the endpoint's",
      ).argParser(listenHost),
    )
    .addOption(
      new Option(
        '--snapshot-after <batches>',
        `fetch a snapshot of the state from the other replicas, rather than replay every batch, when f + 1 of them are this many batches ahead (0: always replay; default ${DEFAULT_SNAPSHOT_AFTER})`,
      ).argParser(integer(0, Number.MAX_SAFE_INTEGER)),
    )
    .option('--prune', 'not an archive: delete the states of blocks older than both the last --prune-retain blocks and the last stable checkpoint, and old ordered batches; state reads below the kept window are refused with STATE_PRUNED (docs/operations/pruning.md)')
    .addOption(new Option('--prune-retain <blocks>', "with --prune: blocks whose states are kept behind the head").argParser(integer(16)).default(DEFAULT_PRUNE.retainBlocks))
    .addOption(new Option('--prune-every <blocks>', 'with --prune: a prune starts once this many blocks past --prune-retain are stored').argParser(integer(1)).default(DEFAULT_PRUNE.everyBlocks))
    .addOption(
      new Option('--prune-retain-batches <n>', 'with --prune: ordered batches kept below the last stable checkpoint, for peers catching up').argParser(integer(1)).default(DEFAULT_PRUNE.retainBatches),
    )
    .option('--no-admin-socket', 'no admin socket (the unix socket through which `bulwark backup` asks the running node; node/admin.ts)')
    .action(async (flags: ReplicaFlags) => {
      const passphrase = await readPassphrase(flags);
      const logger = pino({ level: flags.logLevel, base: { node: 'replica' } });
      let stopping: Promise<void> | null = null;
      let fatal: string | null = null;
      let resolveDone: () => void = () => {};
      const done = new Promise<void>((r) => (resolveDone = r));
      // A fatal condition may come while the replica is still starting: the shutdown waits for it.
      let started: Promise<ReplicaProcess> | null = null;
      const shutdown = () => (stopping ??= started!.then((n) => n.stop()).then(resolveDone, resolveDone));
      started = ReplicaProcess.start({
        dir: flags.dir,
        logger,
        ...(passphrase === undefined ? {} : { passphrase }),
        ...(flags.listenHost === undefined ? {} : { listenHost: flags.listenHost }),
        ...(flags.metricsPort === undefined ? {} : { metrics: { host: flags.metricsHost, port: flags.metricsPort } }),
        adminSocket: flags.adminSocket,
        ...(flags.snapshotAfter === undefined ? {} : { snapshotAfter: flags.snapshotAfter }),
        ...(flags.prune ? { prune: { retainBlocks: flags.pruneRetain, everyBlocks: flags.pruneEvery, retainBatches: flags.pruneRetainBatches } } : {}),
        onFatal: (reason) => {
          fatal = reason;
          void shutdown();
        },
      });
      await started; // a start that fails is this command's error
      process.once('SIGINT', () => void shutdown());
      process.once('SIGTERM', () => void shutdown());
      await done;
      if (fatal !== null) throw new BulwarkError('REPLICA_FATAL', `replica stopped: ${fatal}`);
    });
}
