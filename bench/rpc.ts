/**
 * `npm run bench`: the network as `npm start` runs it — `bulwark dev`, four replica processes and a
 * client node on this machine, over TLS and RocksDB — driven through JSON-RPC the way a load
 * generator or an exchange would drive any Ethereum node, and a single-node Hardhat network
 * (`hardhat node`, interval mining) with the same load as the reference, in the same run.
 *
 * By default a matrix of load shapes (bench/rpc/shapes.ts): senders 20 / 200 / 1,000, batches of 1
 * / 10 / 100 `eth_sendRawTransaction`, 1 / 4 / 8 batches in flight, ETH transfers and ERC-20
 * transfers, each cell a fixed number of pre-signed transactions against each system, one network
 * per system for the whole matrix (bench/rpc/bench.ts); every cell is reported with the view
 * changes during it and each node's largest RSS, and the worst cell per system and kind. Then, on
 * Bulwark, lone-transaction latency and reads (bench/rpc/phases.ts).
 *
 * Environment (or `--shapes <selection>` as the first arguments):
 *  BENCH_SHAPES        the cells: `all` (default), `corners`, or e.g. `senders=200,batch=100,inflight=8,kind=transfer`
 *                      (axes left out take every value; values separated by `/`; terms by `;`)
 *  BENCH_CELL_TRANSFERS (12000), BENCH_CELL_ERC20 (4000)  transactions per cell
 *  BENCH_CELL_PAUSE_MS (1000)   idle time between cells
 *  BENCH_PHASES        matrix,lone,reads (default); lone and reads run on Bulwark after its matrix; logs adds eth_getLogs
 *  BENCH_HARDHAT=0     Bulwark only;  BENCH_ONLY=hardhat  Hardhat only
 *  BENCH_LONE (100), BENCH_READ_CLIENTS (32), BENCH_READ_SECONDS (5), BENCH_LOG_BLOCKS (10000), BENCH_LOG_LEVEL (warn)
 *  BENCH_SINGLE=1      the benchmark before the matrix: one shape (BENCH_SENDERS 200, BENCH_TRANSFERS 10000,
 *                      BENCH_ERC20 4000, BENCH_BATCH 100, BENCH_IN_FLIGHT 8), BENCH_ONLY=latency|reads|hardhat
 *                      (bench/rpc/single.ts), with its JSON object as before.
 * Progress and the table go to stderr; the last line of stdout is one JSON object.
 */
import { initHashes } from '../src/crypto/hash.ts';
import { log } from './rpc/client.ts';
import { runMatrixBench, type Phase } from './rpc/bench.ts';
import { parseShapes, ShapeError } from './rpc/shapes.ts';
import { runSingle } from './rpc/single.ts';

const env = process.env;
const num = (name: string, fallback: number) => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a number ≥ 0, got "${v}"`);
  return n;
};
const readOptions = () => ({ clients: num('BENCH_READ_CLIENTS', 32), seconds: num('BENCH_READ_SECONDS', 5), logBlocks: num('BENCH_LOG_BLOCKS', 10_000) });
const logLevel = env.BENCH_LOG_LEVEL ?? 'warn';

function shapesSpec(): string {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === '--shapes' || a.startsWith('--shapes='));
  if (i < 0) return env.BENCH_SHAPES ?? 'all';
  return argv[i]!.includes('=') ? argv[i]!.slice('--shapes='.length) : (argv[i + 1] ?? '');
}

function phases(): Set<Phase> {
  const all: Phase[] = ['matrix', 'lone', 'reads', 'logs'];
  const given = (env.BENCH_PHASES ?? 'matrix,lone,reads').split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of given) if (!all.includes(p as Phase)) throw new Error(`BENCH_PHASES: "${p}" is not one of ${all.join(', ')}`);
  return new Set(given as Phase[]);
}

await initHashes();
try {
  const result =
    env.BENCH_SINGLE === '1'
      ? await runSingle({
          senders: num('BENCH_SENDERS', 200),
          transfers: num('BENCH_TRANSFERS', 10_000),
          erc20: num('BENCH_ERC20', 4_000),
          batch: num('BENCH_BATCH', 100),
          inFlight: num('BENCH_IN_FLIGHT', 8),
          lone: num('BENCH_LONE', 100),
          hardhat: env.BENCH_HARDHAT !== '0',
          only: env.BENCH_ONLY,
          reads: readOptions(),
          logLevel,
        })
      : await runMatrixBench({
          shapes: parseShapes(shapesSpec()),
          sizes: { transfer: num('BENCH_CELL_TRANSFERS', 12_000), erc20: num('BENCH_CELL_ERC20', 4_000), pauseMs: num('BENCH_CELL_PAUSE_MS', 1_000) },
          systems: env.BENCH_ONLY === 'hardhat' ? ['hardhat'] : env.BENCH_HARDHAT === '0' ? ['bulwark'] : ['bulwark', 'hardhat'],
          phases: phases(),
          lone: num('BENCH_LONE', 100),
          reads: readOptions(),
          logLevel,
        });
  console.log(JSON.stringify(result));
} catch (err) {
  if (err instanceof ShapeError) {
    log(`bench: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
