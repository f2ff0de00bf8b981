// `npm run bench:consensus`: four replicas in one process (one worker thread each) with real BLS
// and null execution, for batch sizes 1, 10 and 100. One JSON line per batch size, the best last:
// {"requestsPerSec": …, "p50Ms": …, "batch": …}. BENCH_AUTH=signature has every replica check an
// Ed25519 signature on every request (the default trusts the client node's authenticated link).
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerCluster } from './consensus/worker-cluster.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const auth = process.env.BENCH_AUTH === 'signature' ? 'signature' : 'link';
const results: { requestsPerSec: number; p50Ms: number; p99Ms: number; batch: number; auth: string }[] = [];
const sizes = (process.env.BENCH_BATCHES ?? '1,10,100').split(',').map(Number);
for (const batch of sizes) {
  const clients = Number(process.env.BENCH_CLIENTS ?? 4);
  const cluster = new WorkerCluster({ batch, clients, inFlightPerClient: Math.max(2, Math.ceil((batch * 16) / clients)), auth });
  await sleep(1_500); // threads load their modules
  cluster.start();
  await sleep(1_500); // warm-up
  const done0 = cluster.completed;
  cluster.latencies.length = 0;
  const t0 = performance.now();
  await sleep(seconds * 1_000);
  const elapsed = (performance.now() - t0) / 1000;
  const completed = cluster.completed - done0;
  const lat = cluster.latencies.sort((a, b) => a - b);
  const pct = (p: number) => Math.round((lat[Math.floor(lat.length * p)] ?? NaN) * 100) / 100;
  results.push({ requestsPerSec: Math.round(completed / elapsed), p50Ms: pct(0.5), p99Ms: pct(0.99), batch, auth });
  await cluster.stop();
}
results.sort((a, b) => a.requestsPerSec - b.requestsPerSec);
for (const r of results) console.log(JSON.stringify(r));
