/**
 * One random mixed-fault scenario per seed: a configuration (f, c, and n, sometimes with replicas
 * to spare), a lossy network, up to f Byzantine replicas (decorated or twinned), crashes and
 * restarts, partitions and one-way links for a while; then the faults heal and every client's
 * requests must commit.
 */
import { BEHAVIOURS, FLOODS, byName } from './byzantine.ts';
import type { Behaviour } from './node.ts';
import { Prng } from './prng.ts';
import { World } from './world.ts';
import { operatorPayload } from './operator.ts';

export interface ScenarioOutcome {
  readonly seed: number;
  readonly description: string;
  readonly violations: readonly string[];
  readonly committed: number;
  readonly trace: string;
  readonly events: ReadonlyMap<string, number>;
}

const SHAPES = [
  { f: 1, c: 0 },
  { f: 2, c: 0 },
  { f: 1, c: 1 },
] as const;

export async function runRandomScenario(seed: number, options: { plantedBug?: 'quorum-one-too-small' } = {}): Promise<ScenarioOutcome> {
  const p = new Prng(seed ^ 0x5bd1e995);
  const shape = p.pick(SHAPES);
  // A quarter of the scenarios run with one or two replicas to spare (issue #19: n > 3f + 2c + 1
  // while a network grows), from a draw of their own, so that the others stay as they were.
  const spareDraw = new Prng(seed ^ 0x53504152);
  const spare = spareDraw.chance(0.25) ? spareDraw.int(1, 2) : 0;
  const n = 3 * shape.f + 2 * shape.c + 1 + spare;
  const faulty = p.int(0, shape.f);
  const ids = [...Array(n).keys()];
  const byzantine: Record<number, Behaviour[]> = {};
  const twins: number[] = [];
  const notes: string[] = [`f=${shape.f} c=${shape.c}${spare > 0 ? ` n=${n}` : ''}`];
  // Replica 0 leads view 0; make it the faulty one often, where faults hurt most.
  const pool = p.chance(0.5) ? ids : [0, ...ids.slice(1)];
  const chosen = new Set<number>();
  while (chosen.size < faulty) chosen.add(p.chance(0.4) ? 0 : p.pick(pool));
  for (const id of chosen) {
    if (p.chance(0.15)) {
      twins.push(id);
      notes.push(`r${id}=twins`);
    } else {
      const name = p.pick(BEHAVIOURS);
      byzantine[id] = [byName(name, p, n)];
      notes.push(`r${id}=${name}`);
    }
  }
  const net = { minDelay: 1, maxDelay: p.int(3, 30), drop: p.chance(0.5) ? p.next() * 0.05 : 0, duplicate: p.chance(0.3) ? p.next() * 0.05 : 0 };
  notes.push(`delay≤${net.maxDelay} drop=${net.drop.toFixed(3)} dup=${net.duplicate.toFixed(3)}`);
  // Half the scenarios run the key exchange too (its own draw, so the other draws stay as they were).
  const keyExchange = new Prng(seed ^ 0x4b455953).chance(0.5);
  if (keyExchange) notes.push('key exchange');
  // Load faults (issue #14), each from a draw of its own: execution slower than the request timeout
  // on some replicas (the primary among them, often), and a Byzantine replica that also floods
  // ViewChanges for ever-higher views.
  const load = new Prng(seed ^ 0x4c4f4144);
  let executionMs: Record<number, number> | undefined;
  if (load.chance(0.25)) {
    executionMs = Object.fromEntries(ids.map((id) => [id, load.int(0, 300)]));
    const slow = load.chance(0.5) ? 0 : load.pick(ids);
    executionMs[slow] = load.int(800, 2_500);
    notes.push(`slow execution r${slow}=${executionMs[slow]}ms`);
  }
  const flooder = Object.keys(byzantine).map(Number).find(() => load.chance(0.3));
  if (flooder !== undefined) {
    const flood = load.pick(FLOODS);
    byzantine[flooder]!.push(byName(flood, load, n));
    notes.push(`r${flooder}+${flood}`);
  }
  // The operator wedges the network at the start (issue #19), from a draw of its own, and
  // unwedges it once the faults heal: the liveness check then covers both.
  const wedge = new Prng(seed ^ 0x57454447).chance(0.2);
  if (wedge) notes.push('wedge');
  const w = await new World({
    seed,
    n,
    f: shape.f,
    c: shape.c,
    clients: p.int(1, 3),
    requestsPerClient: p.int(6, 14),
    net,
    byzantine,
    twins,
    clockSkew: Object.fromEntries(ids.map((id) => [id, p.int(-2_000, 2_000)])),
    consensus: { keyExchange },
    idleClients: wedge ? 1 : 0,
    ...(executionMs === undefined ? {} : { executionMs }),
    ...options,
  }).start();

  const carrier = w.clients.at(-1)!;
  if (wedge) carrier.submit(operatorPayload(w, { kind: 'wedge', nonce: 1 }));

  // The fault period: crashes, partitions, one-way links among the honest replicas.
  const honest = ids.filter((id) => !chosen.has(id));
  const crashed: number[] = [];
  const steps = p.int(1, 4);
  for (let i = 0; i < steps; i++) {
    await w.run(p.int(100, 1_500));
    const kind = p.int(0, 3);
    if (kind === 0 && honest.length > 0) {
      const id = p.pick(honest);
      if (!crashed.includes(id)) {
        w.crash(id);
        crashed.push(id);
        notes.push(`crash r${id}`);
      }
    } else if (kind === 1) {
      const id = p.pick(ids);
      w.isolate(id);
      notes.push(`isolate r${id}`);
    } else if (kind === 2) {
      const a = p.pick(ids);
      const b = p.pick(ids);
      if (a !== b) {
        w.oneWay(a, b);
        notes.push(`one-way r${a}>r${b}`);
      }
    } else if (crashed.length > 0) {
      const id = crashed.shift()!;
      await w.restart(id);
      notes.push(`restart r${id}`);
    }
  }
  await w.run(p.int(200, 2_000));
  // Heal: links back, crashed replicas restarted from their stores, losses stop.
  w.heal();
  for (const id of crashed) await w.restart(id);
  w.netProfile = { ...w.netProfile, drop: 0, duplicate: 0 };
  // The unwedge first: a request the carrier sent before it would wait beyond the wedge point.
  if (wedge) carrier.submit(operatorPayload(w, { kind: 'unwedge', nonce: 2 }));
  for (const c of w.clients) c.add(2);
  await w.runUntilClientsDone(120_000);
  return {
    seed,
    description: notes.join(', '),
    violations: w.violations,
    committed: w.committedSeqs(),
    trace: w.violations.length > 0 ? w.trace() : '',
    events: w.events,
  };
}
