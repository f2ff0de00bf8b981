// The benchmark harness's own logic (bench/rpc/shapes.ts, the soak's shape and timeline): which
// cells a selection names, and what the soak reports per minute. No benchmark runs here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MATRIX, parseShape, parseShapes, shapeKey, ShapeError } from '../../bench/rpc/shapes.ts';
import { shapeOptions } from '../../bench/soak.ts';
import { timeline } from '../../bench/soak/summary.ts';
import type { Sample } from '../../bench/soak/recorder.ts';

test('the full matrix is every combination of the axes, each once', () => {
  const all = parseShapes('all');
  assert.equal(all.length, 2 * 3 * 3 * 3);
  assert.equal(new Set(all.map(shapeKey)).size, all.length);
  for (const kind of MATRIX.kind) for (const senders of MATRIX.senders) for (const batch of MATRIX.batch) for (const inFlight of MATRIX.inFlight) {
    assert.ok(all.some((s) => shapeKey(s) === shapeKey({ kind, senders, batch, inFlight })), `${kind} ${senders} ${batch} ${inFlight}`);
  }
});

test('one cell, named in any order of its axes', () => {
  assert.deepEqual(parseShapes('senders=200,batch=100,inflight=8,kind=transfer'), [{ kind: 'transfer', senders: 200, batch: 100, inFlight: 8 }]);
  assert.deepEqual(parseShapes(' kind=erc20 , in-flight=4, batch=10 ,senders=1_000 '), [{ kind: 'erc20', senders: 1000, batch: 10, inFlight: 4 }]);
  // A shape outside the matrix's values: the issue's own (100 senders, batches of 50, 4 in flight).
  assert.deepEqual(parseShape('senders=100,batch=50,inflight=4,kind=erc-20'), { kind: 'erc20', senders: 100, batch: 50, inFlight: 4 });
});

test('an axis left out takes every value; values and terms combine without repeats', () => {
  const nine = parseShapes('kind=erc20,inflight=8');
  assert.equal(nine.length, 9);
  assert.ok(nine.every((s) => s.kind === 'erc20' && s.inFlight === 8));
  const corners = parseShapes('corners');
  assert.deepEqual(corners, parseShapes('senders=20/1000,batch=1/100,inflight=1/8'));
  assert.equal(corners.length, 16);
  assert.deepEqual(new Set(corners.map((s) => s.senders)), new Set([20, 1000]));
  assert.deepEqual(new Set(corners.map((s) => s.batch)), new Set([1, 100]));
  assert.deepEqual(new Set(corners.map((s) => s.inFlight)), new Set([1, 8]));
  // The second term repeats a cell of the first: it runs once, where first named.
  const two = parseShapes('senders=20,batch=1,inflight=1,kind=transfer; senders=20/200,batch=1,inflight=1,kind=transfer');
  assert.deepEqual(two.map((s) => s.senders), [20, 200]);
});

test('a selection that names no valid cell is refused with the reason', () => {
  const refused = (spec: string, why: RegExp) => assert.throws(() => parseShapes(spec), (e) => e instanceof ShapeError && why.test(e.message));
  refused('', /empty/);
  refused('senders=0', /senders must be a whole number 1\.\.1000/);
  refused('senders=1001', /1\.\.1000/);
  refused('batch=2.5', /batch must be a whole number/);
  refused('kind=deploy', /kind must be transfer or erc20/);
  refused('threads=4', /axis one of/);
  refused('batch=1,batch=10', /given twice/);
  assert.throws(() => parseShape('kind=transfer,senders=20,batch=1'), (e) => e instanceof ShapeError && /selects 3 shapes, not one/.test(e.message));
});

test('the soak holds a shape: its senders (at most the 999 the genesis funds), batch, in flight, one kind at the highest rate', () => {
  const o = shapeOptions(parseShape('senders=1000,batch=100,inflight=8,kind=erc20'), { maxPending: 64, callRate: 0, logsRate: 0 });
  assert.deepEqual(o, {
    shape: 'kind=erc20,senders=1000,batch=100,inflight=8',
    senders: 999,
    batch: 100,
    inFlight: 8,
    rate: 'max',
    mix: { transfer: 0, erc20: 1, deploy: 0 },
    maxPending: 64,
    callRate: 0,
    logsRate: 0,
  });
});

test('the soak timeline: per minute, throughput weighted by sample interval, view changes and the largest RSS', () => {
  const node = (name: string, view: number | null, rssMb: number) => ({ name, view, rssMb }) as Sample['nodes'][number];
  const sample = (t: number, tps: number, view: number, rss: number, phase: Sample['phase'] = 'load') =>
    ({ t, phase, tps, nodes: [node('replica0', view, rss), node('replica1', view, rss - 10), node('client', null, rss + 100)] }) as unknown as Sample;
  const samples = [
    sample(20, 100, 0, 500), // 20 s at 100/s
    sample(60, 400, 0, 520), // 40 s at 400/s
    sample(90, 200, 2, 530), // two view changes in the second minute
    sample(120, 200, 2, 510),
    sample(125, 0, 2, 999, 'drain'), // the drain is not the load
  ];
  assert.deepEqual(timeline(samples), [
    { minute: 1, tps: Math.round((20 * 100 + 40 * 400) / 60), viewChanges: 0, replicaRssMb: 520, clientRssMb: 620 },
    { minute: 2, tps: 200, viewChanges: 2, replicaRssMb: 530, clientRssMb: 630 },
  ]);
});
