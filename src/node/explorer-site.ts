/**
 * The explorer's files, as the client node serves them at `/` on its JSON-RPC port
 * (`rpc/static-site.ts`): the page and its ES modules from `explorer/` at the repository's root,
 * and the three modules of `@noble/hashes` its Keccak-256 comes from (`sha3.js` and the two it
 * imports), served as they are in node_modules. No build step: the browser loads them as written.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StaticSite } from '../rpc/static-site.ts';

export const EXPLORER_DIR = fileURLToPath(new URL('../../explorer/', import.meta.url));

/** Where the page imports Keccak-256 from (`explorer/hash.js`). */
export const NOBLE_HASHES_AT = '/vendor/noble-hashes/';
const NOBLE_HASHES_FILES = ['sha3.js', '_u64.js', 'utils.js'];

export function explorerSite(): StaticSite {
  const hashes = dirname(fileURLToPath(import.meta.resolve('@noble/hashes/sha3.js')));
  return StaticSite.load([
    { at: '/', dir: EXPLORER_DIR },
    { at: NOBLE_HASHES_AT, dir: hashes, files: NOBLE_HASHES_FILES },
  ]);
}
