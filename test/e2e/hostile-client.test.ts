// Hostile input against a client node, on real processes (issue 15): each attack is run against a
// client node of a real four-replica network, and after each one honest traffic must still go on —
// a transfer lands within 2 s, other calls answer within 100 ms — with the node's memory bounded.
// The network's own client node is replaced by one started here with small limits and a short
// queued-transaction lifetime, so each limit is reached quickly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { encodeOperatorCommand, encodeOperatorPayload } from '../../src/codec/operator-command.ts';
import { initHashes, signNodeAuth } from '../../src/crypto/index.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { loadNodeDirectory } from '../../src/setup/node-directory.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';
import { freePorts } from '../helpers/net.ts';
import { startNetwork, type TestNetwork } from '../helpers/network.ts';
import { hex, rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();
const config = testConfig();
const common = buildCommon(config.chainId, config.hardfork);
const HONEST = testKey(0);
const BURSTER = testKey(1);
const SINK = '0x00000000000000000000000000000000000000e1';
const LIFETIME_S = 5;
const LIMITS = [
  ...['--txpool-lifetime', String(LIFETIME_S)],
  ...['--rpc-ws-max-connections', '8', '--rpc-ws-max-per-address', '5', '--rpc-ws-max-buffered', String(1 << 20)],
  ...['--rpc-max-filters-per-caller', '20'],
];

/** The client node started here (the network helper's is stopped). */
class Client {
  constructor(
    readonly proc: ChildProcess,
    readonly url: string,
    readonly metricsUrl: string,
    readonly exited: Promise<void>,
  ) {}

  static async start(net: TestNetwork, ports: readonly number[], env: Record<string, string> = {}, flags: readonly string[] = []): Promise<Client> {
    const logs = join(net.root, 'logs');
    mkdirSync(logs, { recursive: true });
    const out = openSync(join(logs, 'hostile-client.log'), 'a');
    const preload = env.BULWARK_TEST_CLOCK_SHIFT_MS === undefined ? [] : ['--import', join(import.meta.dirname, 'fixtures', 'clock-shift.mjs')];
    const args = ['client', '--dir', join(net.root, `client-${net.clientId}`), '--rpc-port', String(ports[0]), '--metrics-port', String(ports[1]), '--log-level', 'warn', ...LIMITS, ...flags];
    const proc = spawn(process.execPath, ['--import', 'tsx', ...preload, 'src/cli/main.ts', ...args], { stdio: ['ignore', out, 'inherit'], env: { ...process.env, ...env } });
    closeSync(out);
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const c = new Client(proc, `http://127.0.0.1:${ports[0]}`, `http://127.0.0.1:${ports[1]}/metrics`, exited);
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        await rpcClient(c.url).call('eth_blockNumber');
        return c;
      } catch {
        if (proc.exitCode !== null || Date.now() > until) throw new Error('the client node did not come up');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    await this.exited;
  }

  /** A Prometheus sample of this node (`name{labels}`), 0 when absent. */
  async metric(name: string, labels = ''): Promise<number> {
    const t0 = performance.now();
    let text: string;
    try {
      text = await (await fetch(this.metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
    } catch (err) {
      throw new Error(`metrics of the client node unreadable after ${(performance.now() - t0).toFixed(0)} ms: ${String((err as Error).cause ?? err)}`);
    }
    const key = labels === '' ? `${name} ` : `${name}{${labels}} `;
    const line = text.split('\n').find((l) => l.startsWith(key));
    return line === undefined ? 0 : Number(line.slice(key.length));
  }
}

let net: TestNetwork;
let ports: number[];
let client: Client;
let rpc: Rpc;
const nonces = new Map<Uint8Array, number>([
  [HONEST, 0],
  [BURSTER, 0],
]);

before(async () => {
  net = await startNetwork(0x15);
  await net.kill(net.clientId, 'SIGTERM');
  ports = await freePorts(2);
  client = await Client.start(net, ports);
  rpc = rpcClient(client.url);
});

after(async () => {
  await client?.stop();
  await net?.stop();
});

const transfer = (key: Uint8Array, nonce: number) => signTx(common, key, { nonce: BigInt(nonce), to: SINK, value: 1n, gasLimit: 21_000n });

/**
 * Honest traffic goes on: a transfer lands within 2 s, and other calls answer within 100 ms. The
 * test machine is shared (two cores, five node processes and more): a single call may be held up
 * by the scheduler, so each call must answer within 1 s and half of them within 100 ms
 * (`latencies`, checked by `answeredInTime`); on an idle machine all do.
 */
async function honestGoesOn(what: string): Promise<void> {
  for (const [method, params] of [
    ['eth_chainId', []],
    ['eth_getBalance', ['0x00000000000000000000000000000000000000e1', 'latest']],
    ['txpool_status', []],
  ] as const) {
    const t0 = performance.now();
    await rpc.call(method, params);
    const ms = performance.now() - t0;
    latencies.push(ms);
    assert.ok(ms < 1_000, `${what}: ${method} took ${ms.toFixed(0)} ms`);
  }
  const nonce = nonces.get(HONEST)!;
  nonces.set(HONEST, nonce + 1);
  const t0 = performance.now();
  const receipt = await rpc.send(transfer(HONEST, nonce), 2_000);
  const ms = performance.now() - t0;
  assert.equal(receipt.status, '0x1');
  assert.ok(ms < 2_000, `${what}: the transfer took ${ms.toFixed(0)} ms`);
}

/** Latencies (ms) of the honest calls since the last `answeredInTime`. */
let latencies: number[] = [];

function answeredInTime(what: string): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  assert.ok(median < 100, `${what}: median ${median.toFixed(0)} ms over ${sorted.length} calls (max ${sorted[sorted.length - 1]?.toFixed(0)} ms)`);
  latencies = [];
}

/** The client node's resident memory stays under `mb`. */
async function memoryBounded(what: string, mb: number): Promise<void> {
  const rss = await client.metric('bulwark_process_resident_memory_bytes');
  assert.ok(rss > 0 && rss < mb * 2 ** 20, `${what}: resident memory ${(rss / 2 ** 20).toFixed(0)} MiB`);
}

test('pool flood: 256 unfunded senders x 64 gapped zero-fee transactions stay within the global queue and expire; honest transfers land meanwhile', async () => {
  await honestGoesOn('before');
  // Nonces 1..64 from senders whose nonce is 0: none can ever run, all would wait for ever.
  const flood: string[] = [];
  for (let s = 0; s < 256; s++) {
    const key = testKey(50_000 + s);
    for (let n = 1; n <= 64; n++) flood.push(hex(signTx(common, key, { nonce: BigInt(n), to: SINK, gasLimit: 21_000n, gasPrice: 0n }).serialize()));
  }
  let accepted = 0;
  let done = false;
  const sending = (async () => {
    for (let i = 0; i < flood.length; i += 1_000) {
      const replies = await rpc.batch(flood.slice(i, i + 1_000).map((raw) => ({ method: 'eth_sendRawTransaction', params: [raw] })));
      accepted += replies.filter((r) => r.result !== undefined).length;
    }
  })().finally(() => (done = true));
  // While the flood comes in (in batches of 1,000), and after.
  do await honestGoesOn('during the flood');
  while (!done);
  await sending;
  answeredInTime('during the flood');
  const status = await rpc.call<{ pending: string; queued: string }>('txpool_status');
  assert.ok(Number(status.queued) <= 1_024, `queued ${Number(status.queued)}`);
  assert.ok(accepted >= 1_024, 'what fits is taken (each newcomer evicts the longest idle sender)');
  assert.ok((await client.metric('bulwark_txpool_evicted_total', 'reason="global_queue"')) >= accepted - 1_024);
  await honestGoesOn('after the flood');
  await memoryBounded('after the flood', 1_024);
  // Their lifetime (5 s here; 3 h by default) ends with no progress: the queue empties.
  const until = Date.now() + (LIFETIME_S + 5) * 1_000;
  while (Number((await rpc.call<{ queued: string }>('txpool_status')).queued) > 0) {
    assert.ok(Date.now() < until, 'queued transactions expire');
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok((await client.metric('bulwark_txpool_evicted_total', 'reason="lifetime"')) > 0);
  answeredInTime('after the flood');
});

test('pending flood: past the bound in time senders with pending transactions are refused with `txpool is full` (counted), nothing accepted is evicted, an honest sender still gets in', async (t) => {
  // The client node again, its pool bounded to 1 s of its inclusion rate with a floor of 1 (10 s
  // and 2,048 by default): started afresh it has no rate yet, so the bound is reached by the
  // flood's first transactions whatever the machine's speed.
  await client.stop();
  client = await Client.start(net, ports, {}, ['--txpool-max-wait', '1', '--txpool-wait-floor', '1']);
  rpc = rpcClient(client.url);
  // 100 unfunded senders x 100 consecutive zero-fee transfers in ten batches of ten senders each,
  // all sent at once; each sender's nonces in order within its batch.
  const senders = [...Array(100).keys()].map((s) => testKey(60_000 + s));
  const batches = [...Array(10).keys()].map((b) =>
    senders.slice(10 * b, 10 * b + 10).flatMap((key) => [...Array(100).keys()].map((n) => ({ key, raw: hex(signTx(common, key, { nonce: BigInt(n), to: SINK, gasLimit: 21_000n, gasPrice: 0n }).serialize()) }))),
  );
  const refusals = new Map<string, number>();
  const accepted = new Map<string, number>(senders.map((k) => [addressOf(k).toLowerCase(), 0]));
  /** Each refused sender's first refusal: the bound in time; what follows is its own gap's doing. */
  const firstRefusal = new Map<string, string>();
  const send = async (batch: (typeof batches)[number]) => {
    const replies = await rpc.batch(batch.map(({ raw }) => ({ method: 'eth_sendRawTransaction', params: [raw] })));
    replies.forEach((r, k) => {
      const sender = addressOf(batch[k]!.key).toLowerCase();
      if (r.error === undefined) {
        // A sender's accepted run is its nonces 0, 1, ... until its first refusal (later ones may
        // still be taken, queued behind the gap it left, as go-ethereum's pool does).
        if (!firstRefusal.has(sender)) accepted.set(sender, accepted.get(sender)! + 1);
        return;
      }
      const kind = r.error.message.replace(/\d+/g, 'N');
      refusals.set(kind, (refusals.get(kind) ?? 0) + 1);
      if (!firstRefusal.has(sender)) firstRefusal.set(sender, kind);
    });
  };
  await Promise.all(batches.slice(0, 8).map(send));
  // The pool is at its bound, and two more batches come in beside an honest transfer: a sender with
  // nothing pending is still taken, and its transfer lands.
  const nonce = nonces.get(HONEST)!;
  nonces.set(HONEST, nonce + 1);
  const [receipt] = await Promise.all([rpc.send(transfer(HONEST, nonce), 30_000), ...batches.slice(8).map(send)]);
  assert.equal(receipt.status, '0x1');
  const WAIT = 'txpool is full: N pending transactions, about N s at the N transactions/s being included (wait limit, --txpool-max-wait); try again shortly';
  const waits = refusals.get(WAIT) ?? 0;
  t.diagnostic(`accepted ${[...accepted.values()].reduce((a, b) => a + b, 0)} in runs from nonce 0; refusals ${JSON.stringify(Object.fromEntries(refusals))}`);
  assert.ok(waits > 0, 'the flood went past the bound');
  assert.deepEqual(new Set(firstRefusal.values()), new Set([WAIT]), 'each refused sender was first refused by the bound in time');
  let full = 0;
  for (const [kind, n] of refusals) if (kind.startsWith('txpool is full')) full += n;
  assert.equal(await client.metric('bulwark_txpool_refused_total', 'code="TXPOOL_FULL"'), full);
  // Every sender's accepted run of nonces is included: none was evicted to make room.
  const until = Date.now() + 120_000;
  for (const [sender, n] of accepted) {
    for (;;) {
      const included = Number(await rpc.call<string>('eth_getTransactionCount', [sender, 'latest']));
      if (included >= n) break;
      assert.ok(Date.now() < until, `${sender}: ${included} of its ${n} accepted transactions included`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  assert.equal(await client.metric('bulwark_txpool_evicted_total', 'reason="global_pending"'), 0);
  assert.ok((await client.metric('bulwark_txpool_inclusion_rate')) > 0, 'the rate the bound follows was measured');
  await honestGoesOn('after the pending flood');
  answeredInTime('after the pending flood');
  // What the flood left queued behind its gaps expires (5 s here): the journal is empty before the
  // node restarts, so the next tests meet a client node with nothing to restore, as the others did.
  const expiry = Date.now() + (LIFETIME_S + 10) * 1_000;
  while (Number((await rpc.call<{ queued: string }>('txpool_status')).queued) > 0) {
    assert.ok(Date.now() < expiry, 'the queued leftovers of the flood expire');
    await new Promise((r) => setTimeout(r, 250));
  }
  await client.stop();
  client = await Client.start(net, ports);
  rpc = rpcClient(client.url);
});

test('a burst of 500 consecutive nonces from one sender is accepted and lands', async () => {
  const raws = [...Array(500).keys()].map((n) => hex(transfer(BURSTER, n).serialize()));
  const hashes: string[] = [];
  // Sent one after the other without waiting for receipts, as a script does.
  for (const raw of raws) hashes.push(await rpc.call<string>('eth_sendRawTransaction', [raw]));
  nonces.set(BURSTER, 500);
  const last = await rpc.receipt(hashes[499]!, 30_000);
  assert.equal(last.status, '0x1');
  assert.equal(await rpc.call('eth_getTransactionCount', [addressOf(BURSTER), 'latest']), '0x1f4');
  await honestGoesOn('after the burst');
  answeredInTime('after the burst');
});

/**
 * The block holding the most of the burst: its full form is the largest answer at hand. How the
 * burst is cut into blocks depends on the machine's speed (17 to 60 a block have been seen), so
 * only some transactions are required; the number of requests below follows the answer's size.
 */
async function bigBlock(): Promise<string> {
  const head = Number(await rpc.call<string>('eth_blockNumber'));
  let best = { n: 0, txs: 0 };
  for (let n = head; n > 0 && n > head - 50; n--) {
    const txs = Number(await rpc.call<string>('eth_getBlockTransactionCountByNumber', [`0x${n.toString(16)}`]));
    if (txs > best.txs) best = { n, txs };
  }
  assert.ok(best.txs >= 5, `a block with ${best.txs} transactions`);
  return `0x${best.n.toString(16)}`;
}

function openWs(localAddress = '127.0.0.1'): Promise<WebSocket> {
  const ws = new WebSocket(client.url.replace(/^http/, 'ws'), { localAddress });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(new Error(`${res.statusCode} ${body}`)));
    });
    ws.once('error', reject);
  });
}

test('a WebSocket reader that stops reading is closed past the buffered limit (counted); memory stays bounded; others go on', async () => {
  const block = await bigBlock();
  const size = JSON.stringify(await rpc.call('eth_getBlockByNumber', [block, true])).length;
  const slow = await openWs();
  const closed = new Promise<number>((r) => slow.once('close', (code) => r(code)));
  (slow as unknown as { _socket: { pause(): void } })._socket.pause();
  // Asks for some 16 MiB of answers (each a block with its transactions), 16 times the limit and
  // more than the kernel's socket buffers take (some 4 MiB), and reads none of it.
  const answers = Math.ceil((16 << 20) / size);
  for (let i = 0; i < answers; i++) slow.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'eth_getBlockByNumber', params: [block, true] }));
  const until = Date.now() + 20_000;
  while ((await client.metric('bulwark_rpc_refused_total', 'reason="ws_slow_reader"')) < 1) {
    assert.ok(Date.now() < until, 'the slow reader is closed');
    await new Promise((r) => setTimeout(r, 100));
  }
  await memoryBounded('with the slow reader', 1_024);
  (slow as unknown as { _socket: { resume(): void } })._socket.resume();
  const code = await closed;
  assert.ok(code === 1008 || code === 1006, `closed with ${code}`);
  await honestGoesOn('after the slow reader');
  answeredInTime('after the slow reader');
  await memoryBounded('after the slow reader', 1_024);
});

