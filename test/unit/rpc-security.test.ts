// The JSON-RPC endpoint's gatekeeping against real in-process servers on ephemeral ports: TLS 1.3,
// bearer tokens with method allow-lists (HTTP and the WebSocket upgrade), CORS, the per-address
// rate limit, the refusal hook, the CLI's parsing of the options, and ethers sending the header.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FetchRequest, JsonRpcProvider, Network } from 'ethers';
import { WebSocket } from 'ws';
import { readRpcSecurity } from '../../src/cli/commands/client.ts';
import { runCli } from '../../src/cli/program.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { method, type MethodDef } from '../../src/rpc/method.ts';
import { identityMethods } from '../../src/rpc/namespaces/web3-net.ts';
import { parseRpcAuthConfig, sha256Hex, type RefusalReason } from '../../src/rpc/security.ts';
import { RpcServer, type RpcServerOptions } from '../../src/rpc/server.ts';
import { createCertificate, randomSerial } from '../../src/setup/certificate.ts';
import { generateTlsKey, tlsKeyToPem } from '../../src/setup/tls-key.ts';

await initHashes();

const methods = new Map<string, MethodDef>([
  ...identityMethods({ chainId: 1337n, clientVersion: 'bulwark/test', peerCount: () => 4 }),
  ['eth_blockNumber', method([], [], () => '0x2a')],
]);

const OPS = 'a'.repeat(64);
const READER = 'b'.repeat(64);
const auth = parseRpcAuthConfig({
  tokens: [
    { name: 'ops', sha256: sha256Hex(OPS), methods: ['*'] },
    { name: 'reader', sha256: sha256Hex(READER), methods: ['eth_*', 'net_version'] },
  ],
});

const servers: RpcServer[] = [];
const refused: { reason: RefusalReason; remote: string; message: string }[] = [];
async function start(o: Partial<RpcServerOptions> = {}): Promise<RpcServer> {
  const s = await RpcServer.start({ methods, port: 0, onRefused: (reason, remote, message) => refused.push({ reason, remote, message }), ...o });
  servers.push(s);
  return s;
}
after(async () => {
  for (const s of servers) await s.close();
});

type Reply = { id?: unknown; result?: unknown; error?: { code: number; message: string } };
async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? null : JSON.parse(text) };
}
const req = (m: string, id: unknown = 1, params: unknown[] = []) => ({ jsonrpc: '2.0', id, method: m, params });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

function openWs(url: string, headers: Record<string, string> = {}, extra: object = {}): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers, ...extra });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(new Error(`status ${res.statusCode}`));
    });
    ws.once('error', reject);
  });
}
async function wsCall(ws: WebSocket, body: unknown): Promise<unknown> {
  const answer = new Promise<string>((r) => ws.once('message', (m) => r(m.toString())));
  ws.send(JSON.stringify(body));
  return JSON.parse(await answer);
}

