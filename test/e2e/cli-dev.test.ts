// `bulwark dev` (npm start): a whole network from one command, funded development accounts, a clean
// stop on Ctrl-C, and the chain resumed on the next run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { signTx } from '../helpers/chain.ts';
import { freePorts } from '../helpers/net.ts';

await initHashes();

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

async function runDev(dir: string, ports: { base: number; rpc: number; metrics: number }, check: (url: string, out: string) => Promise<void>): Promise<void> {
  const args = ['dev', '--dir', dir, '--base-port', String(ports.base), '--rpc-port', String(ports.rpc), '--metrics-port', String(ports.metrics)];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const end = Date.now() + 90_000;
    while (!out.includes('Ctrl-C stops the network')) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`dev did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await check(`http://127.0.0.1:${ports.rpc}`, out);
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, 'Ctrl-C is a clean stop');
}

test('bulwark dev: a network with the development accounts, stopped and resumed', { timeout: 240_000 }, async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'bulwark-dev-')), 'chain');
  try {
    const ports = { base: await consecutiveFreePorts(4), rpc: (await freePorts(1))[0]!, metrics: await consecutiveFreePorts(5) };
    const account0 = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
    const key0 = new Uint8Array(Buffer.from('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', 'hex'));
    const recipient = '0x00000000000000000000000000000000000000d1';
    let txHash = '';
    await runDev(dir, ports, async (url, out) => {
      assert.match(out, /New chain/);
      assert.match(out, /chain id {2}1337/);
      assert.ok(out.includes(account0), 'the first Hardhat/Anvil account is listed');
      assert.ok(out.includes(`explorer  ${url}/`), "the explorer's URL is printed");
      const page = await fetch(`${url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>Bulwark explorer<\/title>/);
      assert.equal(await call(url, 'eth_chainId'), '0x539');
      assert.equal(BigInt(await call(url, 'eth_getBalance', [account0, 'latest'])), 10_000n * 10n ** 18n);
      // A transaction, so the resumed chain has a block beyond genesis to come back to.
      const raw = signTx(buildCommon(1337n, 'cancun'), key0, { nonce: 0n, to: recipient, value: 5n, gasLimit: 21_000n }).serialize();
      txHash = await call(url, 'eth_sendRawTransaction', [`0x${Buffer.from(raw).toString('hex')}`]);
      const receipt = (await call(url, 'eth_getTransactionReceipt', [txHash])) as unknown as { status: string; blockNumber: string } | null;
      assert.equal(receipt?.status, '0x1');
      await call(url, 'eth_noSuchMethod');
      // Every node serves Prometheus metrics; the client node counts JSON-RPC calls by method and outcome.
      const client = await (await fetch(`http://127.0.0.1:${ports.metrics + 4}/metrics`)).text();
      assert.match(client, /bulwark_rpc_calls_total\{method="eth_chainId",outcome="ok"\} [1-9]/);
      assert.match(client, /bulwark_rpc_calls_total\{method="unknown",outcome="-32601"\} 1/);
      assert.match(client, /bulwark_net_peer_connected\{peer="0"\} 1/);
      assert.match(client, /bulwark_process_cpu_seconds_total/);
      const replica = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
      assert.match(replica, /bulwark_consensus_view 0/);
      const health = (await (await fetch(`http://127.0.0.1:${ports.metrics + 4}/health`)).json()) as { block: number };
      assert.equal(typeof health.block, 'number');
    });
    await runDev(dir, ports, async (url, out) => {
      assert.match(out, /Resuming the chain/);
      assert.equal(BigInt(await call(url, 'eth_getBalance', [recipient, 'latest'])), 5n);
      assert.equal(BigInt(await call(url, 'eth_getTransactionCount', [account0, 'latest'])), 1n);
      const receipt = (await call(url, 'eth_getTransactionReceipt', [txHash])) as unknown as { status: string } | null;
      assert.equal(receipt?.status, '0x1', 'the receipt from before the restart is there');
    });
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
