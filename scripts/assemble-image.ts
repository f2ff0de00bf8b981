/**
 * Assembles what the container image holds under /app: the sources Bulwark runs from (it runs
 * TypeScript through tsx, a production dependency: there is no build step), the lockfile, and the
 * production packages of node_modules — chosen from package-lock.json, every package not marked
 * `dev`, each copied without the nested node_modules it may have (those are entries of their own).
 *
 *   node --import tsx scripts/assemble-image.ts --out DIR [--from ROOT]
 *
 * ROOT (default: this checkout) holds the sources and an installed node_modules. The Dockerfile runs
 * this after `npm ci --omit=dev`; test/unit/deploy-image.test.ts runs it on the full development
 * install, where the lockfile's choice is what keeps the dev packages out, and then starts
 * `bulwark` from DIR alone. A production package missing from ROOT is an error, except an optional
 * one (the platform builds of esbuild and blst: only the one for this machine is installed).
 *
 * Last line: {"out":…,"files":…,"packages":…,"bytes":…}.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** What the image needs besides node_modules, relative to ROOT. */
export const APP_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'bin', 'src', 'explorer', 'deploy/docker/healthcheck.mjs'];

interface LockEntry {
  readonly dev?: boolean;
  readonly optional?: boolean;
  readonly devOptional?: boolean;
  readonly link?: boolean;
}

export interface Lockfile {
  readonly lockfileVersion: number;
  readonly packages?: Record<string, LockEntry>;
}

export interface Assembled {
  readonly out: string;
  readonly files: number;
  readonly packages: number;
  readonly bytes: number;
}

/** The lockfile's production packages: [path under ROOT, optional]. */
export function productionPackages(lock: Lockfile): [path: string, optional: boolean][] {
  if (lock.lockfileVersion < 2 || typeof lock.packages !== 'object') {
    throw new Error('package-lock.json must be lockfileVersion 2 or 3 (with "packages")');
  }
  const out: [string, boolean][] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev === true || entry.link === true) continue;
    out.push([path, entry.optional === true || entry.devOptional === true]);
  }
  return out;
}

export function assembleImage({ from, out }: { from: string; out: string }): Assembled {
  if (existsSync(out) && readdirSync(out).length > 0) throw new Error(`${out} exists and is not empty`);
  mkdirSync(out, { recursive: true });
  for (const file of APP_FILES) {
    const src = join(from, file);
    if (!existsSync(src)) throw new Error(`${src} is missing`);
    cpSync(src, join(out, file), { recursive: true, verbatimSymlinks: true });
  }
  const lock = JSON.parse(readFileSync(join(from, 'package-lock.json'), 'utf8')) as Lockfile;
  let packages = 0;
  for (const [path, optional] of productionPackages(lock)) {
    const src = join(from, path);
    if (!existsSync(src)) {
      if (optional) continue;
      throw new Error(`production package ${path} is not installed under ${from} (run npm ci first)`);
    }
    const nested = src + sep + 'node_modules';
    cpSync(src, join(out, path), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (p) => p !== nested && !p.startsWith(nested + sep),
    });
    packages++;
  }
  const { files, bytes } = sizeOf(out);
  return { out, files, packages, bytes };
}

function sizeOf(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return { files, bytes };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, from: { type: 'string' } } });
  if (values.out === undefined) {
    process.stderr.write('usage: node --import tsx scripts/assemble-image.ts --out DIR [--from ROOT]\n');
    process.exit(2);
  }
  const from = resolve(values.from ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const result = assembleImage({ from, out: resolve(values.out) });
  process.stdout.write(JSON.stringify(result) + '\n');
}
