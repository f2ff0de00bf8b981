// The explorer in a real browser: Debian's Chromium (/usr/bin/chromium, or BULWARK_CHROMIUM),
// driven by playwright-core, on a real network (in-process replicas and client node). The page
// loads from the client node's JSON-RPC port, shows the replicas, sees a transaction land, decodes
// a token transfer's log, verifies a block certificate and an account proof in the browser — and
// refuses a certificate whose signature was flipped on its way to the page. Last, the node with
// --rpc-auth and --rpc-tls: the page asks for the token, then works, WebSocket included.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page, type Route } from 'playwright-core';
import { initHashes } from '../../src/crypto/hash.ts';
import { exportNodeAuthPublicKey, generateNodeAuthKeyPair, signNodeAuth } from '../../src/crypto/node-auth.ts';
import { replyBytes } from '../../src/codec/signing.ts';
import { signNodeKeyPublication } from '../../src/consensus/node-key-scheme.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { createCertificate, randomSerial } from '../../src/setup/certificate.ts';
import { generateTlsKey, tlsKeyToPem } from '../../src/setup/tls-key.ts';
import { newRpcToken } from '../../src/rpc/security.ts';
import { bytecode, encodeCall } from '../helpers/abi.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();

const CHROMIUM = process.env['BULWARK_CHROMIUM'] ?? '/usr/bin/chromium';
const A = testKey(0);
const B = addressOf(testKey(1));

let net: InProcessNetwork;
let rpc: Rpc;
let browser: Browser;
let page: Page;
const common = buildCommon(CHAIN_ID);
let nonce = 0n;
/** Errors the page logged or threw (CSP refusals show up here). */
const pageErrors: string[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
  net = await startInProcessNetwork(0xe7);
  rpc = rpcClient(net.url);
  // CI runs as root, where Chromium's sandbox cannot start.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage();
  page.on('console', (m) => void (m.type() === 'error' && pageErrors.push(m.text())));
  page.on('pageerror', (e) => void pageErrors.push(e.message));
});
after(async () => {
  await browser?.close();
  await net?.stop();
});

/** The text of a verdict once the page has given one. */
async function verdictOf(p: Page, id: string): Promise<{ verdict: string | null; text: string }> {
  const el = p.locator(`#${id}`);
  await el.waitFor({ timeout: 20_000 });
  return { verdict: await el.getAttribute('data-verdict'), text: await el.innerText() };
}

test('the page: served with a strict CSP, shows the four replicas', { timeout: 60_000 }, async () => {
  const res = await page.goto(net.url);
  assert.equal(res?.status(), 200);
  assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
  const rows = page.locator('#replicas tbody tr');
  await rows.nth(3).waitFor({ timeout: 20_000 });
  assert.equal(await rows.count(), 4);
  for (let i = 0; i < 4; i++) assert.match(await rows.nth(i).innerText(), /\bup\b/);
  await page.locator('#live', { hasText: 'live (eth_subscribe' }).waitFor({ timeout: 20_000 });
});

test('a transaction sent appears live; its page shows the receipt and a decoded Transfer log', { timeout: 60_000 }, async () => {
  const deploy = await rpc.send(signTx(common, A, { nonce: nonce++, data: bytecode('Token', 1_000_000n), gasLimit: 1_000_000n }));
  const token = deploy.contractAddress as `0x${string}`;
  const sent = await rpc.send(signTx(common, A, { nonce: nonce++, to: token, data: encodeCall('transfer(address,uint256)', B, 1234n), gasLimit: 100_000n }));
  // It comes to the overview by eth_subscribe (the page is not reloaded).
  const row = page.locator(`#latest-txs a[href="#/tx/${sent.transactionHash}"]`);
  await row.waitFor({ timeout: 20_000 });
  await row.click();
  await page.locator('main h2', { hasText: 'Transaction' }).waitFor();
  const text = await page.locator('main').innerText();
  assert.match(text, /success/);
  assert.match(text, /Transfer\(address,address,uint256\)/);
  assert.match(text, /value\s+1234/);
  assert.ok(text.toLowerCase().includes(B.toLowerCase()), 'the recipient, decoded from its topic');
});

test('search by number, hash and address', { timeout: 30_000 }, async () => {
  const head = await rpc.call<{ number: string; hash: string }>('eth_getBlockByNumber', ['latest', false]);
  const searchFor = async (q: string) => {
    await page.fill('#q', q);
    await page.click('#search button');
  };
  await searchFor(String(Number(head.number)));
  await page.locator('main h2', { hasText: `Block ${Number(head.number)}` }).waitFor();
  await searchFor(head.hash);
  await page.waitForURL(`**/#/block/${head.hash}`);
  await page.locator('main h2', { hasText: `Block ${Number(head.number)}` }).waitFor();
  await searchFor(B);
  await page.locator('main h2', { hasText: 'Account' }).waitFor();
  assert.match(await page.locator('#balance').innerText(), /ETH/);
});

