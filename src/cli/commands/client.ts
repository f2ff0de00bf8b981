/**
 * `bulwark client --dir D`: runs one client node — links to every replica, the verified ledger
 * mirror and the JSON-RPC endpoint — until SIGINT or SIGTERM.
 */
import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { ClientNode } from '../../client/client-node.ts';
import type { CliIo } from '../io.ts';
import { addNodeOptions, readPassphrase } from '../passphrase.ts';
import { integer } from '../usage.ts';

interface ClientFlags {
  dir: string;
  passphraseFile?: string;
  passphraseEnv?: string;
  rpcHost: string;
  rpcPort: number;
  metricsHost: string;
  metricsPort?: number;
  logLevel: string;
}

export function registerClient(program: Command, io: CliIo): void {
  addNodeOptions(program.command('client').description('run one client node (JSON-RPC endpoint) from its directory (written by bulwark init)').requiredOption('--dir <dir>', "the client node's directory; its ledger mirror lives in <dir>/data"))
    .addOption(new Option('--rpc-host <host>', 'address the JSON-RPC endpoint listens on').default('127.0.0.1'))
    .addOption(new Option('--rpc-port <port>', 'JSON-RPC port (HTTP and WebSocket)').argParser(integer(0, 65_535)).default(8545))
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus /metrics and /health on this port').argParser(integer(1, 65_535)))
    .addOption(new Option('--metrics-host <host>', 'address for the metrics endpoint').default('127.0.0.1'))
    .action(async (flags: ClientFlags) => {
      const passphrase = await readPassphrase(flags);
      const logger = pino({ level: flags.logLevel, base: { node: 'client' } });
      const node = await ClientNode.start({
        dir: flags.dir,
        logger,
        rpc: { host: flags.rpcHost, port: flags.rpcPort },
        ...(flags.metricsPort === undefined ? {} : { metrics: { host: flags.metricsHost, port: flags.metricsPort } }),
        ...(passphrase === undefined ? {} : { passphrase }),
      });
      io.out(`JSON-RPC at ${node.rpc.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void node.stop().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
