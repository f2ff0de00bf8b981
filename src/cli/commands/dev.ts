/**
 * `bulwark dev` (what `npm start` runs): a whole local network on this machine. On first run it
 * makes the trusted setup in the data directory (four replicas, one client node, the standard
 * development accounts funded); every run starts the five node processes, prints the JSON-RPC
 * URL, the chain id and the accounts, and stops them all on Ctrl-C. Data is kept between runs;
 * `--reset` starts afresh.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { parseChainConfig } from '../../execution/chain-config.ts';
import { DEV_MNEMONIC, devAccounts } from '../../setup/dev-accounts.ts';
import { runInit } from '../../setup/init.ts';
import type { CliIo } from '../io.ts';
import { integer } from '../usage.ts';
import { NODE_HEAP_MB, nodeEnv, nodeV8Flags } from '../node-process.ts';

interface DevFlags {
  dir: string;
  reset: boolean;
  chainId: number;
  basePort: number;
  rpcPort: number;
  accounts: number;
  metricsPort?: number;
  logLevel: string;
  heapMb: number;
}

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const ETH = 10n ** 18n;

export function registerDev(program: Command, io: CliIo): void {
  program
    .command('dev')
    .description('run a local development network: four replicas and one client node with JSON-RPC (npm start)')
    .addOption(new Option('--dir <dir>', 'data directory; made on first run, kept afterwards').default('.bulwark-dev'))
    .addOption(new Option('--reset', 'delete the data directory first and start a new chain').default(false))
    .addOption(new Option('--chain-id <id>', 'chain id of a new chain').argParser(integer(1, 2 ** 32)).default(1337))
    .addOption(new Option('--base-port <port>', 'replicas listen on base-port .. base-port+3').argParser(integer(1, 65_530)).default(7100))
    .addOption(new Option('--rpc-port <port>', 'JSON-RPC port').argParser(integer(1, 65_535)).default(8545))
    .addOption(new Option('--accounts <n>', 'development accounts to fund on a new chain (10,000 ETH each)').argParser(integer(1, 1000)).default(20))
    .addOption(
      new Option('--metrics-port <port>', 'serve Prometheus /metrics and /health: replicas on port .. port+3, the client node on port+4').argParser(
        integer(1, 65_530),
      ),
    )
    .addOption(new Option('--log-level <level>', "the nodes' log level").choices(['fatal', 'error', 'warn', 'info', 'debug']).default('warn'))
    .addOption(new Option('--heap-mb <mb>', "each node's V8 old-space limit (--max-old-space-size), in MB").argParser(integer(256, 65_536)).default(NODE_HEAP_MB))
    .action(async (flags: DevFlags) => {
      const dir = resolve(flags.dir);
      if (flags.reset) await rm(dir, { recursive: true, force: true });
      const accounts = devAccounts(flags.accounts);
      const network = join(dir, 'network.json');
      if (!existsSync(network)) {
        const alloc = Object.fromEntries(accounts.map((a) => [a.address, { balance: (10_000n * ETH).toString() }]));
        await runInit({
          outDir: dir,
          topology: { replicas: 4, clients: 1, host: '127.0.0.1', basePort: flags.basePort },
          chainConfig: parseChainConfig({ chainId: String(flags.chainId), alloc }),
        });
        io.out(`New chain in ${dir}\n`);
      } else {
        io.out(`Resuming the chain in ${dir} (--reset starts a new one)\n`);
      }
      const children: ChildProcess[] = [];
      const node = (args: string[]) => {
        const child = spawn(process.execPath, [...nodeV8Flags(flags.heapMb), '--import', 'tsx', MAIN, ...args, '--log-level', flags.logLevel], {
          stdio: ['ignore', 'inherit', 'inherit'],
          env: nodeEnv(),
        });
        children.push(child);
        return child;
      };
      const metrics = (i: number) => (flags.metricsPort === undefined ? [] : ['--metrics-port', String(flags.metricsPort + i)]);
      for (let id = 0; id < 4; id++) node(['replica', '--dir', join(dir, `replica-${id}`), ...metrics(id)]);
      node(['client', '--dir', join(dir, 'client-4'), '--rpc-port', String(flags.rpcPort), ...metrics(4)]);
      const url = `http://127.0.0.1:${flags.rpcPort}`;
      await waitForRpc(url, children);
      const chainId = BigInt(await rpc(url, 'eth_chainId'));
      io.out(`\nBulwark development network\n  JSON-RPC  ${url} (WebSocket: ws://127.0.0.1:${flags.rpcPort})\n  explorer  ${url}/ (open it in a browser)\n  chain id  ${chainId}\n`);
      if (flags.metricsPort !== undefined) {
        io.out(`  metrics   http://127.0.0.1:${flags.metricsPort}..${flags.metricsPort + 4}/metrics (replicas 0-3, then the client node)\n`);
      }
      io.out('\n');
      io.out(`Accounts (mnemonic: "${DEV_MNEMONIC}")\n`);
      for (const a of accounts) io.out(`  #${a.index}  ${a.address}  key ${a.privateKey}\n`);
      io.out('\nCtrl-C stops the network; its data stays in the data directory.\n');
      await new Promise<void>((done) => {
        let stopping = false;
        const stop = () => {
          if (stopping) return;
          stopping = true;
          for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
          void Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))))).then(() => done());
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        for (const c of children) {
          c.once('exit', (code) => {
            if (stopping || code === 0 || code === null) return;
            io.err(`a node exited with code ${code}; stopping the network\n`);
            stop();
          });
        }
      });
    });
}

async function rpc(url: string, method: string): Promise<string> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }) });
  return ((await res.json()) as { result: string }).result;
}

async function waitForRpc(url: string, children: ChildProcess[]): Promise<void> {
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      await rpc(url, 'eth_blockNumber');
      return;
    } catch {
      if (children.some((c) => c.exitCode !== null)) throw new Error('a node exited during start-up');
      if (Date.now() > end) throw new Error(`no JSON-RPC at ${url} after 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
