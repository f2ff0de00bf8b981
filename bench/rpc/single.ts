/**
 * The benchmark as it was before the matrix (BENCH_SINGLE=1): one load shape — BENCH_SENDERS
 * funded development accounts, batches of BENCH_BATCH, BENCH_IN_FLIGHT in flight — with lone
 * latency, transfers, ERC-20 and reads on Bulwark, then the transfers and ERC-20 on Hardhat. Its
 * last line of stdout is the same JSON object as before.
 */
import { log } from './client.ts';
import { startHardhat } from './hardhat.ts';
import type { LoadResult } from './load.ts';
import { runShape } from './matrix.ts';
import { startBulwark } from './network.ts';
import { loneLatency, reads, type ReadOptions, type Reads } from './phases.ts';
import { devKeys, prepareDevSenders, type Prepared } from './senders.ts';
import type { Shape } from './shapes.ts';
import { HealthMonitor, withSystem, type Health, type System } from './system.ts';

export interface SingleOptions {
  readonly senders: number;
  readonly transfers: number;
  readonly erc20: number;
  readonly batch: number;
  readonly inFlight: number;
  readonly lone: number;
  readonly hardhat: boolean;
  readonly only: string | undefined;
  readonly reads: ReadOptions;
  readonly logLevel: string;
}

async function loads(s: System, o: SingleOptions, p: Prepared, transfers: boolean): Promise<{ eth: LoadResult | null; token: LoadResult | null }> {
  const shape = (kind: Shape['kind']): Shape => ({ kind, senders: o.senders, batch: o.batch, inFlight: o.inFlight });
  let eth: LoadResult | null = null;
  if (transfers) {
    log(`${s.name}: ${o.transfers} transfers from ${o.senders} senders, batches of ${o.batch}, ${o.inFlight} in flight`);
    eth = await runShape(s, p, shape('transfer'), o.transfers);
    log(`${s.name}: ${eth.perSec} transfers/s; under load p50 ${eth.p50Ms} ms, p99 ${eth.p99Ms} ms`);
  }
  let token: LoadResult | null = null;
  if (o.erc20 > 0) {
    log(`${s.name}: ${o.erc20} ERC-20 transfers from ${o.senders} senders`);
    token = await runShape(s, p, shape('erc20'), o.erc20);
    log(`${s.name}: ${token.perSec} ERC-20 transfers/s; under load p50 ${token.p50Ms} ms, p99 ${token.p99Ms} ms`);
  }
  return { eth, token };
}

export async function runSingle(o: SingleOptions): Promise<Record<string, unknown>> {
  const only = o.only;
  let lone = { p50Ms: null as number | null, p99Ms: null as number | null };
  let ours: { eth: LoadResult | null; token: LoadResult | null } = { eth: null, token: null };
  let r: Reads | null = null;
  let health: Health | null = null;
  if (only !== 'hardhat') {
    await withSystem(
      () => startBulwark({ accounts: o.senders + 1, logLevel: o.logLevel }),
      async (s) => {
        const monitor = new HealthMonitor(s, 2_000);
        await monitor.start();
        if (only === undefined || only === 'latency') {
          const [deployer] = devKeys(1);
          lone = await loneLatency(s, deployer!, o.lone);
          log(`bulwark: lone transaction p50 ${lone.p50Ms} ms, p99 ${lone.p99Ms} ms (${o.lone} samples)`);
          if (only === 'latency') return;
        }
        const p = await prepareDevSenders(s, o.senders);
        ours = await loads(s, o, p, only === undefined);
        r = await reads(s, o.reads, [p.deployer, ...p.senders], o.erc20 > 0 ? p.token : null);
        health = await monitor.stop();
        log(`bulwark: view changes ${JSON.stringify(health.viewChanges)}, max RSS (MB) ${JSON.stringify(health.maxRssMb)}`);
      },
    );
  }
  let hardhat: { eth: LoadResult | null; token: LoadResult | null } | null = null;
  if ((only === undefined || only === 'hardhat') && o.hardhat) {
    hardhat = await withSystem(
      () => startHardhat({ accounts: o.senders + 1 }),
      async (s) => loads(s, o, await prepareDevSenders(s, o.senders), true),
    );
  }
  const h = health as Health | null;
  const rd = r as Reads | null;
  return {
    transfersPerSec: ours.eth?.perSec ?? null,
    erc20PerSec: ours.token?.perSec ?? null,
    p50Ms: lone.p50Ms,
    p99Ms: lone.p99Ms,
    hardhatTransfersPerSec: hardhat?.eth?.perSec ?? null,
    hardhatErc20PerSec: hardhat?.token?.perSec ?? null,
    loadP50Ms: ours.eth?.p50Ms ?? null,
    loadP99Ms: ours.eth?.p99Ms ?? null,
    getBalancePerSec: rd?.getBalancePerSec ?? null,
    callPerSec: rd?.callPerSec ?? null,
    getLogsPerSec: rd?.getLogsPerSec ?? null,
    viewChanges: h?.viewChanges ?? null,
    maxRssMb: h?.maxRssMb ?? null,
  };
}
