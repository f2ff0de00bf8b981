// Backups of a node directory (`node/backup.ts`, `storage/copy.ts`) on in-memory and RocksDB
// stores: the copy is the store at one moment however it is written meanwhile, the files come
// with their modes, leftovers of the key stores and sockets stay out, a damaged or
// tampered backup is refused, and neither command overwrites anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.ts';
import { isBulwarkError } from '../../src/common/errors.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { pino } from 'pino';
import { AdminServer, adminRequest, adminSocketPath } from '../../src/node/admin.ts';
import { readManifest, restoreBackup, takeBackup } from '../../src/node/backup.ts';
import { runInit } from '../../src/setup/init.ts';
import { MemoryStore, copyStores, openRocksStore, type KvStore } from '../../src/storage/index.ts';
import { testConfig } from '../helpers/chain.ts';

await initHashes();

const key = (i: number) => new Uint8Array([0x42, i >> 8, i & 0xff]);

async function withRoot(body: (root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bulwark-backup-'));
  try {
    await body(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function nodeDir(root: string): Promise<string> {
  await runInit({ outDir: join(root, 'net'), topology: { replicas: 4, clients: 1 }, chainConfig: testConfig(), seed: new Uint8Array(32).fill(9) });
  return join(root, 'net', 'replica-3');
}

async function rows(kv: KvStore): Promise<number> {
  let n = 0;
  for await (const _ of kv.iterate()) n++;
  return n;
}

for (const kind of ['memory', 'rocksdb'] as const) {
  test(`copyStores (${kind} source): the copy is the store as of the snapshot, writes made meanwhile are not in it`, async () => {
    await withRoot(async (root) => {
      const kv: KvStore = kind === 'memory' ? new MemoryStore() : await openRocksStore(join(root, 'source'));
      try {
        await kv.write(Array.from({ length: 25_000 }, (_, i) => ({ type: 'put' as const, key: key(i), value: new Uint8Array(100).fill(i & 0xff) })));
        let late: Promise<void> = Promise.resolve();
        const [copied] = await copyStores([{ from: kv, to: join(root, 'copy') }], () => {
          late = kv.write([{ type: 'put', key: key(60_000), value: new Uint8Array([1]) }, { type: 'del', key: key(0) }]);
        });
        await late;
        assert.equal(copied!.keys, 25_000);
        assert.equal(await kv.get(key(0)), undefined, 'the late write did land in the source');
      } finally {
        await kv.close();
      }
      const copy = await openRocksStore(join(root, 'copy'), { createIfMissing: false });
      try {
        assert.equal(await rows(copy), 25_000);
        assert.deepEqual(await copy.get(key(0)), new Uint8Array(100).fill(0));
        assert.equal(await copy.get(key(60_000)), undefined);
      } finally {
        await copy.close();
      }
    });
  });
}

test('takeBackup and restoreBackup: files with their modes, stores by key count; leftovers and the socket stay out', async () => {
  await withRoot(async (root) => {
    const dir = await nodeDir(root);
    mkdirSync(join(dir, 'keys'), { mode: 0o700 });
    writeFileSync(join(dir, 'keys', 'consensus-1.key'), 'secret', { mode: 0o600 });
    writeFileSync(join(dir, 'keys', '.consensus-2.key.0123456789ab.tmp'), 'half-written');
    const socket = createServer();
    await new Promise<void>((r) => socket.listen(join(dir, 'stray.sock'), r));
    const kv = await openRocksStore(join(dir, 'data'));
    try {
      await kv.write([{ type: 'put', key: key(1), value: key(2) }]);
      const m = await takeBackup({ dir, out: join(root, 'b'), stores: { data: kv } });
      assert.equal(m.role, 'replica');
      assert.equal(m.id, 3);
      assert.deepEqual(m.stores, [{ name: 'data', keys: 1, bytes: 6 }]);
      const paths = m.files.map((f) => f.path).sort();
      assert.ok(paths.includes('keys/consensus-1.key') && paths.includes('node.json') && paths.includes('network.json'));
      assert.ok(!paths.some((p) => p.endsWith('.tmp') || p === 'stray.sock'));
      assert.equal(statSync(join(root, 'b', 'keys', 'consensus-1.key')).mode & 0o777, 0o600);
      assert.equal(statSync(join(root, 'b')).mode & 0o777, 0o700);
      assert.deepEqual(await readManifest(join(root, 'b')), m);
      // Neither overwrites: a backup into a non-empty directory, or inside the node directory.
      await assert.rejects(takeBackup({ dir, out: join(root, 'b'), stores: { data: kv } }), (e) => isBulwarkError(e, 'BACKUP_TARGET_EXISTS'));
      await assert.rejects(takeBackup({ dir, out: join(dir, 'b'), stores: { data: kv } }), (e) => isBulwarkError(e, 'BACKUP_TARGET_INVALID'));
    } finally {
      await kv.close();
      socket.close();
    }
    mkdirSync(join(root, 'empty'));
    const r = await restoreBackup({ from: join(root, 'b'), dir: join(root, 'empty') });
    assert.equal(r.id, 3);
    assert.deepEqual(readdirSync(join(root, 'empty', 'keys')), ['consensus-1.key']);
    assert.equal(statSync(join(root, 'empty', 'keys', 'consensus-1.key')).mode & 0o777, 0o600);
    const restored = await openRocksStore(join(root, 'empty', 'data'), { createIfMissing: false });
    try {
      assert.deepEqual(await restored.get(key(1)), key(2));
    } finally {
      await restored.close();
    }
    await assert.rejects(restoreBackup({ from: join(root, 'b'), dir }), (e) => isBulwarkError(e, 'RESTORE_TARGET_NOT_EMPTY'));
    // No staging directory is left behind by the refusals.
    assert.deepEqual(readdirSync(root).filter((n) => n.endsWith('.partial')), []);
  });
});

test('restoreBackup refuses a tampered file and a missing store, and leaves no partial directory', async () => {
  await withRoot(async (root) => {
    const dir = await nodeDir(root);
    const kv = await openRocksStore(join(dir, 'data'));
    try {
      await kv.write([{ type: 'put', key: key(1), value: key(2) }]);
      await takeBackup({ dir, out: join(root, 'b'), stores: { data: kv } });
    } finally {
      await kv.close();
    }
    chmodSync(join(root, 'b', 'execution.key'), 0o600);
    writeFileSync(join(root, 'b', 'execution.key'), 'not the key');
    await assert.rejects(restoreBackup({ from: join(root, 'b'), dir: join(root, 'r1') }), (e) => isBulwarkError(e, 'BACKUP_CORRUPT') && /execution\.key/.test(e.message));
    copyFileSync(join(dir, 'execution.key'), join(root, 'b', 'execution.key'));
    rmSync(join(root, 'b', 'data'), { recursive: true });
    await assert.rejects(restoreBackup({ from: join(root, 'b'), dir: join(root, 'r2') }), (e) => isBulwarkError(e, 'BACKUP_CORRUPT') && /store data/.test(e.message));
    await assert.rejects(restoreBackup({ from: dir, dir: join(root, 'r3') }), (e) => isBulwarkError(e, 'BACKUP_INVALID'));
    assert.deepEqual(readdirSync(root).sort(), ['b', 'net']);
  });
});

test('admin socket: in a private runtime directory, found from the node directory; a shared one is refused', async () => {
  await withRoot(async (root) => {
    const dir = await nodeDir(root);
    const runtime = join(root, 'run');
    const before = process.env.BULWARK_RUNTIME_DIR;
    process.env.BULWARK_RUNTIME_DIR = runtime;
    const log = pino({ level: 'silent' });
    try {
      assert.equal(await adminRequest(dir, { op: 'backup', out: join(root, 'b') }), null, 'no node running: no answer');
      const outs: string[] = [];
      const admin = await AdminServer.start(dir, { backup: async (out) => (outs.push(out), { format: 'bulwark-backup', version: 1, role: 'replica', id: 3, createdAt: 'now', stores: [], files: [] }) }, log);
      assert.ok(admin !== null);
      try {
        assert.equal(statSync(runtime).mode & 0o777, 0o700);
        assert.equal(statSync((await adminSocketPath(dir)).path).mode & 0o777, 0o600);
        assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.sock')), [], 'nothing in the node directory');
        const reply = await adminRequest(dir, { op: 'backup', out: join(root, 'b') });
        assert.equal(reply?.ok, true);
        assert.deepEqual(outs, [join(root, 'b')]);
        const bad = await adminRequest(dir, { op: 'backup', out: 'relative' });
        assert.equal(bad?.ok === false && bad.code, 'ADMIN_BAD_REQUEST');
      } finally {
        await admin.close();
      }
      assert.equal(await adminRequest(dir, { op: 'backup', out: join(root, 'b') }), null, 'closed: no answer');
      // A runtime directory others may enter is not used, by either side.
      chmodSync(runtime, 0o755);
      assert.equal(await AdminServer.start(dir, { backup: () => Promise.reject(new Error('unreachable')) }, log), null);
    } finally {
      if (before === undefined) delete process.env.BULWARK_RUNTIME_DIR;
      else process.env.BULWARK_RUNTIME_DIR = before;
    }
  });
});

test('bulwark backup on a stopped node opens its stores itself; on a node holding them without a socket it says so', async () => {
  await withRoot(async (root) => {
    const dir = await nodeDir(root);
    const out: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void out.push(s) };
    // Never started: the keys alone.
    assert.equal(await runCli(['backup', '--dir', dir, '--out', join(root, 'keys-only')], io), 0, out.join(''));
    assert.match(out.join(''), /backup of replica 3 written to .* \(node stopped\): no database yet; \d+ files/);
    const kv = await openRocksStore(join(dir, 'data'));
    await kv.write([{ type: 'put', key: key(1), value: key(2) }]);
    // Held by this process (as by a node started with --no-admin-socket): refused, named.
    out.length = 0;
    assert.equal(await runCli(['backup', '--dir', dir, '--out', join(root, 'held')], io), 1);
    assert.match(out.join(''), /BACKUP_NODE_UNREACHABLE/);
    await kv.close();
    out.length = 0;
    assert.equal(await runCli(['backup', '--dir', dir, '--out', join(root, 'stopped')], io), 0, out.join(''));
    assert.match(out.join(''), /\(node stopped\): data 1 keys/);
    assert.equal((await readManifest(join(root, 'stopped'))).stores[0]!.keys, 1);
  });
});
