// Backup and restore as an operator does it, on a real network (four replica processes and a
// client node): replica 3 and the client node backed up with `bulwark backup` while they run and
// transactions flow; replica 3 stopped; `bulwark restore` into a new directory (a non-empty one
// refused); `bulwark verify-ledger` on the restored copy; replica 3 started from it in place of
// the original, more transactions, and it catches up to the others' exact chain; then the client
// node's restored copy, started in place of the original, catches up and lands a transaction.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { nodeEnv } from '../../src/cli/node-process.ts';
import { signTx, testConfig, testKey } from '../helpers/chain.ts';
import { REPO, bulwark } from '../helpers/cli.ts';
import { startNetwork, type ReplicaHealth, type TestNetwork } from '../helpers/network.ts';
import { rpcClient } from '../helpers/rpc.ts';

await initHashes();
const config = testConfig();
const common = buildCommon(config.chainId, config.hardfork);
const SINK = '0x00000000000000000000000000000000000000b7';

let net: TestNetwork;
/** Replica 3 started here from its restored directory. */
let restored: ChildProcess | null = null;
/** The client node started here from its restored directory. */
let restoredClient: ChildProcess | null = null;

before(async () => {
  net = await startNetwork(0x5e);
});
after(async () => {
  for (const p of [restored, restoredClient]) {
    if (p === null || p.exitCode !== null || p.signalCode !== null) continue;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
  await net?.stop();
});

/** Sends `count` transfers from test key `k` starting at `nonce` and waits for their receipts. */
async function transfers(k: number, nonce: bigint, count: number): Promise<void> {
  const rpc = rpcClient(net.url);
  await Promise.all(Array.from({ length: count }, (_, i) => rpc.send(signTx(common, testKey(k), { nonce: nonce + BigInt(i), to: SINK, value: 1n }), 30_000)));
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a replica backed up while running, restored into a new directory, verifies and catches up', { timeout: 240_000 }, async () => {
  await transfers(0, 0n, 5);
  const backup = join(net.root, 'backup-replica-3');
  const clientBackup = join(net.root, 'backup-client-4');
  // Backups while transactions flow: the nodes take them between their other work.
  const flowing = transfers(1, 0n, 20);
  const [b, c] = await Promise.all([
    bulwark(['backup', '--dir', join(net.root, 'replica-3'), '--out', backup, '--json'], net.env),
    bulwark(['backup', '--dir', join(net.root, `client-${net.clientId}`), '--out', clientBackup], net.env),
  ]);
  await flowing;
  assert.equal(b.code, 0, b.stderr);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /backup of client 4 written to .* \(taken by the running node\): data \d+ keys .*, state \d+ keys/);
  const manifest = JSON.parse(b.stdout) as { role: string; id: number; stores: { name: string; keys: number }[]; files: { path: string }[] };
  assert.equal(manifest.role, 'replica');
  assert.equal(manifest.id, 3);
  assert.ok(manifest.stores[0]!.keys > 0);
  assert.ok(manifest.files.some((f) => f.path === 'tls.key'));

  // The client node's backup restores and verifies too (not started: the original keeps running).
  const clientCopy = join(net.root, 'client-4-restored');
  assert.equal((await bulwark(['restore', '--from', clientBackup, '--dir', clientCopy])).code, 0);
  const clientVerify = await bulwark(['verify-ledger', '--dir', clientCopy]);
  assert.equal(clientVerify.code, 0, clientVerify.stdout + clientVerify.stderr);

  // Replica 3 stops for good; its backup goes into a new directory (a non-empty one is refused).
  const exit = await net.kill(3, 'SIGTERM');
  assert.equal(exit.code, 0);
  const occupied = join(net.root, 'occupied');
  mkdirSync(occupied);
  writeFileSync(join(occupied, 'something'), 'x');
  const refused = await bulwark(['restore', '--from', backup, '--dir', occupied]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /RESTORE_TARGET_NOT_EMPTY/);
  const dir = join(net.root, 'replica-3-restored');
  const r = await bulwark(['restore', '--from', backup, '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /restored replica 3 .* data \d+ keys/);
  const verify = await bulwark(['verify-ledger', '--dir', dir]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /ledger consistent \(replica\)/);
  const backupHead = Number(/; head (\d+) /.exec(verify.stdout)![1]);

  // More transactions while replica 3 is away, then it starts from the restored directory on its
  // own port and metrics port, in place of the original.
  await transfers(2, 0n, 10);
  const metricsPort = new URL(net.metricsUrl(3)).port;
  restored = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'replica', '--dir', dir, '--metrics-port', metricsPort, '--log-level', 'warn'], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...nodeEnv(), ...net.env },
  });
  await transfers(3, 0n, 10);
  const target = await net.health(0);
  assert.ok(target !== null);
  const caughtUp: ReplicaHealth = await until('the restored replica to catch up', 120_000, async () => {
    const h = await net.health(3);
    return h !== null && h.block >= target.block ? h : undefined;
  });
  // Its chain is the others' chain: the same hash at its head.
  const same = await until('replica 0 to report the restored replica\'s height', 30_000, async () => {
    const h = await net.health(0);
    return h !== null && h.block >= caughtUp.block ? h : undefined;
  });
  const rpc = rpcClient(net.url);
  const block = await rpc.call<{ hash: string }>('eth_getBlockByNumber', [`0x${caughtUp.block.toString(16)}`, false]);
  assert.equal(caughtUp.blockHash, block.hash);
  assert.ok(caughtUp.block > backupHead, `it caught up from the backup's block ${backupHead}`);
  assert.ok(same.block >= caughtUp.block);
  // It takes part again: it executes what comes next with the others.
  await transfers(0, 5n, 3);
  const after = await net.health(0);
  await until('the restored replica to execute the newest block', 60_000, async () => {
    const h = await net.health(3);
    return h !== null && h.block >= after!.block ? h : undefined;
  });

  // Stopped, its directory — the backup plus what it caught up — still verifies.
  const stopped = new Promise((res) => restored!.once('exit', res));
  restored.kill('SIGTERM');
  await stopped;
  const again = await bulwark(['verify-ledger', '--dir', dir]);
  assert.equal(again.code, 0, again.stdout + again.stderr);

  // The client node too: stopped, and its restored copy — far behind an idle network by now —
  // started on its ports, reaches the replicas' head and lands a transaction.
  assert.equal((await net.kill(net.clientId, 'SIGTERM')).code, 0);
  const head = (await net.health(0))!;
  restoredClient = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'client', '--dir', clientCopy, '--rpc-port', new URL(net.url).port, '--metrics-port', new URL(net.metricsUrl(net.clientId)).port, '--log-level', 'warn'],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'], env: { ...nodeEnv(), ...net.env } },
  );
  await until('the restored client node to reach the replicas\' head', 60_000, async () => {
    const n = await rpcClient(net.url).call<string>('eth_blockNumber').catch(() => undefined);
    return n !== undefined && BigInt(n) >= BigInt(head.block) ? n : undefined;
  });
  await transfers(0, 8n, 1);
  console.log(`backup: ${manifest.stores[0]!.keys} keys, block ${backupHead}; restored replica caught up to block ${caughtUp.block}; ${again.stdout.trim()}; restored client node at block ${head.block}`);
});
