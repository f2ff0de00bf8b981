// Hostile EVM work against real processes (issue 15): an endless loop sent as eth_call
// (`{"to":null,"data":"0x5b600056","gas":"0xffffffffff"}`: JUMPDEST PUSH1 0 JUMP), alone and as
// batches of 50, sent again as soon as answered, must not freeze the node. Meanwhile
// eth_blockNumber answers within 100 ms each time and a transfer lands within 2 s; each loop call
// answers go-ethereum's timeout error once its deadline (`--rpc-evmtimeout 1s`) has passed, and
// soon after; gas above `--rpc-gascap` runs with the cap. Then the same against a client node
// without local state (`--no-local-state`): every call goes to the replicas, which run the loops
// beside consensus — transfers still commit within 2 s, and the caller still gets its error within
// the deadline. The network's own client node is replaced by one started here with these options.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { CHAIN_ID, signTx, testKey } from '../helpers/chain.ts';
import { RpcFailure, rpcClient, type Rpc, type RpcErrorObject } from '../helpers/rpc.ts';
import { startNetwork, type TestNetwork } from '../helpers/network.ts';

await initHashes();

const LOOP_CALL = { to: null, data: '0x5b600056', gas: '0xffffffffff' };
/** GAS PUSH0 MSTORE PUSH1 32 PUSH0 RETURN: the gas the call was given, less two opcodes. */
const GAS_LEFT_CALL = { to: null, data: '0x5a5f5260205ff3', gas: '0xffffffffff' };
const TIMEOUT_MS = 1_000;
const GAS_CAP = 40_000_000n;
const TIMEOUT_ERROR = { code: -32000, message: 'execution aborted (timeout = 1s)' };
/** How much later than its deadline a loop call may be answered. */
const LATE_MS = 750;
const common = buildCommon(CHAIN_ID);

interface Answer {
  readonly error?: RpcErrorObject;
  readonly result?: unknown;
}

interface Timed {
  readonly answers: readonly Answer[];
  readonly ms: number;
}

async function post(url: string, body: unknown): Promise<Timed> {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Answer | Answer[];
  return { answers: Array.isArray(json) ? json : [json], ms: performance.now() - t0 };
}

const loopRequest = (id: number) => ({ jsonrpc: '2.0', id, method: 'eth_call', params: [LOOP_CALL, 'latest'] });

/**
 * The attacker: one loop call and one batch of 50 always outstanding, each sent again as soon as
 * it is answered, until `stop` is called; every answer with its time.
 */
function hostileLoad(url: string): { stop: () => Promise<{ lone: Timed[]; batches: Timed[] }> } {
  let running = true;
  const lone: Timed[] = [];
  const batches: Timed[] = [];
  const loop = async (send: () => Promise<Timed>, into: Timed[]) => {
    while (running) into.push(await send());
  };
  const done = Promise.all([
    loop(() => post(url, loopRequest(1)), lone),
    loop(() => post(url, Array.from({ length: 50 }, (_, i) => loopRequest(i))), batches),
  ]);
  return {
    stop: async () => {
      running = false;
      await done;
      return { lone, batches };
    },
  };
}

/** eth_blockNumber `n` times, 100 ms apart: each one's time. */
async function blockNumberTimes(url: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const { answers, ms } = await post(url, { jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] });
    assert.match(String(answers[0]!.result), /^0x[0-9a-f]+$/);
    times.push(ms);
    await new Promise((r) => setTimeout(r, 100));
  }
  return times;
}

/** A transfer from `key` (its `nonce`), sent now: how long until its receipt. */
async function transferLatency(rpc: Rpc, key: Uint8Array, nonce: bigint): Promise<number> {
  const tx = signTx(common, key, { nonce, to: '0x00000000000000000000000000000000000000e1', value: 1n, gasLimit: 21_000n });
  const t0 = performance.now();
  const receipt = await rpc.send(tx, 10_000);
  assert.equal(receipt.status, '0x1');
  return performance.now() - t0;
}

const times = (ms: readonly number[]) => ms.map((m) => m.toFixed(0)).join(', ');
const summary = ({ lone, batches }: { lone: Timed[]; batches: Timed[] }) =>
  `lone loop calls answered after ${times(lone.map((t) => t.ms))} ms, batches of 50 after ${times(batches.map((t) => t.ms))} ms`;

/** Every loop call was answered with the timeout error, after its deadline and soon after it. */
function checkLoopAnswers({ lone, batches }: { lone: Timed[]; batches: Timed[] }): void {
  assert.ok(lone.length >= 2, `only ${lone.length} lone loop calls were answered`);
  for (const t of lone) {
    assert.deepEqual(t.answers[0]!.error, TIMEOUT_ERROR);
    assert.ok(t.ms >= TIMEOUT_MS - 5 && t.ms < TIMEOUT_MS + LATE_MS, `a loop call was answered after ${t.ms.toFixed(0)} ms`);
  }
  assert.ok(batches.length >= 1);
  for (const t of batches) {
    assert.equal(t.answers.length, 50);
    // The 4 running and the 46 waiting all reach the same deadline (waiting counts).
    for (const a of t.answers) assert.deepEqual(a.error, TIMEOUT_ERROR);
    assert.ok(t.ms < TIMEOUT_MS + LATE_MS, `a batch of 50 loop calls was answered after ${t.ms.toFixed(0)} ms`);
  }
}

/** The network, with its client node replaced by one this file starts with `args`. */
let net: TestNetwork;
let client: ChildProcess | null = null;

