/** Running a set of vectors and judging the results against the list of expected failures. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { CaseResult } from './common.ts';
import type { GroupRunner } from './ours.ts';
import { loadGroups, vectorFiles } from './vectors.ts';

export const DEFAULT_VECTOR_DIR = fileURLToPath(new URL('../../../shared/conformance/GeneralStateTests/', import.meta.url));
export const EXPECTED_FAILURES_FILE = fileURLToPath(new URL('./expected-failures.json', import.meta.url));

export interface RunOptions {
  readonly dir: string;
  readonly runner: GroupRunner;
  /** Only cases whose id contains this. */
  readonly filter?: string;
  /** Called after each test with the number of cases run so far. */
  readonly onProgress?: (done: number, failed: number) => void;
}

export async function runConformance(opts: RunOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  let failed = 0;
  for (const file of vectorFiles(opts.dir)) {
    for (const group of loadGroups(opts.dir, file, opts.filter)) {
      for (const r of await opts.runner.runGroup(group)) {
        results.push(r);
        if (!r.passed) failed++;
      }
      opts.onProgress?.(results.length, failed);
    }
  }
  return results;
}

/** Case id → why it is expected to fail. */
export type ExpectedFailures = ReadonlyMap<string, string>;

export function loadExpectedFailures(path = EXPECTED_FAILURES_FILE): ExpectedFailures {
  const json = z.record(z.string(), z.string()).parse(JSON.parse(readFileSync(path, 'utf8')));
  return new Map(Object.entries(json));
}

export interface Summary {
  readonly cases: number;
  readonly passed: number;
  readonly failed: number;
  readonly expectedFailures: number;
  readonly unexpectedFailures: number;
  /** Cases listed as expected failures that passed this time (reported, not an error). */
  readonly nowPassing: number;
  /** How many transactions our executor refused, by rejection code (all cases, passed or not). */
  readonly rejections: Readonly<Record<string, number>>;
}

export interface Judgement {
  readonly summary: Summary;
  readonly unexpected: readonly CaseResult[];
  readonly expected: readonly CaseResult[];
  readonly nowPassing: readonly string[];
}

export function judge(results: readonly CaseResult[], expected: ExpectedFailures): Judgement {
  const failures = results.filter((r) => !r.passed);
  const unexpected = failures.filter((r) => !expected.has(r.id));
  const expectedHit = failures.filter((r) => expected.has(r.id));
  const nowPassing = results.filter((r) => r.passed && expected.has(r.id)).map((r) => r.id);
  return {
    summary: {
      cases: results.length,
      passed: results.length - failures.length,
      failed: failures.length,
      expectedFailures: expectedHit.length,
      unexpectedFailures: unexpected.length,
      nowPassing: nowPassing.length,
      rejections: countRejections(results),
    },
    unexpected,
    expected: expectedHit,
    nowPassing,
  };
}

function countRejections(results: readonly CaseResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) if (r.rejectReason !== undefined) counts[r.rejectReason] = (counts[r.rejectReason] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** One line per failure: what was expected, what we got, and why the transaction was refused. */
export function describeFailure(r: CaseResult, reason?: string): string {
  const parts = [`FAIL ${r.id}`];
  if (r.gotRoot !== r.expectedRoot) parts.push(`root expected ${r.expectedRoot} got ${r.gotRoot}`);
  if (r.gotLogs !== r.expectedLogs) parts.push(`logs expected ${r.expectedLogs} got ${r.gotLogs}`);
  if (r.rejection !== undefined) parts.push(`rejected: ${r.rejection}`);
  if (r.expectException !== undefined) parts.push(`vector expects exception ${r.expectException}`);
  if (reason !== undefined) parts.push(`expected failure: ${reason}`);
  return parts.join(' | ');
}
