// WebSocket bounds of the JSON-RPC server (issue 15): connections at once, in total and per remote
// address, and a reader that does not take what it is sent is closed instead of growing the
// node's memory; everyone else goes on being answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { method, type MethodDef } from '../../src/rpc/method.ts';
import { RpcServer, WS_CLOSE_SLOW_READER } from '../../src/rpc/server.ts';
import type { RefusalReason } from '../../src/rpc/security.ts';

const BIG = 'x'.repeat(256 * 1024);
let running = 0;
let mostAtOnce = 0;
const methods = new Map<string, MethodDef>([
  [
    'test_slow',
    method([], [], async () => {
      mostAtOnce = Math.max(mostAtOnce, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return 'done';
    }),
  ],
  ['test_ping', method([], [], () => 'pong')],
  ['test_big', method([], [], () => BIG)],
  ['test_caller', method([], [], (_a, ctx) => ctx.caller)],
]);

function openWs(url: string, localAddress = '127.0.0.1'): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), { localAddress });
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

async function wsCall(ws: WebSocket, m: string): Promise<unknown> {
  const answer = new Promise<string>((r) => ws.once('message', (d) => r(d.toString())));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: m, params: [] }));
  return (JSON.parse(await answer) as { result: unknown }).result;
}

async function refusedWith(p: Promise<WebSocket>): Promise<string> {
  try {
    (await p).terminate();
    return 'opened';
  } catch (e) {
    return (e as Error).message;
  }
}

test('connections: at most N per address and M in all, refused with 503 naming the limit; a closed one frees its slot', async () => {
  const refused: RefusalReason[] = [];
  const s = await RpcServer.start({ methods, port: 0, limits: { maxWsConnections: 5, maxWsConnectionsPerAddress: 3 }, onRefused: (r) => refused.push(r) });
  try {
    const mine = await Promise.all([0, 1, 2].map(() => openWs(s.url)));
    const refusal = await refusedWith(openWs(s.url));
    assert.match(refusal, /^503 /);
    assert.match(refusal, /too many WebSocket connections from 127\.0\.0\.1: at most 3 per address \(--rpc-ws-max-per-address\)/);
    assert.match(refusal, /"code":-32005/);
    const others = await Promise.all([openWs(s.url, '127.0.0.2'), openWs(s.url, '127.0.0.2')]);
    assert.match(await refusedWith(openWs(s.url, '127.0.0.3')), /too many WebSocket connections: at most 5 \(--rpc-ws-max-connections\)/);
    assert.deepEqual(refused, ['ws_connections', 'ws_connections']);
    // HTTP is not counted, and open connections are answered.
    const res = await fetch(s.url, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_ping', params: [] }) });
    assert.equal(((await res.json()) as { result: string }).result, 'pong');
    assert.equal(await wsCall(mine[0]!, 'test_ping'), 'pong');
    await new Promise<void>((r) => {
      mine[0]!.once('close', () => r());
      mine[0]!.close();
    });
    for (let i = 0; i < 50 && s.wsConnections > 4; i++) await new Promise((r) => setTimeout(r, 10));
    const again = await openWs(s.url);
    assert.equal(await wsCall(again, 'test_caller'), 'address 127.0.0.1');
    for (const ws of [again, ...mine, ...others]) ws.terminate();
  } finally {
    await s.close();
  }
});

test('a slow reader is closed once more than the limit waits for it (counted); the node keeps answering others', async () => {
  const refused: { reason: RefusalReason; message: string }[] = [];
  const s = await RpcServer.start({ methods, port: 0, limits: { maxWsBufferedBytes: 1 << 20 }, onRefused: (reason, _r, message) => refused.push({ reason, message }) });
  try {
    const slow = await openWs(s.url);
    const closed = new Promise<number>((r) => slow.once('close', (code) => r(code)));
    // The reader stops reading, and asks for 64 MiB of answers.
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let i = 0; i < 256; i++) slow.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'test_big', params: [] }));
    const honest = await openWs(s.url);
    for (let i = 0; i < 100 && s.slowReadersClosed === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.slowReadersClosed, 1);
    assert.deepEqual(refused.map((r) => r.reason), ['ws_slow_reader']);
    assert.match(refused[0]!.message, /more than 1048576 bytes waiting to be sent/);
    const t0 = performance.now();
    assert.equal(await wsCall(honest, 'test_ping'), 'pong');
    assert.ok(performance.now() - t0 < 100, 'others are answered at once');
    // The close is sent behind the backlog; a reader that still does not read is cut off (and
    // sees it once it reads again).
    await new Promise((r) => setTimeout(r, 2_500));
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    const code = await closed;
    assert.ok(code === WS_CLOSE_SLOW_READER || code === 1006, `closed with ${code}`);
    for (let i = 0; i < 50 && s.wsConnections > 1; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.wsConnections, 1, 'its slot is free again');
    honest.terminate();
  } finally {
    await s.close();
  }
});

test('a reader that takes its answers is never closed, however much it asks for in all', async () => {
  const s = await RpcServer.start({ methods, port: 0, limits: { maxWsBufferedBytes: 1 << 20 } });
  try {
    const ws = await openWs(s.url);
    for (let i = 0; i < 64; i++) assert.equal(((await wsCall(ws, 'test_big')) as string).length, BIG.length);
    assert.equal(s.slowReadersClosed, 0, '16 MiB in all, one answer at a time');
    ws.terminate();
  } finally {
    await s.close();
  }
});

test('one connection pipelining many requests has at most 16 handled at once, all answered in turn', async () => {
  const s = await RpcServer.start({ methods, port: 0 });
  try {
    const ws = await openWs(s.url);
    const ids: number[] = [];
    const all = new Promise<void>((resolve) =>
      ws.on('message', (d) => {
        ids.push((JSON.parse(d.toString()) as { id: number }).id);
        if (ids.length === 200) resolve();
      }),
    );
    for (let i = 0; i < 200; i++) ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'test_slow', params: [] }));
    await all;
    assert.equal(mostAtOnce, 16);
    assert.deepEqual([...ids].sort((a, b) => a - b), [...Array(200).keys()]);
    ws.terminate();
  } finally {
    await s.close();
  }
});
