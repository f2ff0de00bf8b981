// Compiles test/fixtures/contracts/*.sol with the pinned solc (a dev dependency) into
// test/fixtures/contracts.json, which is committed so tests and benchmarks need no compiler run.
// Run after changing a contract: node scripts/compile-contracts.mjs
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const solc = createRequire(import.meta.url)('solc');
const dir = 'test/fixtures/contracts';
const sources = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith('.sol'))
    .map((f) => [f, { content: readFileSync(`${dir}/${f}`, 'utf8') }]),
);
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
if (errors.length > 0) {
  console.error(errors.map((e) => e.formattedMessage).join('\n'));
  process.exit(1);
}
const result = { compiler: solc.version(), contracts: {} };
for (const file of Object.keys(out.contracts)) {
  for (const [name, c] of Object.entries(out.contracts[file])) {
    result.contracts[name] = { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
  }
}
writeFileSync('test/fixtures/contracts.json', `${JSON.stringify(result, null, 1)}\n`);
console.log(`compiled ${Object.keys(result.contracts).join(', ')} with ${result.compiler}`);
