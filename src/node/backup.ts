/**
 * Backups of a node directory, taken while the node runs, and their restore.
 *
 * A backup is a directory: the node directory's files (node.json, network.json, keys, certificates,
 * `keys/`), each store (`data`, and a client node's `state`) as a new RocksDB database holding the
 * store as of one moment (`storage/copy.ts`), and `backup.json`, the manifest: role, id, time, each
 * store's key count, each file's mode and SHA-256. The files are copied in the same synchronous
 * stretch of the event loop as the stores' snapshots are taken, so keys and ledger agree: a key
 * the snapshot names was written (synced) before it, and a key retired after it is still copied.
 *
 * It holds the node's private keys (sealed if the node's are): keep it as the node directory is
 * kept. It is written next to its destination under a temporary name and renamed into place, so a
 * directory at the destination is a complete backup.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { BulwarkError } from '../common/errors.ts';
import { syncDirectory } from '../crypto/key-file.ts';
import { readNodeFile } from '../setup/node-directory.ts';
import { copyStores, openRocksStore, type KvStore } from '../storage/index.ts';

export const BACKUP_MANIFEST = 'backup.json';
/** The stores a node directory may hold, by directory name. */
export const STORE_NAMES = ['data', 'state'] as const;

const manifestSchema = z.strictObject({
  format: z.literal('bulwark-backup'),
  version: z.literal(1),
  role: z.enum(['replica', 'client']),
  id: z.number().int().nonnegative(),
  createdAt: z.string(),
  stores: z.array(z.strictObject({ name: z.enum(STORE_NAMES), keys: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() })),
  files: z.array(z.strictObject({ path: z.string(), mode: z.number().int(), bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});

export type BackupManifest = z.infer<typeof manifestSchema>;

/** Temp files and tombstones of the key stores (`setup/key-dir.ts`): never part of a backup. */
const LEFTOVER = /^\..+\.(?:retiring|[0-9a-f]{12}\.tmp)$/;

export interface BackupOptions {
  /** The node directory. */
  readonly dir: string;
  /** The backup directory to make: absent, or an empty directory; not inside `dir`. */
  readonly out: string;
  /** The node's open stores by name (`data`, `state`). */
  readonly stores: Readonly<Partial<Record<(typeof STORE_NAMES)[number], KvStore>>>;
}

/** Takes a backup of a node directory whose stores are open here (the running node's own, or opened offline). */
export async function takeBackup(o: BackupOptions): Promise<BackupManifest> {
  const dir = resolve(o.dir);
  const out = resolve(o.out);
  if (out === dir || !relative(dir, out).startsWith('..')) {
    throw new BulwarkError('BACKUP_TARGET_INVALID', `the backup ${out} cannot be inside the node directory ${dir}`, { out, dir });
  }
  await refuseNonEmpty(out, 'BACKUP_TARGET_EXISTS');
  const node = await readNodeFile(dir);
  if (node.role === 'operator' || node.id === undefined) {
    throw new BulwarkError('BACKUP_NOT_A_NODE', `${dir} is an operator directory, not a replica's or a client node's`, { dir });
  }
  const staging = stagingPath(out);
  await mkdir(dirname(out), { recursive: true, mode: 0o700 });
  await mkdir(staging, { mode: 0o700 });
  try {
    const stores = Object.entries(o.stores).filter((e): e is [(typeof STORE_NAMES)[number], KvStore] => e[1] !== undefined);
    let files: BackupManifest['files'] = [];
    const copied = await copyStores(
      stores.map(([name, kv]) => ({ from: kv, to: join(staging, name) })),
      () => (files = copyFilesSync(dir, staging)),
    );
    const manifest: BackupManifest = {
      format: 'bulwark-backup',
      version: 1,
      role: node.role,
      id: node.id,
      createdAt: new Date().toISOString(),
      stores: stores.map(([name], i) => ({ name, keys: copied[i]!.keys, bytes: copied[i]!.bytes })),
      files,
    };
    await writeFile(join(staging, BACKUP_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    syncTree(staging);
    await rmdir(out).catch(() => undefined); // an empty directory, if any (checked above): rename needs it gone or empty
    await rename(staging, out);
    await syncDirectory(dirname(out));
    return manifest;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

export interface RestoreOptions {
  /** The backup directory. */
  readonly from: string;
  /** The node directory to make: absent, or an empty directory. */
  readonly dir: string;
}

/**
 * Restores a backup into a new node directory: every file checked against the manifest's SHA-256,
 * every store copied and its keys counted against the manifest. Nothing in the backup is written
 * (its databases are copied as files, and only the copies are opened).
 */
export async function restoreBackup(o: RestoreOptions): Promise<BackupManifest> {
  const from = resolve(o.from);
  const dir = resolve(o.dir);
  const manifest = await readManifest(from);
  await refuseNonEmpty(dir, 'RESTORE_TARGET_NOT_EMPTY');
  const staging = stagingPath(dir);
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  await mkdir(staging, { mode: 0o700 });
  try {
    for (const f of manifest.files) {
      const source = join(from, f.path);
      if (!isInside(from, source)) throw corrupt(from, `${f.path} is outside the backup`);
      const bytes = await readFile(source).catch((cause: unknown) => {
        throw corrupt(from, `${f.path} cannot be read`, cause);
      });
      if (createHash('sha256').update(bytes).digest('hex') !== f.sha256) throw corrupt(from, `${f.path} does not match its SHA-256 in ${BACKUP_MANIFEST}`);
      await mkdir(dirname(join(staging, f.path)), { recursive: true, mode: 0o700 });
      await writeFile(join(staging, f.path), bytes, { mode: f.mode & 0o777 });
      chmodSync(join(staging, f.path), f.mode & 0o777);
    }
    for (const s of manifest.stores) {
      await cp(join(from, s.name), join(staging, s.name), { recursive: true, errorOnExist: true }).catch((cause: unknown) => {
        throw corrupt(from, `the store ${s.name} cannot be copied`, cause);
      });
      const keys = await countKeys(join(staging, s.name));
      if (keys !== s.keys) throw corrupt(from, `the store ${s.name} holds ${keys} keys, the manifest says ${s.keys}`);
    }
    syncTree(staging);
    await rmdir(dir).catch(() => undefined); // an empty directory, if any (checked above)
    await rename(staging, dir);
    await syncDirectory(dirname(dir));
    return manifest;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

export async function readManifest(from: string): Promise<BackupManifest> {
  const path = join(from, BACKUP_MANIFEST);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new BulwarkError('BACKUP_INVALID', `${path} cannot be read as JSON (is ${from} a backup made by \`bulwark backup\`?)`, { path }, { cause });
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success) throw new BulwarkError('BACKUP_INVALID', `${path} is not a backup manifest: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { path });
  return r.data;
}

async function countKeys(path: string): Promise<number> {
  const kv = await openRocksStore(path, { createIfMissing: false });
  try {
    let n = 0;
    for await (const _ of kv.iterate()) n++;
    return n;
  } finally {
    await kv.close();
  }
}

/**
 * Copies the node directory's files (not its stores, nor the key stores' temp
 * files and tombstones) into `to`, keeping their modes; synchronous, so nothing this process does
 * runs in between (see `copyStores`). Returns each file's manifest entry.
 */
function copyFilesSync(from: string, to: string, under = ''): BackupManifest['files'] {
  const out: BackupManifest['files'] = [];
  for (const e of readdirSync(join(from, under), { withFileTypes: true })) {
    const rel = under === '' ? e.name : `${under}/${e.name}`;
    if (under === '' && ((STORE_NAMES as readonly string[]).includes(e.name) || e.name === BACKUP_MANIFEST)) continue;
    if (LEFTOVER.test(e.name)) continue;
    if (e.isDirectory()) {
      mkdirSync(join(to, rel), { mode: statSync(join(from, rel)).mode & 0o777 });
      out.push(...copyFilesSync(from, to, rel));
    } else if (e.isFile()) {
      const bytes = readFileSync(join(from, rel));
      const mode = statSync(join(from, rel)).mode & 0o777;
      writeFileSync(join(to, rel), bytes, { mode });
      chmodSync(join(to, rel), mode); // the umask may have narrowed it
      out.push({ path: rel, mode, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
  }
  return out;
}

/** fsyncs every file and directory under `root` (RocksDB synced its own; this covers the rest). */
function syncTree(root: string): void {
  for (const e of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() && !e.isDirectory()) continue;
    const fd = openSync(join(e.parentPath, e.name), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const fd = openSync(root, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function refuseNonEmpty(path: string, code: 'BACKUP_TARGET_EXISTS' | 'RESTORE_TARGET_NOT_EMPTY'): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (st === null) return;
  if (!st.isDirectory() || (await readdir(path)).length > 0) {
    throw new BulwarkError(code, `${path} exists and is not an empty directory; refusing to overwrite it`, { path });
  }
}

function stagingPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
}

function isInside(root: string, path: string): boolean {
  return resolve(path).startsWith(root + sep);
}

function corrupt(from: string, what: string, cause?: unknown): BulwarkError {
  return new BulwarkError('BACKUP_CORRUPT', `the backup ${from} is damaged: ${what}`, { from }, cause === undefined ? undefined : { cause });
}
