import assert from 'node:assert/strict';
import type { World } from './world.ts';

/** Every honest, running replica executed the same prefix, up to the same point. */
export function assertConverged(w: World, ids?: number[]): void {
  const nodes = w.honestReplicas().filter((r) => r.alive && (ids === undefined || ids.includes(r.id)));
  const heads = nodes.map((r) => r.app.state.lastExecuted);
  assert.ok(heads.length > 0);
  assert.deepEqual(heads, heads.map(() => heads[0]), `seed ${w.seed}: replicas stopped at different points: ${heads.join(',')}`);
  const roots = nodes.map((r) => Buffer.from(r.app.state.summary.stateRoot).toString('hex'));
  assert.equal(new Set(roots).size, 1, `seed ${w.seed}: different state roots`);
}

export function viewOf(w: World, id: number): number {
  return w.replicas[id]!.state!.view;
}

export function executedAt(w: World, id: number): number {
  return w.replicas[id]!.app.state.lastExecuted;
}

export async function done(w: World, ms: number): Promise<void> {
  await w.runUntilClientsDone(ms);
  w.assertSafe();
}