async function startClient(args: readonly string[]): Promise<Rpc> {
  await stopClient();
  const out = openSync(join(net.root, 'logs', 'client-4-hostile.log'), 'a');
  try {
    client = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'client', '--dir', join(net.root, 'client-4'), '--rpc-port', new URL(net.url).port, '--log-level', 'warn', ...args],
      { stdio: ['ignore', out, 'inherit'] },
    );
  } finally {
    closeSync(out);
  }
  const rpc = rpcClient(net.url);
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      await rpc.call('eth_chainId');
      return rpc;
    } catch {
      if (client.exitCode !== null) throw new Error(`the client node exited with ${client.exitCode}`);
      if (Date.now() > until) throw new Error('the client node did not come up');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function stopClient(): Promise<void> {
  const c = client;
  client = null;
  if (c === null || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await exited;
}

before(async () => {
  net = await startNetwork(0xe5);
  await net.kill(net.clientId, 'SIGTERM');
});

after(async () => {
  await stopClient();
  await net?.stop();
});

describe('endless-loop eth_call', () => {
  let nonce = 0n;
  const key = testKey(0);

  test('on the client node (local state): other requests and transfers go on; each call answers the timeout at its deadline', async (t) => {
    const rpc = await startClient(['--rpc-evmtimeout', '1s', '--rpc-gascap', String(GAS_CAP)]);
    // Warm: the local state at the head, one transfer through.
    await transferLatency(rpc, key, nonce++);
    const idle = await blockNumberTimes(net.url, 3);

    const load = hostileLoad(net.url);
    await new Promise((r) => setTimeout(r, 300));
    const busy = await blockNumberTimes(net.url, 10);
    const transfers = [await transferLatency(rpc, key, nonce++), await transferLatency(rpc, key, nonce++)];
    const answered = await load.stop();

    t.diagnostic(`eth_blockNumber idle ${times(idle)} ms, during the loops ${times(busy)} ms; transfers ${times(transfers)} ms; ${summary(answered)}`);
    for (const ms of busy) assert.ok(ms < 100, `eth_blockNumber took ${ms.toFixed(0)} ms during the loops (idle: ${times(idle)} ms)`);
    for (const ms of transfers) assert.ok(ms < 2_000, `a transfer took ${ms.toFixed(0)} ms to land during the loops`);
    checkLoopAnswers(answered);
  });

  test('gas above --rpc-gascap runs with the cap', async () => {
    const rpc = rpcClient(net.url);
    const left = BigInt(await rpc.call<string>('eth_call', [GAS_LEFT_CALL, 'latest']));
    assert.ok(left <= GAS_CAP && left > GAS_CAP - 100_000n, `the call had ${left} gas left`);
    // Nothing asked: the block's limit (30,000,000), below the cap.
    const byDefault = BigInt(await rpc.call<string>('eth_call', [{ ...GAS_LEFT_CALL, gas: undefined }, 'latest']));
    assert.ok(byDefault <= 30_000_000n && byDefault > 29_900_000n);
  });

  test('beyond the running and waiting calls, a call is refused at once naming the limit', async () => {
    const rpc = await startClient(['--rpc-evmtimeout', '1s', '--rpc-evm-concurrency', '2', '--rpc-evm-queue', '10']);
    const { answers, ms } = await post(net.url, Array.from({ length: 20 }, (_, i) => loopRequest(i)));
    const refused = answers.filter((a) => a.error?.code === -32005);
    assert.equal(refused.length, 8);
    assert.match(refused[0]!.error!.message, /2 EVM calls running and 10 waiting.*--rpc-evm-concurrency, --rpc-evm-queue/);
    assert.equal(answers.filter((a) => a.error?.message === TIMEOUT_ERROR.message).length, 12);
    assert.ok(ms < TIMEOUT_MS + LATE_MS);
    // And the node serves calls again afterwards.
    const left = BigInt(await rpc.call<string>('eth_call', [{ ...GAS_LEFT_CALL, gas: '0x30d40' }, 'latest']));
    assert.ok(left < 200_000n && left > 100_000n);
  });

  test('on a client node without local state: the replicas run the loops beside consensus; transfers commit, calls time out', async (t) => {
    const rpc = await startClient(['--no-local-state', '--rpc-evmtimeout', '1s', '--rpc-gascap', String(GAS_CAP)]);
    const idle = [await transferLatency(rpc, key, nonce++), await transferLatency(rpc, key, nonce++)];

    const load = hostileLoad(net.url);
    // Long enough for the replicas to be running the loops of several requests (5 s each, theirs).
    await new Promise((r) => setTimeout(r, 2_000));
    const transfers = [await transferLatency(rpc, key, nonce++), await transferLatency(rpc, key, nonce++), await transferLatency(rpc, key, nonce++)];
    const answered = await load.stop();

    // The client node runs no EVM here; its own latency is the machine's, shared with four replicas
    // running loops, so only the replicas' side is asserted: consensus goes on.
    t.diagnostic(`transfers idle ${times(idle)} ms, during the loops ${times(transfers)} ms; ${summary(answered)}`);
    for (const ms of transfers) assert.ok(ms < 2_000, `a transfer took ${ms.toFixed(0)} ms to commit while the replicas ran the loops`);
    checkLoopAnswers(answered);
    // The cap reaches the replicas too (the client node lowers the gas in the read it sends). The
    // replicas may still be running the last loops (theirs last 5 s), and a read waits its turn
    // behind them past the client's 1 s: asked again until they are free, within their deadline.
    const deadline = Date.now() + 15_000;
    let left: bigint;
    for (;;) {
      try {
        left = BigInt(await rpc.call<string>('eth_call', [GAS_LEFT_CALL, 'latest']));
        break;
      } catch (err) {
        if (!(err instanceof RpcFailure) || err.error.message !== TIMEOUT_ERROR.message || Date.now() > deadline) throw err;
      }
    }
    assert.ok(left <= GAS_CAP && left > GAS_CAP - 100_000n, `the call had ${left} gas left`);
  });
});
