// `bulwark dev` (npm start): a whole network from one command, funded development accounts, a clean
// stop on Ctrl-C, and the chain resumed on the next run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { freePorts } from '../helpers/net.ts';

/** `count` consecutive ports that can be bound right now (dev gives replicas base-port .. +3). */
async function consecutiveFreePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const servers = [];
    try {
      for (let i = 0; i < count; i++) {
        const s = createServer();
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(base + i, '127.0.0.1', () => resolve());
        });
        servers.push(s);
      }
      return base;
    } catch {
      // taken: try another range
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error('no free port range');
}

async function call(url: string, method: string, params: unknown[] = []): Promise<string> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return ((await res.json()) as { result: string }).result;
}

async function runDev(dir: string, basePort: number, rpcPort: number, check: (url: string, out: string) => Promise<void>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'dev', '--dir', dir, '--base-port', String(basePort), '--rpc-port', String(rpcPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const end = Date.now() + 90_000;
    while (!out.includes('Ctrl-C stops the network')) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`dev did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await check(`http://127.0.0.1:${rpcPort}`, out);
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, 'Ctrl-C is a clean stop');
}

test('bulwark dev: a network with the development accounts, stopped and resumed', { timeout: 240_000 }, async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'bulwark-dev-')), 'chain');
  try {
    const basePort = await consecutiveFreePorts(4);
    const rpcPort = (await freePorts(1))[0]!;
    const account0 = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
    await runDev(dir, basePort, rpcPort, async (url, out) => {
      assert.match(out, /New chain/);
      assert.match(out, /chain id {2}1337/);
      assert.ok(out.includes(account0), 'the first Hardhat/Anvil account is listed');
      assert.equal(await call(url, 'eth_chainId'), '0x539');
      assert.equal(BigInt(await call(url, 'eth_getBalance', [account0, 'latest'])), 10_000n * 10n ** 18n);
    });
    await runDev(dir, basePort, rpcPort, async (url, out) => {
      assert.match(out, /Resuming the chain/);
      assert.equal(BigInt(await call(url, 'eth_getBalance', [account0, 'latest'])), 10_000n * 10n ** 18n);
    });
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
