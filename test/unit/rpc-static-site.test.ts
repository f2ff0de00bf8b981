// Static files beside JSON-RPC on one port (the explorer): exact paths only — traversal in any
// spelling is a 404, as is any unknown path — with the right content types and a strict CSP; GET
// only; limits checked at load; JSON-RPC, CORS and tokens unchanged, a same-origin page let
// through the CORS list, and a browser's token carried as a WebSocket subprotocol.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { isBulwarkError } from '../../src/common/errors.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { identityMethods } from '../../src/rpc/namespaces/web3-net.ts';
import { newRpcToken } from '../../src/rpc/security.ts';
import { RpcServer, WS_RPC_PROTOCOL, WS_TOKEN_PROTOCOL } from '../../src/rpc/server.ts';
import { SITE_LIMITS, StaticSite } from '../../src/rpc/static-site.ts';
import { EXPLORER_DIR, explorerSite } from '../../src/node/explorer-site.ts';

await initHashes();

const root = mkdtempSync(join(tmpdir(), 'bulwark-site-'));
const site = join(root, 'site');
mkdirSync(join(site, 'sub'), { recursive: true });
writeFileSync(join(site, 'index.html'), '<!doctype html><title>t</title>');
writeFileSync(join(site, 'app.js'), 'export const x = 1;\n');
writeFileSync(join(site, 'style.css'), 'body{}');
writeFileSync(join(site, 'sub', 'deep.js'), 'export {};');
writeFileSync(join(site, 'notes.txt'), 'not a served kind');
writeFileSync(join(site, '.hidden.js'), 'secret');
writeFileSync(join(root, 'secret.json'), '{"secret":true}');
symlinkSync(join(root, 'secret.json'), join(site, 'link.json'));

const methods = identityMethods({ chainId: 1337n, clientVersion: 'bulwark/test', peerCount: () => 4 });
let server: RpcServer;
let port: number;

before(async () => {
  server = await RpcServer.start({ methods, port: 0, site: StaticSite.load([{ at: '/', dir: site }]) });
  port = Number(new URL(server.url).port);
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** A raw request: the path goes out exactly as written (fetch would normalise `..` away). */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('static files', () => {
  test('/ is index.html; each file with its content type, nosniff and a strict CSP', async () => {
    for (const [path, type, body] of [
      ['/', 'text/html; charset=utf-8', '<!doctype html><title>t</title>'],
      ['/index.html', 'text/html; charset=utf-8', '<!doctype html><title>t</title>'],
      ['/app.js', 'text/javascript; charset=utf-8', 'export const x = 1;\n'],
      ['/style.css', 'text/css; charset=utf-8', 'body{}'],
      ['/sub/deep.js', 'text/javascript; charset=utf-8', 'export {};'],
      ['/app.js?v=2', 'text/javascript; charset=utf-8', 'export const x = 1;\n'],
    ] as const) {
      const r = await raw('GET', path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['content-type'], type, path);
      assert.equal(r.body, body, path);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.match(String(r.headers['content-security-policy']), /^default-src 'none'; script-src 'self'; .*connect-src 'self'.*frame-ancestors 'none'/);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
  });

  test('traversal, in every spelling, and unknown paths are 404', async () => {
    for (const path of [
      '/../secret.json',
      '/../../etc/passwd',
      '/%2e%2e/secret.json',
      '/%2E%2E%2Fsecret.json',
      '/..%2fsecret.json',
      '/sub/../app.js',
      '/./app.js',
      '//app.js',
      '/..\\secret.json',
      '/sub/..%5c..%5csecret.json',
      '/app.js%00.html',
      '/APP.JS',
      '/notes.txt',
      '/.hidden.js',
      '/link.json',
      '/sub/',
      '/sub',
      '/missing.js',
      'http://127.0.0.1/../secret.json',
    ]) {
      const r = await raw('GET', path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body, 'not found\n');
      assert.ok(!r.body.includes('secret'), path);
    }
  });

  test('GET only: other methods get 405 naming GET and POST; HEAD too', async () => {
    for (const m of ['PUT', 'DELETE', 'PATCH', 'HEAD']) {
      const r = await raw(m, '/app.js');
      assert.equal(r.status, 405, m);
      assert.equal(r.headers['allow'], 'GET, POST, OPTIONS');
    }
  });

  test('JSON-RPC on the same port is unchanged (POST to any path)', async () => {
    for (const path of ['/', '/app.js']) {
      const r = await raw('POST', path, { 'content-type': 'application/json' }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }));
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { jsonrpc: '2.0', id: 1, result: '0x539' });
    }
  });

  test('without a site, GET is 405 as before', async () => {
    const plain = await RpcServer.start({ methods, port: 0 });
    try {
      assert.equal((await fetch(plain.url)).status, 405);
    } finally {
      await plain.close();
    }
  });
});