async function refusal(p: Promise<WebSocket>): Promise<string> {
  try {
    (await p).terminate();
    return 'opened';
  } catch (e) {
    return (e as Error).message;
  }
}

test('WebSocket connections: at most 5 per address and 8 in all, refused with 503 naming the limit', async () => {
  const mine: WebSocket[] = [];
  for (let i = 0; i < 5; i++) mine.push(await openWs());
  assert.match(await refusal(openWs()), /^503 .*too many WebSocket connections from 127\.0\.0\.1: at most 5 per address \(--rpc-ws-max-per-address\)/);
  const others = [await openWs('127.0.0.2'), await openWs('127.0.0.2'), await openWs('127.0.0.3')];
  assert.match(await refusal(openWs('127.0.0.4')), /^503 .*too many WebSocket connections: at most 8 \(--rpc-ws-max-connections\)/);
  assert.equal(await client.metric('bulwark_rpc_refused_total', 'reason="ws_connections"'), 2);
  // HTTP is served all the while, and a closed connection frees its slot.
  await honestGoesOn('with every WebSocket slot taken');
  answeredInTime('with every WebSocket slot taken');
  await new Promise<void>((r) => {
    mine[0]!.once('close', () => r());
    mine[0]!.close();
  });
  await new Promise((r) => setTimeout(r, 100));
  const again = await openWs();
  for (const ws of [again, ...mine, ...others]) ws.terminate();
});

