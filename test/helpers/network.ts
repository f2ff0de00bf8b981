/**
 * A real local network for end-to-end tests: the trusted setup in a temporary directory, four
 * replica processes and one client node process on free loopback ports, torn down by `stop`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInit } from '../../src/setup/init.ts';
import { testConfig } from './chain.ts';
import { freePorts } from './net.ts';

export interface TestNetwork {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startNetwork(seedByte: number): Promise<TestNetwork> {
  const root = mkdtempSync(join(tmpdir(), 'bulwark-e2e-'));
  const procs: ChildProcess[] = [];
  const run = (args: string[]) =>
    procs.push(spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] }));
  const stop = async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)))));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const ports = await freePorts(5);
    await runInit({
      outDir: root,
      topology: { replicas: 4, clients: 1, replicaEndpoints: ports.slice(0, 4).map((port) => ({ host: '127.0.0.1', port })) },
      chainConfig: testConfig(),
      seed: new Uint8Array(32).fill(seedByte),
    });
    for (let id = 0; id < 4; id++) run(['replica', '--dir', join(root, `replica-${id}`)]);
    run(['client', '--dir', join(root, 'client-4'), '--rpc-port', String(ports[4])]);
    const url = `http://127.0.0.1:${ports[4]}`;
    const end = Date.now() + 60_000;
    for (;;) {
      try {
        const res = await fetch(url, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }) });
        if (res.ok) break;
      } catch {
        // not up yet
      }
      if (Date.now() > end) throw new Error('the network did not come up');
      await new Promise((r) => setTimeout(r, 200));
    }
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