test('a block certificate verifies in the browser', { timeout: 60_000 }, async () => {
  const head = Number(await rpc.call<string>('eth_blockNumber'));
  await page.goto(`${net.url}/#/block/${head}`);
  await page.click('#verify-cert');
  const v = await verdictOf(page, 'cert-result');
  assert.equal(v.verdict, 'verified', v.text);
  assert.match(v.text, new RegExp(`block ${head} is certified by [2-4] replicas \\(f \\+ 1 = 2\\)`));
  assert.match(v.text, /replica \d \(execution key epoch 0\): valid signature/);
});

test('an account proof verifies against the certified state root; an absent account is proved absent', { timeout: 60_000 }, async () => {
  await page.goto(`${net.url}/#/address/${addressOf(A)}`);
  await page.click('#verify-proof');
  let v = await verdictOf(page, 'proof-result');
  assert.equal(v.verdict, 'verified', v.text);
  assert.match(v.text, /proved against the state root f \+ 1 replicas signed/);
  assert.match(v.text, /nonce\s+2/);
  await page.goto(`${net.url}/#/address/0x00000000000000000000000000000000000000e7`);
  await page.click('#verify-proof');
  v = await verdictOf(page, 'proof-result');
  assert.equal(v.verdict, 'verified', v.text);
  assert.match(v.text, /no account \(proved absent\)/);
  assert.deepEqual(pageErrors, [], 'the page logged no error (no CSP refusal, no failed module)');
});

const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

test("the browser's checks agree with the node's bytes: a rotated execution key, endorsed, is used from its sequence number on", { timeout: 30_000 }, async () => {
  // A replica's history made here with the node's own code: epoch 0, then epoch 1 from seq 100.
  const k0 = generateNodeAuthKeyPair('ed25519');
  const k1 = generateNodeAuthKeyPair('ed25519');
  const pub1 = exportNodeAuthPublicKey(k1.publicKey);
  const rec = signNodeKeyPublication({ kind: 'execution', node: 0, epoch: 1, publicKey: pub1 }, k1.privateKey, k0.privateKey);
  const keys = (endorsement: Uint8Array) => ({
    f: 0,
    replicas: [
      {
        replica: 0,
        keys: [
          { epoch: 0, algorithm: 'ed25519', publicKey: hex(exportNodeAuthPublicKey(k0.publicKey)), effectiveSeq: 0, publishedSeq: 0, source: 'network.json' },
          { epoch: 1, algorithm: 'ed25519', publicKey: hex(pub1), effectiveSeq: 100, publishedSeq: 90, possession: hex(rec.possession), endorsement: hex(endorsement) },
        ],
      },
    ],
  });
  const summary = { blockNumber: 7, blockHash: new Uint8Array(32).fill(1), stateRoot: new Uint8Array(32).fill(2), reservedDigest: new Uint8Array(32).fill(3) };
  const resultsRoot = new Uint8Array(32).fill(4);
  const cert = (seq: number, key: typeof k0) => ({
    blockNumber: '0x7',
    blockHash: hex(summary.blockHash),
    stateRoot: hex(summary.stateRoot),
    reservedDigest: hex(summary.reservedDigest),
    seq: `0x${seq.toString(16)}`,
    resultsRoot: hex(resultsRoot),
    signedMessage: hex(replyBytes(seq, summary, resultsRoot)),
    signatures: [{ replica: 0, signature: hex(signNodeAuth(key.privateKey, replyBytes(seq, summary, resultsRoot))) }],
  });
  const badEndorsement = rec.endorsement.slice();
  badEndorsement[0]! ^= 1;
  const run = (history: unknown, certs: unknown[]) =>
    page.evaluate(
      async ([history, certs]) => {
        const verifyModule = '/verify.js';
        const m = await import(verifyModule);
        const k = await m.verifyKeyHistory(history, null);
        const results = [];
        for (const c of certs as { blockNumber: string }[]) results.push((await m.verifyCertificate(c, { number: BigInt(c.blockNumber) }, k)).ok);
        return { ok: k.ok as boolean, problems: k.problems as string[], epochs: (k.replicas[0] as unknown[]).length, results };
      },
      [history, certs] as const,
    );
  const good = await run(keys(rec.endorsement), [cert(99, k0), cert(100, k1), cert(100, k0), cert(99, k1)]);
  assert.deepEqual(good, { ok: true, problems: [], epochs: 2, results: [true, true, false, false] });
  const bad = await run(keys(badEndorsement), [cert(100, k1)]);
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.problems, ['replica 0 execution key epoch 1: not endorsed by epoch 0']);
  assert.deepEqual(bad.results, [false], 'a key whose endorsement fails is not used');
});

/** Flips one bit of the first signature in every bft_getBlockCertificate answer the page receives. */
async function tamper(route: Route): Promise<void> {
  const body = route.request().postDataJSON() as { method?: string } | null;
  if (route.request().method() !== 'POST' || body?.method !== 'bft_getBlockCertificate') return route.continue();
  const res = await route.fetch();
  const json = (await res.json()) as { result: { signatures: { signature: string }[] } };
  const sig = json.result.signatures[0]!;
  sig.signature = sig.signature.slice(0, -1) + (parseInt(sig.signature.slice(-1), 16) ^ 1).toString(16);
  await route.fulfill({ response: res, json });
}