/** One JSON-RPC call over HTTP from a given local address (another caller as the node sees it). */
function callFrom(localAddress: string, method: string, params: unknown[] = []): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
    const req = httpRequest(client.url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(JSON.parse(text) as { result?: unknown; error?: { code: number; message: string } }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('filters: one caller holds at most its share (20 here), with the limit named; others still get theirs', async () => {
  for (let i = 0; i < 20; i++) assert.match(String((await callFrom('127.0.0.5', 'eth_newBlockFilter')).result), /^0x/);
  const refused = await callFrom('127.0.0.5', 'eth_newBlockFilter');
  assert.deepEqual(refused.error, { code: -32005, message: 'too many filters for address 127.0.0.5 (at most 20 per caller, --rpc-max-filters-per-caller)' });
  assert.match(String((await callFrom('127.0.0.6', 'eth_newFilter', [{}])).result), /^0x/);
  await honestGoesOn('with one caller at its filter limit');
  answeredInTime('with one caller at its filter limit');
});

test('bft_submitOperatorCommand: a forged command is refused before it is ordered; a replayed one too once its nonce is executed', async () => {
  const operator = await loadNodeDirectory(join(net.root, 'operator'));
  assert.ok(operator.role === 'operator');
  const command = encodeOperatorCommand({ kind: 'rotate-keys', consensus: [], execution: [3], auth: [], tls: [], nonce: Date.now() }, config.chainId);
  const forged = encodeOperatorPayload(command, new Uint8Array(64).fill(7));
  await rpc.rejects('bft_submitOperatorCommand', [hex(forged)], -32000, 'operator command refused: not signed with the operator key of network.json');
  const signed = encodeOperatorPayload(command, signNodeAuth(operator.operatorKey, command));
  assert.match(await rpc.call<string>('bft_submitOperatorCommand', [hex(signed)]), /^rotation: replica 3 to execution key epoch 1/);
  // Once f + 1 replicas report the nonce executed (their status, polled every 5 s), a replay is refused here.
  const until = Date.now() + 20_000;
  for (;;) {
    const reply = await rpcClient(client.url).batch([{ method: 'bft_submitOperatorCommand', params: [hex(signed)] }]);
    if (reply[0]!.error !== undefined) {
      assert.match(reply[0]!.error.message, /^operator command refused: nonce \d+ is not above the last one executed \(\d+\)$/);
      break;
    }
    assert.match(String(reply[0]!.result), /^refused: nonce/, 'the replicas refuse it meanwhile');
    assert.ok(Date.now() < until, 'the replay is refused by the client node');
    await new Promise((r) => setTimeout(r, 500));
  }
  await honestGoesOn('after the operator commands');
  answeredInTime('after the operator commands');
});

test('request numbers: restarted with its clock stepped back a day, the client node starts from its stored counter and its requests are executed', async () => {
  await client.stop();
  client = await Client.start(net, ports, { BULWARK_TEST_CLOCK_SHIFT_MS: String(-86_400_000) });
  rpc = rpcClient(client.url);
  for (let i = 0; i < 3; i++) await honestGoesOn('after a restart with the clock stepped back');
  answeredInTime('after the restart');
});
