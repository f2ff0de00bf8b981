/**
 * The Bulwark network as `npm start` runs it: `bulwark dev` in a temporary directory — four
 * replica processes and a client node on this machine, over TLS and RocksDB.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../test/helpers/net.ts';
import { sampleNode, type NodeHandle } from '../soak/nodes.ts';
import { log, Rpc, sleep } from './client.ts';
import { ROOT, waitForExit, waitForRpc, type System } from './system.ts';

export interface BulwarkOptions {
  /** Development accounts funded at genesis (10,000 ETH each). */
  readonly accounts: number;
  readonly logLevel: string;
}

/**
 * A new network first replaces its bootstrap consensus keys (issue #7): the exchange, then empty
 * batches up to the agreed checkpoint boundary. That start-up cost is reported on its own and not
 * mixed into the measurements that follow.
 */
async function keysInEffect(rpc: Rpc): Promise<void> {
  const t0 = performance.now();
  const end = Date.now() + 120_000;
  for (;;) {
    const status = await rpc.call<{ nodes: { keyEpoch?: number }[] }>('bft_status');
    if (status.nodes.every((n) => (n.keyEpoch ?? 0) >= 1)) break;
    if (Date.now() > end) throw new Error('the replicas did not switch to their own consensus keys within 2 minutes');
    await sleep(100);
  }
  log(`bulwark: consensus keys exchanged and in effect ${Math.round(performance.now() - t0)} ms after the endpoint answered`);
}

export async function startBulwark(o: BulwarkOptions): Promise<System> {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-bench-'));
  const [basePort, , , , rpcPort, metricsPort] = await freePorts(10);
  const proc = spawn(
    process.execPath,
    [
      ...['--import', 'tsx', 'src/cli/main.ts', 'dev', '--dir', dir, '--accounts', String(o.accounts)],
      ...['--base-port', String(basePort), '--rpc-port', String(rpcPort), '--metrics-port', String(metricsPort), '--log-level', o.logLevel],
    ],
    { cwd: ROOT, stdio: ['ignore', process.stderr, 'inherit'] },
  );
  const rpc = new Rpc(`http://127.0.0.1:${rpcPort}`);
  const stop = async () => {
    await rpc.close();
    proc.kill('SIGINT');
    await waitForExit(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForRpc(rpc, [proc]);
    await keysInEffect(rpc);
    // `bulwark dev` starts the nodes as its children; their memory comes from their own metrics
    // (prom-client's process_resident_memory_bytes reads the same /proc figure).
    const nodes = [0, 1, 2, 3, 4].map(
      (i): NodeHandle => ({ name: i === 4 ? 'client' : `replica${i}`, replica: i === 4 ? null : i, metricsUrl: `http://127.0.0.1:${metricsPort! + i}/metrics`, pid: () => undefined, running: () => proc.exitCode === null }),
    );
    return {
      name: 'bulwark',
      rpc,
      chainId: BigInt(await rpc.call<string>('eth_chainId')),
      gasPrice: BigInt(await rpc.call<string>('eth_gasPrice')),
      probe: async () => (await Promise.all(nodes.map(sampleNode))).map((s) => ({ name: s.name, rssMb: s.rssMb, viewChanges: s.viewChanges })),
      diagnose: async () => {
        for (let i = 0; i < 5; i++) {
          const health = await fetch(`http://127.0.0.1:${metricsPort! + i}/health`).then((r) => r.text(), (e: unknown) => String(e));
          log(`node ${i}: ${health}`);
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
