/**
 * A small static web site served beside JSON-RPC on the same port (the client node's explorer,
 * `explorer/`). Every file is read once, at start, into memory: a request is a lookup of its exact
 * path in a table, so no request ever reaches the file system and no path can climb out of the
 * site (`/../`, `%2e%2e`, `\` are simply not in the table). Only GET is served; the files are
 * bounded in number and size, and each answer carries a strict Content-Security-Policy (scripts,
 * styles and connections to this origin only; no inline script, no framing).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { BulwarkError } from '../common/errors.ts';

/** The content type of each extension served; files of any other kind are left out of the site. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** Limits on what a site may hold, checked when it is loaded (a site beyond them is refused). */
export const SITE_LIMITS = { maxFiles: 256, maxFileBytes: 2 << 20, maxTotalBytes: 16 << 20 } as const;

/**
 * Same-origin everything, nothing inline: `connect-src 'self'` covers this origin's ws:/wss: too
 * (CSP level 3), which is all the page talks to.
 */
export const SITE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

/** Where a part of the site comes from: a folder (walked) or named files, under a URL prefix. */
export interface SiteMount {
  /** URL prefix, starting and ending with `/` (e.g. `/` or `/vendor/noble-hashes/`). */
  readonly at: string;
  readonly dir: string;
  /** Only these files of `dir` (relative paths); absent: every file of a served kind, walked. */
  readonly files?: readonly string[];
}

export class StaticSite {
  readonly #files: ReadonlyMap<string, StaticFile>;

  private constructor(files: ReadonlyMap<string, StaticFile>) {
    this.#files = files;
  }

  /** Reads every mounted file now; `SITE_INVALID` if one is missing or the site is over its limits. */
  static load(mounts: readonly SiteMount[]): StaticSite {
    const files = new Map<string, StaticFile>();
    let total = 0;
    for (const m of mounts) {
      if (!m.at.startsWith('/') || !m.at.endsWith('/')) throw siteError(`mount point ${m.at} must start and end with /`);
      const names = m.files ?? walk(m.dir);
      for (const name of names) {
        const type = CONTENT_TYPES[extname(name)];
        if (type === undefined) continue;
        const path = join(m.dir, name);
        let body: Buffer;
        try {
          if (statSync(path).size > SITE_LIMITS.maxFileBytes) throw siteError(`${path} is larger than ${SITE_LIMITS.maxFileBytes} bytes`);
          body = readFileSync(path);
        } catch (err) {
          if (err instanceof BulwarkError) throw err;
          throw siteError(`cannot read ${path}: ${(err as Error).message}`);
        }
        total += body.length;
        files.set(m.at + name.split(sep).join('/'), { body, type });
      }
    }
    if (files.size > SITE_LIMITS.maxFiles) throw siteError(`${files.size} files, more than ${SITE_LIMITS.maxFiles}`);
    if (total > SITE_LIMITS.maxTotalBytes) throw siteError(`${total} bytes, more than ${SITE_LIMITS.maxTotalBytes}`);
    const index = files.get('/index.html');
    if (index !== undefined) files.set('/', index);
    return new StaticSite(files);
  }

  /** The file at a request's URL (its query string ignored), or undefined. Exact match only: no decoding, no normalising. */
  lookup(url: string): StaticFile | undefined {
    const q = url.search(/[?#]/);
    return this.#files.get(q < 0 ? url : url.slice(0, q));
  }

  /** Every path served (for tests and the start-up log). */
  get paths(): string[] {
    return [...this.#files.keys()];
  }
}

/** The headers every file goes out with. */
export function staticHeaders(f: StaticFile): Record<string, string> {
  return {
    'content-type': f.type,
    'content-length': String(f.body.length),
    'content-security-policy': SITE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-cache',
  };
}

/** Every file below `dir` (relative paths), hidden ones and symbolic links left out. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile()) out.push(relative(dir, p));
      if (out.length > SITE_LIMITS.maxFiles) throw siteError(`${dir} holds more than ${SITE_LIMITS.maxFiles} files`);
    }
  };
  try {
    visit(dir);
  } catch (err) {
    if (err instanceof BulwarkError) throw err;
    throw siteError(`cannot read ${dir}: ${(err as Error).message}`);
  }
  return out.sort();
}

function siteError(message: string): BulwarkError {
  return new BulwarkError('SITE_INVALID', `static site: ${message}`);
}