test('a certificate tampered with on its way is refused, saying why', { timeout: 60_000 }, async () => {
  const p = await browser.newPage();
  try {
    await p.route('**/*', tamper);
    const head = Number(await rpc.call<string>('eth_blockNumber'));
    await p.goto(`${net.url}/#/block/${head}`);
    await p.click('#verify-cert');
    const v = await verdictOf(p, 'cert-result');
    assert.equal(v.verdict, 'refused', v.text);
    assert.match(v.text, /not verified/);
    assert.match(v.text, /1 valid signature from distinct replicas, f \+ 1 = 2 needed/);
    assert.match(v.text, /signature invalid under its execution key epoch 0/);
    // A block whose fields the node misreports, though its certificate is genuine: refused too.
    await p.unroute('**/*');
    await p.route('**/*', async (route) => {
      const body = route.request().postDataJSON() as { method?: string } | null;
      if (body?.method !== 'eth_getBlockByNumber') return route.continue();
      const res = await route.fetch();
      const json = (await res.json()) as { result: { stateRoot: string } };
      json.result.stateRoot = `0x${'ab'.repeat(32)}`;
      await route.fulfill({ response: res, json });
    });
    await p.goto(`${net.url}/#/block/${head}`);
    await p.reload();
    await p.click('#verify-cert');
    const u = await verdictOf(p, 'cert-result');
    assert.equal(u.verdict, 'refused', u.text);
    assert.match(u.text, /the block shown differs from its certified header in: stateRoot/);
    await p.unroute('**/*');
    await p.route('**/*', tamper);
    // The account proof rests on the same certificate: refused too.
    await p.goto(`${net.url}/#/address/${addressOf(A)}`);
    await p.click('#verify-proof');
    const w = await verdictOf(p, 'proof-result');
    assert.equal(w.verdict, 'refused', w.text);
  } finally {
    await p.close();
  }
});

test("a block without a certificate of its own is verified through a later block's certificate and the parent hashes", { timeout: 60_000 }, async () => {
  // The mirror keeps no certificate for a block it stored as the ancestor of a certified one; the
  // node's answer for such a block is made here, for a block that has one, to test the page's path.
  await rpc.send(signTx(common, A, { nonce: nonce++, to: B, value: 1n, gasLimit: 21_000n }));
  const head = Number(await rpc.call<string>('eth_blockNumber'));
  const n = head - 1;
  const p = await browser.newPage();
  try {
    await p.route('**/*', async (route) => {
      const body = route.request().postDataJSON() as { id?: number; method?: string; params?: unknown[] } | null;
      if (body?.method === 'bft_getBlockCertificate' && body.params?.[0] === `0x${n.toString(16)}`) {
        return route.fulfill({ json: { jsonrpc: '2.0', id: body.id, error: { code: -32000, message: `no certificate kept for block ${n}: it was stored as the ancestor of a certified block` } } });
      }
      return route.continue();
    });
    await p.goto(`${net.url}/#/block/${n}`);
    await p.click('#verify-cert');
    const v = await verdictOf(p, 'cert-result');
    assert.equal(v.verdict, 'verified', v.text);
    assert.match(v.text, new RegExp(`block ${n} has no certificate of its own; block ${head}'s covers it through parent hashes`));
    assert.match(v.text, new RegExp(`through the parent hashes up to block ${head}`));
  } finally {
    await p.close();
  }
});

test('with --rpc-auth and --rpc-tls: the page asks for the token, then works (WebSocket too)', { timeout: 90_000 }, async () => {
  const { token, entry } = newRpcToken('explorer', ['*']);
  const key = generateTlsKey();
  const now = Date.now();
  const cert = createCertificate({ privateKey: key, commonName: 'localhost', hosts: ['127.0.0.1', 'localhost'], notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000), serial: randomSerial(), deterministic: false });
  await net.restartClient({ rpcSecurity: { auth: { tokens: [entry] }, tls: { cert: cert.pem, key: tlsKeyToPem(key) } } });
  const url = net.url.replace(/^http:/, 'https:');
  // The certificate is self-signed: this browser context accepts it (a real deployment's would be trusted).
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const p = await context.newPage();
    const res = await p.goto(url);
    assert.equal(res?.status(), 200, 'static files need no token');
    await p.locator('main', { hasText: 'asks for a token' }).waitFor({ timeout: 20_000 });
    await p.fill('#token', token);
    await Promise.all([p.waitForEvent('load'), p.click('#auth button')]);
    await p.locator('#replicas tbody tr').nth(3).waitFor({ timeout: 20_000 });
    await p.locator('#live', { hasText: 'live (eth_subscribe' }).waitFor({ timeout: 20_000 });
    await p.goto(`${url}/#/block/1`);
    await p.click('#verify-cert');
    const v = await verdictOf(p, 'cert-result');
    assert.equal(v.verdict, 'verified', v.text);
  } finally {
    await context.close();
    await net.restartClient();
  }
});