describe('no security options: as before', () => {
  let s: RpcServer;
  before(async () => {
    s = await start();
  });

  test('HTTP and WebSocket are open, no CORS headers, requests with an Origin still served', async () => {
    assert.equal(s.url.startsWith('http://127.0.0.1:'), true);
    const r = await post(s.url, req('eth_chainId'));
    assert.equal(r.status, 200);
    assert.equal((r.json as Reply).result, '0x539');
    const o = await post(s.url, req('eth_chainId'), { origin: 'https://somewhere.example' });
    assert.equal(o.status, 200);
    assert.equal(o.headers.get('access-control-allow-origin'), null);
    const pre = await fetch(s.url, { method: 'OPTIONS', headers: { origin: 'https://somewhere.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    const ws = await openWs(s.url);
    assert.deepEqual(await wsCall(ws, req('net_version', 3)), { jsonrpc: '2.0', id: 3, result: '1337' });
    ws.close();
  });

  test('WebSocket upgrades from a non-local browser origin are refused (cross-site WebSocket hijacking); localhost pages pass', async () => {
    await assert.rejects(openWs(s.url, { origin: 'https://evil.example' }), /status 403/);
    const ws = await openWs(s.url, { origin: 'http://localhost:3000' });
    ws.close();
  });
});

describe('bearer tokens', () => {
  let s: RpcServer;
  before(async () => {
    s = await start({ auth });
  });

  test('a missing, malformed or unknown token is 401 with a JSON-RPC error', async () => {
    refused.length = 0;
    const missing = await post(s.url, req('eth_chainId'));
    assert.equal(missing.status, 401);
    assert.deepEqual(missing.json, { jsonrpc: '2.0', id: null, error: { code: -32001, message: 'missing token' } });
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
    for (const h of [`Bearer ${'c'.repeat(64)}`, `Basic ${OPS}`, OPS, 'Bearer']) {
      const r = await post(s.url, req('eth_chainId'), { authorization: h });
      assert.equal(r.status, 401, h);
      assert.deepEqual((r.json as Reply).error, { code: -32001, message: 'invalid token' }, h);
    }
    assert.deepEqual(refused.map((r) => r.reason), ['auth_missing', 'auth_invalid', 'auth_invalid', 'auth_invalid', 'auth_invalid']);
    assert.equal(refused[0]!.remote, '127.0.0.1');
  });

  test('a valid token may call what its list allows; other calls of the same batch fail alone', async () => {
    refused.length = 0;
    const all = await post(s.url, req('web3_clientVersion'), bearer(OPS));
    assert.equal((all.json as Reply).result, 'bulwark/test');
    const r = await post(s.url, [req('eth_chainId', 1), req('web3_clientVersion', 2), req('net_version', 3), req('net_listening', 4), req('eth_blockNumber', 5)], bearer(READER));
    assert.equal(r.status, 200);
    const replies = r.json as Reply[];
    assert.deepEqual(replies.map((x) => x.id), [1, 2, 3, 4, 5]);
    assert.equal(replies[0]!.result, '0x539');
    assert.deepEqual(replies[1]!.error, { code: -32004, message: 'method web3_clientVersion is not allowed for this token' });
    assert.equal(replies[2]!.result, '1337');
    assert.equal(replies[3]!.error?.code, -32004);
    assert.equal(replies[4]!.result, '0x2a');
    assert.deepEqual(refused.map((x) => x.reason), ['method_not_allowed', 'method_not_allowed']);
    assert.match(refused[0]!.message, /\(reader\)$/);
  });

  test('WebSocket: the upgrade needs the header; the allow-list applies per call', async () => {
    await assert.rejects(openWs(s.url), /status 401/);
    await assert.rejects(openWs(s.url, bearer('nope')), /status 401/);
    const ws = await openWs(s.url, bearer(READER));
    assert.deepEqual(await wsCall(ws, req('eth_chainId', 1)), { jsonrpc: '2.0', id: 1, result: '0x539' });
    assert.equal(((await wsCall(ws, req('web3_clientVersion', 2))) as Reply).error?.code, -32004);
    ws.close();
  });

  test('ethers: a FetchRequest with the Authorization header, given to JsonRpcProvider', async () => {
    const fr = new FetchRequest(s.url);
    fr.setHeader('Authorization', `Bearer ${READER}`);
    const provider = new JsonRpcProvider(fr, undefined, { staticNetwork: Network.from(1337) });
    assert.equal(await provider.getBlockNumber(), 42);
    assert.equal(await provider.send('net_version', []), '1337');
    await assert.rejects(provider.send('web3_clientVersion', []), /not allowed for this token/);
    provider.destroy();
    const bare = new JsonRpcProvider(s.url, undefined, { staticNetwork: Network.from(1337) });
    await assert.rejects(bare.getBlockNumber(), /401|missing token/);
    bare.destroy();
  });
});

describe('CORS allow-list', () => {
  let s: RpcServer;
  before(async () => {
    s = await start({ cors: ['https://app.example'], auth });
  });

  test('preflight from an allowed origin is 204 with the CORS headers; others are 403', async () => {
    const ok = await fetch(s.url, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(ok.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /Authorization/);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /Content-Type/);
    const bad = await fetch(s.url, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers.get('access-control-allow-origin'), null);
  });

  test('requests: an allowed origin gets Access-Control-Allow-Origin (also on 401), another is 403, none is fine', async () => {
    refused.length = 0;
    const ok = await post(s.url, req('eth_chainId'), { origin: 'https://app.example', ...bearer(OPS) });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
    const noToken = await post(s.url, req('eth_chainId'), { origin: 'https://app.example' });
    assert.equal(noToken.status, 401);
    assert.equal(noToken.headers.get('access-control-allow-origin'), 'https://app.example');
    const bad = await post(s.url, req('eth_chainId'), { origin: 'https://evil.example', ...bearer(OPS) });
    assert.equal(bad.status, 403);
    assert.match((bad.json as Reply).error!.message, /origin https:\/\/evil.example is not allowed/);
    assert.equal((await post(s.url, req('eth_chainId'), bearer(OPS))).status, 200);
    assert.deepEqual(refused.map((r) => r.reason), ['auth_missing', 'cors_origin']);
    await assert.rejects(openWs(s.url, { origin: 'https://evil.example', ...bearer(OPS) }), /status 403/);
    (await openWs(s.url, { origin: 'https://app.example', ...bearer(OPS) })).close();
  });

  test('* allows any origin', async () => {
    const any = await start({ cors: ['*'] });
    const r = await post(any.url, req('eth_chainId'), { origin: 'https://whoever.example' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
  });
});

describe('rate limit per client address', () => {
  test('calls beyond the burst are 429 with -32005; each call of a batch counts; WebSocket too', async () => {
    refused.length = 0;
    const s = await start({ rateLimit: { perSecond: 1, burst: 5 } });
    for (let i = 0; i < 3; i++) assert.equal((await post(s.url, req('eth_chainId'))).status, 200);
    assert.equal((await post(s.url, [req('eth_chainId', 1), req('eth_chainId', 2)])).status, 200);
    const over = await post(s.url, req('eth_chainId'));
    assert.equal(over.status, 429);
    assert.deepEqual((over.json as Reply).error, { code: -32005, message: 'rate limit exceeded: 1 requests per second' });
    assert.equal(refused.at(-1)?.reason, 'rate_limit');
    const ws = await openWs(s.url);
    assert.equal(((await wsCall(ws, req('eth_chainId'))) as Reply).error?.code, -32005);
    ws.close();
    const big = await start({ rateLimit: { perSecond: 100, burst: 5 } });
    const batch = await post(big.url, Array.from({ length: 6 }, (_, i) => req('eth_chainId', i)));
    assert.equal(batch.status, 429);
    assert.match((batch.json as Reply).error!.message, /batch of 6 calls exceeds the rate limit's burst of 5/);
  });
});

describe('size limits are reported as refusals', () => {
  test('body and batch size', async () => {
    refused.length = 0;
    const s = await start({ limits: { maxBodyBytes: 1024, maxBatch: 2 } });
    assert.equal((await post(s.url, req('web3_sha3', 1, ['0x' + '00'.repeat(1024)]))).status, 413);
    // go-ethereum's answer to an oversized batch: one -32600 in an array, with the first call's id.
    assert.deepEqual((await post(s.url, [req('eth_chainId', 1), req('eth_chainId', 2), req('eth_chainId', 3)])).json, [
      { jsonrpc: '2.0', id: 1, error: { code: -32600, message: 'batch too large' } },
    ]);
    assert.deepEqual(refused.map((r) => r.reason), ['body_size', 'batch_size']);
    assert.deepEqual([s.errors.get(-32005), s.errors.get(-32600)], [1, 1], 'each refusal counted once');
  });
});

describe('TLS', () => {
  let s: RpcServer;
  let ca: string;
  before(async () => {
    const key = generateTlsKey();
    const now = Date.now();
    const cert = createCertificate({ privateKey: key, commonName: 'localhost', hosts: ['127.0.0.1', 'localhost'], notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000), serial: randomSerial(), deterministic: false });
    ca = cert.pem;
    s = await start({ tls: { cert: cert.pem, key: tlsKeyToPem(key) }, auth });
  });

  test('HTTPS with TLS 1.3', async () => {
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { protocol, status, body } = await new Promise<{ protocol: string | null; status: number; body: string }>((resolve, reject) => {
      const r = httpsRequest(s.url, { method: 'POST', ca, headers: { 'content-type': 'application/json', ...bearer(OPS) } }, (res) => {
        let text = '';
        const protocol = (res.socket as TLSSocket).getProtocol();
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ protocol, status: res.statusCode ?? 0, body: text }));
      });
      r.on('error', reject);
      r.end(JSON.stringify(req('eth_chainId')));
    });
    assert.equal(protocol, 'TLSv1.3');
    assert.equal(status, 200);
    assert.equal((JSON.parse(body) as Reply).result, '0x539');
  });

  test('TLS 1.2 clients are refused', async () => {
    const port = Number(new URL(s.url).port);
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const c = tlsConnect({ host: '127.0.0.1', port, ca, maxVersion: 'TLSv1.2' }, () => {
          c.end();
          resolve();
        });
        c.on('error', reject);
      }),
    );
  });

  test('WSS with the token', async () => {
    await assert.rejects(openWs(s.url, {}, { ca }), /status 401/);
    const ws = await openWs(s.url, bearer(OPS), { ca });
    assert.deepEqual(await wsCall(ws, req('eth_chainId', 9)), { jsonrpc: '2.0', id: 9, result: '0x539' });
    ws.close();
  });
});

