// A bounded slice of the random sweep (`npm run sim` runs as many seeds as asked): mixed faults,
// Byzantine decorators and Twins, each run failing on any safety or liveness violation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runRandomScenario } from './harness/random.ts';

const SEEDS = Number(process.env.SIM_SEEDS ?? 150);

test(`random mixed-fault scenarios, seeds 1..${SEEDS}`, () => {
  const failures: string[] = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const o = runRandomScenario(seed);
    if (o.violations.length > 0) failures.push(`seed ${seed} (${o.description}): ${o.violations.join('; ')}`);
  }
  assert.deepEqual(failures, []);
});
