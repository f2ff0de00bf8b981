// The random sweep: `npm run sim -- --seeds N [--from S]` runs N seeded mixed-fault scenarios and
// exits non-zero on any violation; its last line is one JSON object with the totals.
import { parseArgs } from 'node:util';
import { runRandomScenario } from '../test/sim/harness/random.ts';

const { values } = parseArgs({
  options: { seeds: { type: 'string', default: '100' }, from: { type: 'string', default: '1' }, verbose: { type: 'boolean', default: false } },
});
const seeds = Number(values.seeds);
const from = Number(values.from);
if (!Number.isSafeInteger(seeds) || seeds < 1 || !Number.isSafeInteger(from)) {
  console.error('usage: npm run sim -- --seeds N [--from S] [--verbose]');
  process.exit(2);
}
const started = performance.now();
let violations = 0;
let committed = 0;
const failed: number[] = [];
const events: Record<string, number> = {};
for (let seed = from; seed < from + seeds; seed++) {
  const o = await runRandomScenario(seed);
  committed += o.committed;
  for (const [k, v] of o.events) events[k] = (events[k] ?? 0) + v;
  if (o.violations.length > 0) {
    violations += o.violations.length;
    failed.push(seed);
    console.log(`seed ${seed} FAILED (${o.description}):\n  ${o.violations.join('\n  ')}\n${o.trace}`);
  } else if (values.verbose) {
    console.log(`seed ${seed} ok: ${o.committed} committed (${o.description})`);
  }
  if ((seed - from + 1) % 500 === 0) console.error(`… ${seed - from + 1}/${seeds} seeds, ${violations} violations`);
}
const seconds = Math.round((performance.now() - started) / 100) / 10;
// Protocol paths the sweep exercised (summed over honest replicas), so a sweep that never reached
// the slow path or a view change shows it.
console.error(`exercised: ${JSON.stringify(events)}`);
console.log(JSON.stringify({ seeds, from, violations, committed, failedSeeds: failed.slice(0, 20), seconds }));
process.exit(violations > 0 ? 1 : 0);
