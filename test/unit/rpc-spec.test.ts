// The execution-apis conformance suite's own checks: the method table the rpc-spec-*.test.ts files
// are typed by (test/helpers/spec-table.ts) is exactly the specification's eth, debug and txpool
// method lists, file by file; each yaml file has its test file; and the client node's method
// table (as test/helpers/rpc-context.ts composes it) defines every method, served or refused.
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRpcContext } from '../helpers/rpc-context.ts';
import { specMethods } from '../helpers/spec.ts';
import { SPEC_FILES, type SpecFile } from '../helpers/spec-table.ts';

/** `eth/fee_market.yaml` → `test/unit/rpc-spec-eth-fee-market.test.ts`. */
const testFileOf = (file: string) => new URL(`./rpc-spec-${file.replace('.yaml', '').replace(/[/_]/g, '-')}.test.ts`, import.meta.url);

test('the typed method table is the specification\'s: the same yaml files, the same methods in each (57)', () => {
  const byFile = new Map<string, string[]>();
  for (const m of specMethods().values()) byFile.set(m.file, [...(byFile.get(m.file) ?? []), m.name]);
  assert.deepEqual(
    Object.fromEntries([...byFile].sort(([a], [b]) => a.localeCompare(b))),
    Object.fromEntries(Object.entries(SPEC_FILES).sort(([a], [b]) => a.localeCompare(b))),
  );
  assert.equal(Object.values(SPEC_FILES).flat().length, 57);
});

test('each yaml file of the specification has its test file', () => {
  for (const file of Object.keys(SPEC_FILES) as SpecFile[]) assert.ok(existsSync(testFileOf(file)), `${file}: ${testFileOf(file).pathname}`);
});

test("the client node's method table defines every method of the specification", async () => {
  const ctx = await startRpcContext();
  const missing = Object.values(SPEC_FILES).flat().filter((name) => !ctx.methods.has(name));
  assert.deepEqual(missing, []);
});
