// A written batch must not outlive its write: the binding's array form of batch() kept every
// batch, with its native WriteBatch, attached to the database until close (a replica grew by
// ~0.5 MB/s of native memory under load). Measured in a child process with a collection forced.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = mkdtempSync(join(tmpdir(), 'bulwark-rocks-memory-'));
after(() => rmSync(root, { recursive: true, force: true }));
const script = fileURLToPath(new URL('../helpers/rocks-batch-memory.ts', import.meta.url));

test('200 MiB written in 100 batches: the batches are freed once written (RSS grows by the memtables, not by the batches)', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', script, join(root, 'db')], {
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' },
  });
  const { rssGrowthMb, memtablesMb } = JSON.parse(stdout) as { rssGrowthMb: number; memtablesMb: number };
  // Kept batches would add their 200 MiB; measured: ~40 MiB beside the memtables, ~215 MiB before.
  assert.ok(rssGrowthMb - memtablesMb < 100, `RSS grew by ${rssGrowthMb.toFixed(0)} MiB, memtables ${memtablesMb.toFixed(0)} MiB`);
});
