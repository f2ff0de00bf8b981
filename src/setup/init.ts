/**
 * The trusted setup on disk (`bulwark init`): generates the network (`generate.ts`) and writes the
 * network file and one directory per node (`layout.ts`).
 *
 * The output appears whole or not at all: everything is written into a staging directory beside the
 * target and renamed into place at the end, so an interrupted run leaves no half-network whose keys
 * someone might start to use. An existing non-empty target is refused: overwriting keys is how
 * networks are lost.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BulwarkError } from '../common/errors.ts';
import type { ScryptCost } from '../crypto/key-seal.ts';
import { generateNetwork, type GenerateOptions } from './generate.ts';
import { NETWORK_FILE, nodeDirectoryName, type DirectoryRole } from './layout.ts';
import type { NetworkConfig } from './network-file.ts';
import { writeNodeDirectory, type NodeSecrets, type SealOptions } from './node-directory.ts';

export { DEFAULT_CERT_VALIDITY_DAYS } from './generate.ts';

export interface InitOptions extends GenerateOptions {
  readonly outDir: string;
  /** Seal every private key under this passphrase. */
  readonly passphrase?: string;
  readonly scryptCost?: ScryptCost;
}

export interface InitResult {
  readonly outDir: string;
  readonly networkFile: string;
  readonly network: NetworkConfig;
  readonly directories: ReadonlyArray<{ readonly role: DirectoryRole; readonly id?: number; readonly path: string }>;
}

export async function runInit(options: InitOptions): Promise<InitResult> {
  const outDir = resolve(options.outDir);
  await checkTarget(outDir);
  const generated = generateNetwork(options);
  const all: NodeSecrets[] = [...generated.replicas, ...generated.clients, generated.operator];
  const seal: SealOptions =
    options.passphrase === undefined ? {} : { passphrase: options.passphrase, ...(options.scryptCost ? { cost: options.scryptCost } : {}) };
  const staging = join(dirname(outDir), `.${basename(outDir)}.init-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(staging, { recursive: true, mode: 0o700 });
    await writeFile(join(staging, NETWORK_FILE), generated.text, { mode: 0o644 });
    // Sealing runs scrypt on libuv's thread pool, so the directories are written concurrently.
    await Promise.all(all.map((s) => writeNodeDirectory(join(staging, directoryOf(s)), s, generated.text, seal)));
    await placeOutput(staging, outDir);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    if (cause instanceof BulwarkError) throw cause;
    throw new BulwarkError('SETUP_WRITE_FAILED', `cannot write the network to ${outDir}: ${(cause as Error).message}`, { path: outDir }, { cause });
  }
  return {
    outDir,
    networkFile: join(outDir, NETWORK_FILE),
    network: generated.network,
    directories: all.map((s) => ({ role: s.role, ...(s.role === 'operator' ? {} : { id: s.id }), path: join(outDir, directoryOf(s)) })),
  };
}

function directoryOf(s: NodeSecrets): string {
  return nodeDirectoryName(s.role, s.role === 'operator' ? undefined : s.id);
}

/** Absent or an empty directory: anything else may hold a network's keys. */
export async function checkTarget(outDir: string): Promise<void> {
  let info;
  try {
    info = await stat(outDir);
  } catch {
    return; // absent: fine
  }
  if (!info.isDirectory()) throw new BulwarkError('SETUP_OUTPUT_EXISTS', `${outDir} exists and is not a directory`, { path: outDir });
  if ((await readdir(outDir)).length > 0) {
    throw new BulwarkError('SETUP_OUTPUT_EXISTS', `${outDir} is not empty; refusing to overwrite a network's keys`, { path: outDir });
  }
}

/** Renames the staging directory onto the target, so the output appears whole or not at all. */
export async function placeOutput(staging: string, outDir: string): Promise<void> {
  await checkTarget(outDir); // again: someone may have written there while we generated keys
  await rmdir(outDir).catch(() => {});
  await rename(staging, outDir);
}