describe('loading', () => {
  test('a file over the size limit, or a missing one, refuses the site (SITE_INVALID)', () => {
    const big = mkdtempSync(join(tmpdir(), 'bulwark-site-big-'));
    try {
      writeFileSync(join(big, 'big.js'), Buffer.alloc(SITE_LIMITS.maxFileBytes + 1));
      assert.throws(() => StaticSite.load([{ at: '/', dir: big }]), (e) => isBulwarkError(e, 'SITE_INVALID') && /larger than/.test(e.message));
      assert.throws(() => StaticSite.load([{ at: '/', dir: big, files: ['absent.js'] }]), (e) => isBulwarkError(e, 'SITE_INVALID') && /cannot read/.test(e.message));
      assert.throws(() => StaticSite.load([{ at: 'x/', dir: big }]), (e) => isBulwarkError(e, 'SITE_INVALID'));
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
  });

  test("the explorer's site: its pages, and every module its modules import is served", () => {
    const s = explorerSite();
    for (const p of ['/', '/index.html', '/app.js', '/style.css', '/vendor/noble-hashes/sha3.js']) assert.ok(s.lookup(p) !== undefined, p);
    for (const p of s.paths.filter((x) => x.endsWith('.js'))) {
      const text = s.lookup(p)!.body.toString('utf8');
      for (const m of text.matchAll(/^import\b[^'"]*from\s+['"]([^'"]+)['"]/gm)) {
        const target = new URL(m[1]!, `http://x${p}`).pathname;
        assert.ok(s.lookup(target) !== undefined, `${p} imports ${m[1]}, which is not served`);
      }
    }
    const html = readFileSync(join(EXPLORER_DIR, 'index.html'), 'utf8');
    assert.ok(!/<script(?![^>]*\bsrc=)/.test(html), 'no inline script (the CSP would refuse it)');
    assert.ok(!/\bstyle=/.test(html), 'no inline style');
  });
});

describe('the page calling back', () => {
  test('a same-origin page (by IP address) passes a CORS list that does not name it; other origins, and host names, still get 403', async () => {
    const s = await RpcServer.start({ methods, port: 0, cors: ['https://app.example.com'], site: StaticSite.load([{ at: '/', dir: site }]) });
    try {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] });
      const own = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', origin: s.url }, body });
      assert.equal(own.status, 200);
      assert.equal(own.headers.get('access-control-allow-origin'), null);
      const other = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body });
      assert.equal(other.status, 403);
      // A host name's "same origin" may be a rebinding attacker's name: it must be listed.
      const port = new URL(s.url).port;
      const rebound = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(rebound, 403);
      // Static files are public: served whatever the Origin.
      assert.equal((await fetch(`${s.url}/app.js`, { headers: { origin: 'https://evil.example' } })).status, 200);
    } finally {
      await s.close();
    }
  });

  test('a bearer token as a WebSocket subprotocol: accepted, never echoed; a wrong one is 401', async () => {
    const { token, entry } = newRpcToken('page', ['eth_*']);
    const s = await RpcServer.start({ methods, port: 0, auth: { tokens: [entry] } });
    const ws = (protocols: string[]) =>
      new Promise<WebSocket>((resolve, reject) => {
        const w = new WebSocket(s.url.replace(/^http/, 'ws'), protocols);
        w.once('open', () => resolve(w));
        w.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        w.once('error', reject);
      });
    try {
      const w = await ws([WS_RPC_PROTOCOL, `${WS_TOKEN_PROTOCOL}${token}`]);
      assert.equal(w.protocol, WS_RPC_PROTOCOL);
      const answer = new Promise<string>((r) => w.once('message', (d) => r(d.toString())));
      w.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }));
      assert.equal(JSON.parse(await answer).result, '0x539');
      w.close();
      await assert.rejects(ws([WS_RPC_PROTOCOL, `${WS_TOKEN_PROTOCOL}${'0'.repeat(64)}`]), /HTTP 401/);
      await assert.rejects(ws([WS_RPC_PROTOCOL]), /HTTP 401/);
    } finally {
      await s.close();
    }
  });
});
