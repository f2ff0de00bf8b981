/**
 * Reading the Ethereum Foundation's GeneralStateTests (see ../shared/conformance/README.md): each
 * file holds tests `{ name: { env, pre, transaction, post: { Cancun: [...] } } }`; every entry of
 * `post.Cancun` is one case (a signed transaction and the state root and logs hash it must give).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/);

const accountSchema = z.object({
  balance: hex,
  nonce: hex,
  code: hex,
  storage: z.record(hex, hex),
});

const envSchema = z.object({
  currentCoinbase: hex,
  currentNumber: hex,
  currentTimestamp: hex,
  currentGasLimit: hex,
  currentBaseFee: hex,
  currentRandom: hex,
  currentExcessBlobGas: hex,
});

const postSchema = z.object({
  hash: hex,
  logs: hex,
  txbytes: hex,
  indexes: z.object({ data: z.number(), gas: z.number(), value: z.number() }),
  expectException: z.string().optional(),
});

const testSchema = z.object({
  env: envSchema,
  pre: z.record(hex, accountSchema),
  post: z.object({ Cancun: z.array(postSchema) }),
});

const fileSchema = z.record(z.string(), testSchema);

export type VectorEnv = z.infer<typeof envSchema>;
export type VectorAccount = z.infer<typeof accountSchema>;
export type VectorPost = z.infer<typeof postSchema>;

/** One case: a (test, Cancun post index) pair. */
export interface VectorCase {
  /** `<folder>/<test>[<post index>]`, stable across runs: the key of expected-failures.json. */
  readonly id: string;
  readonly post: VectorPost;
}

/** One test: the pre-state and block shared by its cases. */
export interface VectorGroup {
  readonly name: string;
  readonly env: VectorEnv;
  readonly pre: Readonly<Record<string, VectorAccount>>;
  readonly cases: readonly VectorCase[];
}

/** Every `*.json` under `dir`, sorted so runs (and progress lines) are reproducible. */
export function vectorFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.json')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** The case id prefix of a test: its file path below the root, without `.json`, plus its name if that differs. */
function groupId(root: string, file: string, name: string): string {
  const base = relative(root, file).replace(/\.json$/, '');
  return base.endsWith(`/${name}`) || base === name ? base : `${base}:${name}`;
}

/** The tests of one file, with only the cases whose id contains `filter` (all when undefined). */
export function loadGroups(root: string, file: string, filter?: string): VectorGroup[] {
  const parsed = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const groups: VectorGroup[] = [];
  for (const [name, test] of Object.entries(parsed)) {
    const prefix = groupId(root, file, name);
    const cases = test.post.Cancun.map((post, i) => ({ id: `${prefix}[${i}]`, post })).filter(
      (c) => filter === undefined || c.id.includes(filter),
    );
    if (cases.length > 0) groups.push({ name, env: test.env, pre: test.pre, cases });
  }
  return groups;
}
