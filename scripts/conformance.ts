/**
 * Ethereum conformance: every GeneralStateTests case (Cancun) through our executor and RocksDB-backed
 * state, comparing state root and logs hash. See scripts/conformance/ and ../shared/conformance/README.md.
 *
 *   npm run conformance [-- --filter <substring>] [--baseline] [--dir <GeneralStateTests dir>]
 *
 * `--baseline` runs plain in-memory ethereumjs instead (the reference that ours must match).
 * Progress goes to stderr; failures and, last, one JSON summary line to stdout. Exits 1 when a case
 * fails that scripts/conformance/expected-failures.json does not list.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initHashes } from '../src/crypto/hash.ts';
import { openRocksStore } from '../src/storage/rocksdb.ts';
import { BaselineRunner } from './conformance/baseline.ts';
import { OurRunner, type GroupRunner } from './conformance/ours.ts';
import { DEFAULT_VECTOR_DIR, describeFailure, judge, loadExpectedFailures, runConformance } from './conformance/run.ts';
import type { CaseResult } from './conformance/common.ts';

const PROGRESS_EVERY = 500;

interface Cli {
  readonly dir: string;
  readonly filter: string | undefined;
  readonly baseline: boolean;
}

function parseCli(): Cli {
  const { values } = parseArgs({
    options: {
      filter: { type: 'string' },
      baseline: { type: 'boolean', default: false },
      dir: { type: 'string', default: DEFAULT_VECTOR_DIR },
    },
  });
  return { dir: values.dir, filter: values.filter, baseline: values.baseline };
}

function progress(started: number): (done: number, failed: number) => void {
  let next = PROGRESS_EVERY;
  return (done, failed) => {
    if (done < next) return;
    next = (Math.floor(done / PROGRESS_EVERY) + 1) * PROGRESS_EVERY;
    const s = ((performance.now() - started) / 1000).toFixed(0);
    process.stderr.write(`conformance: ${done} cases, ${failed} failed, ${s} s\n`);
  };
}

/** Runs with our executor over a fresh RocksDB database in a temporary directory, removed afterwards. */
async function runOurs(cli: Cli, onProgress: (done: number, failed: number) => void): Promise<CaseResult[]> {
  const dbDir = mkdtempSync(join(tmpdir(), 'bulwark-conformance-'));
  try {
    const kv = await openRocksStore(dbDir);
    try {
      return await run(cli, new OurRunner(kv), onProgress);
    } finally {
      await kv.close();
    }
  } finally {
    rmSync(dbDir, { recursive: true, force: true });
  }
}

function run(cli: Cli, runner: GroupRunner, onProgress: (done: number, failed: number) => void): Promise<CaseResult[]> {
  return runConformance({ dir: cli.dir, runner, onProgress, ...(cli.filter !== undefined ? { filter: cli.filter } : {}) });
}

async function main(): Promise<number> {
  const cli = parseCli();
  await initHashes();
  const started = performance.now();
  const onProgress = progress(started);
  const results = cli.baseline ? await run(cli, new BaselineRunner(), onProgress) : await runOurs(cli, onProgress);
  const expected = loadExpectedFailures();
  const j = judge(results, expected);
  for (const r of j.unexpected) console.log(describeFailure(r));
  for (const r of j.expected) console.log(describeFailure(r, expected.get(r.id)));
  for (const id of j.nowPassing) console.log(`NOW PASSING (listed as an expected failure): ${id}`);
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  console.log(JSON.stringify({ ...j.summary, mode: cli.baseline ? 'baseline' : 'bulwark', seconds }));
  return j.summary.unexpectedFailures === 0 ? 0 : 1;
}

process.exitCode = await main();
