/**
 * `bulwark replica --dir D`: runs one replica from a directory written by `bulwark init`, until
 * SIGINT or SIGTERM (clean shutdown, exit 0) or a fatal condition (exit 1, reason logged).
 */
import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { BulwarkError } from '../../common/errors.ts';
import { ReplicaProcess } from '../../node/replica.ts';
import type { CliIo } from '../io.ts';
import { addNodeOptions, readPassphrase } from '../passphrase.ts';
import { integer } from '../usage.ts';

interface ReplicaFlags {
  dir: string;
  passphraseFile?: string;
  passphraseEnv?: string;
  metricsHost: string;
  metricsPort?: number;
  adminSocket: boolean;
  logLevel: string;
}

export function registerReplica(program: Command, _io: CliIo): void {
  addNodeOptions(program.command('replica').description('run one replica node from its directory (written by bulwark init)').requiredOption('--dir <dir>', "the replica's directory; its RocksDB database lives in <dir>/data"))
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus /metrics and /health on this port').argParser(integer(1, 65_535)))
    .addOption(new Option('--metrics-host <host>', 'address for the metrics endpoint').default('127.0.0.1'))
    .option('--no-admin-socket', 'no admin socket (the unix socket through which `bulwark backup` asks the running node; node/admin.ts)')
    .action(async (flags: ReplicaFlags) => {
      const passphrase = await readPassphrase(flags);
      const logger = pino({ level: flags.logLevel, base: { node: 'replica' } });
      let stopping: Promise<void> | null = null;
      let fatal: string | null = null;
      let resolveDone: () => void = () => {};
      const done = new Promise<void>((r) => (resolveDone = r));
      const node = await ReplicaProcess.start({
        dir: flags.dir,
        logger,
        ...(passphrase === undefined ? {} : { passphrase }),
        ...(flags.metricsPort === undefined ? {} : { metrics: { host: flags.metricsHost, port: flags.metricsPort } }),
        adminSocket: flags.adminSocket,
        onFatal: (reason) => {
          fatal = reason;
          void shutdown();
        },
      });
      const shutdown = () => (stopping ??= node.stop().then(resolveDone));
      process.once('SIGINT', () => void shutdown());
      process.once('SIGTERM', () => void shutdown());
      await done;
      if (fatal !== null) throw new BulwarkError('REPLICA_FATAL', `replica stopped: ${fatal}`);
    });
}
