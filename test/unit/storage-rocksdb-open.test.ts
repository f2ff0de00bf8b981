// Opening RocksDB must fail with a code the replica can act on, and a message naming the path, for
// each way a data directory goes wrong in practice.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openRocksStore } from '../../src/storage/rocksdb.ts';
import { isBulwarkError } from '../../src/common/errors.ts';

const root = mkdtempSync(join(tmpdir(), 'bulwark-storage-open-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `db${n++}`);

function failsWith(code: string, path: string) {
  return (err: unknown) => {
    assert.ok(isBulwarkError(err, code), `expected ${code}, got ${String((err as { code?: string }).code)}: ${String(err)}`);
    assert.ok(err.message.includes(path), `message should name ${path}: ${err.message}`);
    return true;
  };
}

/** A real database with one committed key, closed again, ready to be damaged. */
async function makeDb(): Promise<string> {
  const path = fresh();
  const s = await openRocksStore(path);
  await s.write([{ type: 'put', key: Uint8Array.of(1), value: Uint8Array.of(2) }], { sync: true });
  await s.close();
  return path;
}

test('a second handle on an open database in this process gets STORAGE_LOCKED', async () => {
  const path = fresh();
  const first = await openRocksStore(path);
  await assert.rejects(openRocksStore(path), failsWith('STORAGE_LOCKED', path));
  await first.close();
  const again = await openRocksStore(path);
  await again.close();
});

test('another process opening a database this one holds gets STORAGE_LOCKED', async () => {
  const path = fresh();
  const held = await openRocksStore(path);
  try {
    const child = await openInChild(path);
    assert.equal(child.code, 'STORAGE_LOCKED', child.message);
    assert.ok(child.message.includes(path), child.message);
  } finally {
    await held.close();
  }
  assert.equal((await openInChild(path)).code, 'OPENED', 'the lock goes with close()');
});

test('createIfMissing false on an absent directory gets STORAGE_MISSING', async () => {
  const path = fresh();
  await assert.rejects(openRocksStore(path, { createIfMissing: false }), failsWith('STORAGE_MISSING', path));
});

test('createIfMissing false on an empty directory gets STORAGE_MISSING', async () => {
  const path = fresh();
  mkdirSync(path);
  await assert.rejects(openRocksStore(path, { createIfMissing: false }), failsWith('STORAGE_MISSING', path));
});

test('createIfMissing false opens an existing database', async () => {
  const path = await makeDb();
  const s = await openRocksStore(path, { createIfMissing: false });
  assert.deepEqual(await s.get(Uint8Array.of(1)), Uint8Array.of(2), 'a synced write survives close and reopen');
  await s.close();
});

const damages: [string, (path: string) => void][] = [
  ['garbage in CURRENT', (p) => writeFileSync(join(p, 'CURRENT'), 'garbage\x00\xff')],
  ['a newline-terminated bogus name in CURRENT', (p) => writeFileSync(join(p, 'CURRENT'), 'not-a-manifest\n')],
  ['CURRENT naming a MANIFEST that is gone', (p) => writeFileSync(join(p, 'CURRENT'), 'MANIFEST-999999\n')],
  ['garbage in the MANIFEST', (p) => writeFileSync(join(p, manifestOf(p)), Buffer.alloc(256, 0xab))],
  ['a directory in place of CURRENT', (p) => {
    rmSync(join(p, 'CURRENT'));
    mkdirSync(join(p, 'CURRENT'));
  }],
];

for (const [label, damage] of damages) {
  test(`${label} gets STORAGE_CORRUPT (with and without createIfMissing)`, async () => {
    const path = await makeDb();
    damage(path);
    await assert.rejects(openRocksStore(path), failsWith('STORAGE_CORRUPT', path));
    await assert.rejects(openRocksStore(path, { createIfMissing: false }), failsWith('STORAGE_CORRUPT', path));
  });
}

test('a file in place of the database directory gets STORAGE_CORRUPT', async () => {
  const path = fresh();
  writeFileSync(path, 'not a database');
  await assert.rejects(openRocksStore(path), failsWith('STORAGE_CORRUPT', path));
});

test('a path under a regular file gets STORAGE_IO', async () => {
  const file = fresh();
  writeFileSync(file, 'x');
  const path = join(file, 'db');
  await assert.rejects(openRocksStore(path), failsWith('STORAGE_IO', path));
});

test('an out-of-range cacheSize is refused before anything is opened', async () => {
  const path = fresh();
  await assert.rejects(openRocksStore(path, { cacheSize: -1 }), (e) => isBulwarkError(e, 'STORAGE_INVALID_OPTION'));
  await assert.rejects(openRocksStore(path, { cacheSize: 2 ** 32 }), (e) => isBulwarkError(e, 'STORAGE_INVALID_OPTION'));
  const s = await openRocksStore(path, { cacheSize: 0 });
  await s.close();
});

test('location is the absolute path', async () => {
  const path = fresh();
  const s = await openRocksStore(path);
  assert.equal(s.location, path);
  await s.close();
});

function manifestOf(path: string): string {
  const name = readdirSync(path).find((f) => f.startsWith('MANIFEST-'));
  assert.ok(name !== undefined, `no MANIFEST in ${path}`);
  return name;
}

/** Opens `path` in a separate Node process and reports the outcome as {code, message}. */
async function openInChild(path: string): Promise<{ code: string; message: string }> {
  const module = fileURLToPath(new URL('../../src/storage/rocksdb.ts', import.meta.url));
  const script = `
    const { openRocksStore } = await import(${JSON.stringify(module)});
    try { const s = await openRocksStore(${JSON.stringify(path)}); await s.close(); console.log(JSON.stringify({ code: 'OPENED', message: '' })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  return JSON.parse(stdout.trim()) as { code: string; message: string };
}