describe('configuration', () => {
  test('auth files are validated with clear errors', () => {
    assert.throws(() => parseRpcAuthConfig({}), /tokens/);
    assert.throws(() => parseRpcAuthConfig({ tokens: [] }), /lists no tokens/);
    assert.throws(() => parseRpcAuthConfig({ tokens: [{ name: 'x', sha256: 'abc', methods: ['*'] }] }), /tokens\.0\.sha256: sha256 must be/);
    assert.throws(() => parseRpcAuthConfig({ tokens: [{ name: 'x', sha256: OPS, methods: ['eth*'] }] }), /tokens\.0\.methods\.0/);
    assert.throws(() => parseRpcAuthConfig({ tokens: [{ name: 'x', sha256: OPS, methods: ['*'], token: 'clear' }] }), /tokens\.0/);
    assert.throws(() => parseRpcAuthConfig({ tokens: [{ name: 'x', sha256: OPS, methods: ['*'] }, { name: 'x', sha256: READER, methods: ['*'] }] }), /appears twice/);
  });

  test('bulwark rpc-token prints a token and the entry with its SHA-256; client flags are read', async () => {
    let out = '';
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (out += t) };
    assert.equal(await runCli(['rpc-token', '--name', 'ops', '--methods', 'eth_*,net_version', '--json'], io), 0);
    const { token, entry } = JSON.parse(out) as { token: string; entry: { name: string; sha256: string; methods: string[] } };
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.deepEqual(entry, { name: 'ops', sha256: sha256Hex(token), methods: ['eth_*', 'net_version'] });
    assert.equal(await runCli(['rpc-token', '--name', 'ops', '--methods', 'eth*'], io), 2);

    const dir = await mkdtemp(join(tmpdir(), 'bulwark-rpc-'));
    try {
      await writeFile(join(dir, 'auth.json'), JSON.stringify({ tokens: [entry] }));
      await writeFile(join(dir, 'bad.json'), JSON.stringify({ tokens: [{ ...entry, sha256: 'zz' }] }));
      const sec = await readRpcSecurity({ rpcAuth: join(dir, 'auth.json'), rpcCors: 'https://a.example, *', rpcRateLimit: 50, rpcMaxBody: 1000, rpcMaxBatch: 10 });
      assert.deepEqual(sec, { auth: { tokens: [entry] }, cors: ['https://a.example', '*'], rateLimit: { perSecond: 50 }, limits: { maxBodyBytes: 1000, maxBatch: 10 } });
      assert.deepEqual(await readRpcSecurity({}), {});
      await assert.rejects(readRpcSecurity({ rpcAuth: join(dir, 'bad.json') }), /bad\.json: tokens\.0\.sha256/);
      await assert.rejects(readRpcSecurity({ rpcTlsCert: join(dir, 'auth.json') }), /both --rpc-tls-cert and --rpc-tls-key/);
      await assert.rejects(readRpcSecurity({ rpcCors: 'app.example' }), /not an origin/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
