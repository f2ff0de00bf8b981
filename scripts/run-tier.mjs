// Runs one test tier (a folder of *.test.ts files) with Node's test runner.
// Node 20 has no glob support in `--test`, so the file list is built here; an empty tier is
// reported plainly rather than passing silently.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/run-tier.mjs <dir>');
  process.exit(2);
}
function collect(d) {
  return readdirSync(d).flatMap((name) => {
    const p = join(d, name);
    if (statSync(p).isDirectory()) return collect(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}
const files = existsSync(dir) ? collect(dir).sort() : [];
if (files.length === 0) {
  console.log(`${dir}: no test files yet`);
  process.exit(0);
}
const extra = process.argv.slice(3);
// A test that hangs fails after 10 minutes, naming itself, instead of holding the whole run; a file
// whose tests are done is not kept alive by a handle left open.
const guards = ['--test-timeout=600000', '--test-force-exit'];
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...guards, ...extra, ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
