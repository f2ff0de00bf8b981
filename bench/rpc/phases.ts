/**
 * The benchmark's other phases, on an otherwise idle network: lone transactions (inclusion
 * latency as a wallet sees it) and reads (requests per second from concurrent callers).
 */
import { Pool } from 'undici';
import { encodeCall } from '../../test/helpers/abi.ts';
import { signTx } from '../../test/helpers/chain.ts';
import { hex, log, quantile, receipt, sleep, type Hex, type RpcResponse } from './client.ts';
import { commonOf, noncesOf } from './load.ts';
import { recipients, type Key } from './senders.ts';
import type { System } from './system.ts';

/** keccak256("Transfer(address,address,uint256)") */
const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

export interface Lone {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * One ETH transfer at a time from a sender the node has seen before, `eth_sendRawTransaction` then
 * its receipt polled every 2 ms (the figure is the network's, not the poll interval's), 30 ms of
 * idle network between transactions; the first five warm the processes up.
 */
export async function loneLatency(s: System, sender: Key, samples: number): Promise<Lone> {
  const common = commonOf(s);
  let [nonce] = await noncesOf(s.rpc, [sender.address]);
  const lat: number[] = [];
  for (let i = 0; i < samples + 5; i++) {
    const raw = signTx(common, sender.key, { nonce: nonce!++, to: recipients[i % recipients.length]!, value: 1n, gasLimit: 21_000n, gasPrice: s.gasPrice }).serialize();
    const t0 = performance.now();
    const hash = await s.rpc.call<string>('eth_sendRawTransaction', [hex(raw)]);
    await receipt(s.rpc, hash, 2);
    if (i >= 5) lat.push(performance.now() - t0);
    await sleep(30);
  }
  lat.sort((a, b) => a - b);
  return { p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) };
}

export interface ReadOptions {
  readonly clients: number;
  readonly seconds: number;
  /** Grow the chain to this many blocks and ask eth_getLogs over the last that many (0: no logs phase). */
  readonly logBlocks: number;
}

export interface Reads {
  readonly getBalancePerSec: number;
  readonly callPerSec: number | null;
  readonly getLogsPerSec: number | null;
}

/**
 * Read requests per second: `clients` loops, each sending one JSON-RPC request at a time (no
 * batching) for `seconds`, after a one-second warm-up.
 */
async function readRate(s: System, o: ReadOptions, make: (i: number) => [string, unknown[]]): Promise<number> {
  // undici's request on kept-alive connections, one per loop: global fetch costs the load
  // generator (which shares the machine's two cores with the node) several times more per request.
  const pool = new Pool(s.rpc.url, { connections: o.clients, pipelining: 1 });
  const path = new URL(s.rpc.url).pathname;
  let failed = 0;
  const one = async (method: string, params: unknown[]) => {
    const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
    const answer = (await res.body.json()) as RpcResponse;
    if (res.statusCode !== 200 || answer.error !== undefined) failed++;
  };
  const run = async (ms: number) => {
    let done = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: o.clients }, async (_, c) => {
        for (let i = c; performance.now() < end; i += o.clients) {
          const [method, params] = make(i);
          await one(method, params);
          done++;
        }
      }),
    );
    return done;
  };
  try {
    await run(1_000);
    const t0 = performance.now();
    const done = await run(o.seconds * 1_000);
    if (failed > 0) throw new Error(`${s.name}: ${failed} of the read requests failed`);
    return Math.round(done / ((performance.now() - t0) / 1000));
  } finally {
    await pool.close();
  }
}

/** eth_getBalance of `accounts`, eth_call of the Token's balanceOf, and eth_getLogs if asked. */
export async function reads(s: System, o: ReadOptions, accounts: readonly Key[], token: Hex | null): Promise<Reads> {
  const getBalancePerSec = await readRate(s, o, (i) => ['eth_getBalance', [accounts[i % accounts.length]!.address, 'latest']]);
  log(`${s.name}: ${getBalancePerSec} eth_getBalance/s (${o.clients} clients, one request each at a time)`);
  if (token === null) return { getBalancePerSec, callPerSec: null, getLogsPerSec: null };
  const callPerSec = await readRate(s, o, (i) => ['eth_call', [{ to: token, data: hex(encodeCall('balanceOf(address)', recipients[i % recipients.length]!)) }, 'latest']]);
  log(`${s.name}: ${callPerSec} eth_call/s (ERC-20 balanceOf)`);
  if (o.logBlocks <= 0) return { getBalancePerSec, callPerSec, getLogsPerSec: null };
  const head = await growChain(s, token, accounts, o.logBlocks);
  const from = head - BigInt(o.logBlocks) + 1n;
  // An indexer's question: one recipient's incoming Transfers over the last logBlocks blocks.
  const query = (i: number) => ({
    fromBlock: `0x${from.toString(16)}`,
    toBlock: `0x${head.toString(16)}`,
    address: token,
    topics: [TRANSFER_TOPIC, null, `0x${recipients[(31 + (i % 64)) % recipients.length]!.slice(2).padStart(64, '0')}`],
  });
  const sample = await s.rpc.call<unknown[]>('eth_getLogs', [query(0)]);
  const getLogsPerSec = await readRate(s, o, (i) => ['eth_getLogs', [query(i)]]);
  log(`${s.name}: ${getLogsPerSec} eth_getLogs/s over blocks ${from}..${head} (one recipient's Transfers: ${sample.length} logs for the first)`);
  return { getBalancePerSec, callPerSec, getLogsPerSec };
}

/**
 * Grows the chain to `blocks` blocks: token transfers from 16 of `senders` (which hold tokens),
 * each waiting for its receipt before the next, so most blocks hold one or a few transactions
 * (and Transfer logs).
 */
async function growChain(s: System, token: Hex, senders: readonly Key[], blocks: number): Promise<bigint> {
  const common = commonOf(s);
  const start = BigInt(await s.rpc.call<string>('eth_blockNumber'));
  if (start >= BigInt(blocks)) return start;
  const t0 = performance.now();
  const growers = senders.slice(0, 16);
  const all = await noncesOf(s.rpc, growers.map((k) => k.address));
  let head = start;
  await Promise.all(
    growers.map(async (k, j) => {
      let nonce = all[j]!;
      let i = 0;
      while (head < BigInt(blocks)) {
        const tx = signTx(common, k.key, { nonce: nonce++, to: token, data: encodeCall('transfer(address,uint256)', recipients[((j + 1) * 31 + i++) % recipients.length]!, 1n), gasLimit: 60_000n, gasPrice: s.gasPrice });
        await s.rpc.call('eth_sendRawTransaction', [hex(tx.serialize())]);
        await receipt(s.rpc, hex(tx.hash()));
        const n = BigInt(await s.rpc.call<string>('eth_blockNumber'));
        if (n > head) head = n;
      }
    }),
  );
  log(`${s.name}: chain grown from ${start} to ${head} blocks in ${Math.round((performance.now() - t0) / 1000)} s`);
  return head;
}
