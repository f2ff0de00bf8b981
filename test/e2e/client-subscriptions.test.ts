// eth_subscribe over WebSocket on a real network: newHeads, logs and newPendingTransactions
// notifications for a transaction sent over HTTP; unsubscribing; the refusals (over HTTP, an
// unknown type, more than 100 subscriptions on one connection); and ethers' WebSocketProvider.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { WebSocketProvider } from 'ethers';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import { verifyNodeAuth } from '../../src/crypto/index.ts';
import { loadNodeDirectory } from '../../src/setup/node-directory.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { bytecode, eventTopic } from '../helpers/abi.ts';
import { CHAIN_ID, signTx, testKey } from '../helpers/chain.ts';
import { startNetwork } from '../helpers/network.ts';

await initHashes();

interface Message {
  id?: number;
  result?: unknown;
  error?: { code: number; message: string };
  method?: string;
  params?: { subscription: string; result: Record<string, unknown> | string };
}

test('subscriptions over WebSocket: heads, logs and pending transactions', { timeout: 180_000 }, async () => {
  const net = await startNetwork(21);
  const ws = new WebSocket(net.url.replace('http', 'ws'));
  let provider: WebSocketProvider | undefined;
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const inbox: Message[] = [];
    const waiters: (() => void)[] = [];
    ws.on('message', (raw) => {
      inbox.push(JSON.parse(String(raw)) as Message);
      for (const w of waiters.splice(0)) w();
    });
    const next = async (pick: (m: Message) => boolean): Promise<Message> => {
      const end = Date.now() + 30_000;
      for (;;) {
        const i = inbox.findIndex(pick);
        if (i >= 0) return inbox.splice(i, 1)[0]!;
        if (Date.now() > end) throw new Error(`no such message; inbox: ${JSON.stringify(inbox).slice(0, 500)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    };
    let id = 0;
    const call = async (method: string, params: unknown[] = []) => {
      const mine = ++id;
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: mine, method, params }));
      return next((m) => m.id === mine);
    };
    // bft_status: every replica's signed account of itself, and its link from this node.
    type Status = { replicas: number; f: number; view: number; primary: number; nodes: { replica: number; link: string; answered: boolean; view?: number; block?: number; blockHash?: string }[] };
    const status = (await call('bft_status')).result as Status;
    assert.deepEqual([status.replicas, status.f, status.view, status.primary], [4, 1, 0, 0]);
    assert.deepEqual(status.nodes.map((n) => [n.replica, n.link, n.answered, n.view, n.block]), [0, 1, 2, 3].map((r) => [r, 'up', true, 0, 0]));
    const genesis = (await call('eth_getBlockByNumber', ['0x0', false])).result as { hash: string };
    assert.ok(status.nodes.every((n) => n.blockHash === genesis.hash));

    const heads = (await call('eth_subscribe', ['newHeads'])).result as string;
    const logs = (await call('eth_subscribe', ['logs', { topics: [] }])).result as string;
    const pending = (await call('eth_subscribe', ['newPendingTransactions'])).result as string;
    assert.match(heads, /^0x[1-9a-f][0-9a-f]{0,31}$/);

    const raw = signTx(buildCommon(CHAIN_ID, 'cancun'), testKey(0), { nonce: 0n, to: '0x00000000000000000000000000000000000000bb', value: 3n, gasLimit: 21_000n }).serialize();
    const res = await fetch(net.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_sendRawTransaction', params: [`0x${Buffer.from(raw).toString('hex')}`] }),
    });
    const hash = ((await res.json()) as { result: string }).result;
    const seen = await next((m) => m.params?.subscription === pending);
    assert.equal(seen.method, 'eth_subscription');
    assert.equal(seen.params!.result, hash);
    const head = (await next((m) => m.params?.subscription === heads)).params!.result as Record<string, unknown>;
    assert.equal(head.number, '0x1');
    assert.match(String(head.hash), /^0x[0-9a-f]{64}$/);
    assert.equal(head.transactions, undefined, 'a head, not a block');
    assert.ok(!inbox.some((m) => m.params?.subscription === logs), 'a plain transfer logs nothing');
    // bft_getBlockCertificate: f + 1 replicas' execution signatures over a message that names the
    // block, checkable by anyone with network.json's keys.
    type Certificate = { blockHash: string; stateRoot: string; signedMessage: string; signatures: { replica: number; signature: string }[] };
    const cert = (await call('bft_getBlockCertificate', ['0x1'])).result as Certificate;
    assert.equal(cert.blockHash, head.hash);
    assert.equal(cert.stateRoot, head.stateRoot);
    const network = (await loadNodeDirectory(join(net.root, 'client-4'))).network;
    const bytes = (h: string) => new Uint8Array(Buffer.from(h.slice(2), 'hex'));
    assert.ok(cert.signatures.length >= 2);
    for (const s of cert.signatures) assert.ok(verifyNodeAuth(network.replicas[s.replica]!.executionKey, bytes(cert.signedMessage), bytes(s.signature)), `replica ${s.replica}`);
    assert.ok(Buffer.from(bytes(cert.signedMessage)).includes(Buffer.from(bytes(cert.blockHash))), 'the signed message names the block hash');
    assert.equal((await call('bft_getBlockCertificate', ['0x99'])).result, null, 'no such block yet');
    // A token's deployment mints: its Transfer log comes to the logs subscription.
    const deploy = signTx(buildCommon(CHAIN_ID, 'cancun'), testKey(0), { nonce: 1n, data: bytecode('Token', 5n), gasLimit: 2_000_000n }).serialize();
    await fetch(net.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_sendRawTransaction', params: [`0x${Buffer.from(deploy).toString('hex')}`] }),
    });
    const log = (await next((m) => m.params?.subscription === logs)).params!.result as { topics: string[]; blockNumber: string; data: string };
    assert.equal(log.topics[0], `0x${Buffer.from(eventTopic('Transfer(address,address,uint256)')).toString('hex')}`);
    assert.equal(log.blockNumber, '0x2');
    assert.equal(BigInt(log.data), 5n);

    assert.deepEqual((await call('eth_unsubscribe', [heads])).result, true);
    assert.deepEqual((await call('eth_unsubscribe', [heads])).result, false);
    assert.equal((await call('eth_subscribe', ['syncing-or-whatever'])).error?.code, -32602);
    for (let i = 0; i < 98; i++) assert.equal(typeof (await call('eth_subscribe', ['newHeads'])).result, 'string');
    assert.equal((await call('eth_subscribe', ['newHeads'])).error?.code, -32005, 'at most 100 per connection');

    const overHttp = await fetch(net.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }) });
    assert.equal(((await overHttp.json()) as Message).error?.code, -32601);

    // ethers over WebSocket: block events come from the newHeads subscription.
    provider = new WebSocketProvider(net.url.replace('http', 'ws'), Number(CHAIN_ID));
    let announced: number | null = null;
    void provider.once('block', (n: number) => (announced = n));
    // ethers subscribes in the background: transactions are sent until its first block event comes.
    for (let nonce = 2n; announced === null && nonce < 12n; nonce++) {
      const raw2 = signTx(buildCommon(CHAIN_ID, 'cancun'), testKey(0), { nonce, to: '0x00000000000000000000000000000000000000bb', value: 3n, gasLimit: 21_000n }).serialize();
      await provider.send('eth_sendRawTransaction', [`0x${Buffer.from(raw2).toString('hex')}`]);
      for (let i = 0; i < 20 && announced === null; i++) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(announced !== null && announced >= 3, `ethers saw block ${announced}`);
    // `once` unsubscribes in the background: a round trip on the same socket lets that answer
    // arrive before the provider is destroyed (which would otherwise cancel it, as an error).
    await provider.send('eth_chainId', []);
  } finally {
    ws.close();
    await provider?.destroy();
    await net.stop();
  }
});
