// The client node's pool journal on real processes: a transaction whose hash a user got back is not
// lost when the client node stops before the replicas ordered it — stopped with every replica for
// an upgrade through a wedge (issue #19), or killed right after accepting a burst — and it lands
// exactly once after the restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildCommon } from '../../src/execution/common.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { bulwark } from '../helpers/cli.ts';
import { startNetwork, type TestNetwork } from '../helpers/network.ts';
import { hex, rpcClient, type Rpc } from '../helpers/rpc.ts';

const common = buildCommon(CHAIN_ID);
const to = '0x00000000000000000000000000000000000000d1';

/** Signs the sender's next transactions, counting its nonce. */
function sender(i: number) {
  const key = testKey(i);
  let nonce = 0n;
  return {
    address: addressOf(key),
    get sent() {
      return nonce;
    },
    next: () => signTx(common, key, { nonce: nonce++, to, value: 1n, gasLimit: 21_000n }).serialize(),
  };
}

async function journalCounts(net: TestNetwork): Promise<{ restored: number; dropped: number }> {
  const text = await (await fetch(net.metricsUrl(net.clientId))).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { restored: value('bulwark_txpool_journal_restored_total'), dropped: value('bulwark_txpool_journal_dropped_total') };
}

/** The client node is still running, and logged no error (a replayed duplicate is settled quietly). */
function noErrors(net: TestNetwork): void {
  assert.ok(net.isRunning(net.clientId), 'the client node runs');
  const errors = net.logs().get(net.clientId)!.split('\n').filter((l) => /"level":(50|60)/.test(l));
  assert.deepEqual(errors, [], 'no error logged by the client node');
}

/** Every hash has a successful receipt, and each sender's nonce counts each of its transactions once. */
async function landedOnce(rpc: Rpc, hashes: readonly string[], senders: readonly ReturnType<typeof sender>[]): Promise<void> {
  for (const h of hashes) assert.equal((await rpc.receipt(h, 90_000)).status, '0x1', `${h} lands`);
  for (const s of senders) {
    assert.equal(BigInt(await rpc.call<string>('eth_getTransactionCount', [s.address, 'latest'])), s.sent, `${s.address}: every transaction landed once`);
  }
}

test('wedged, then the client node and every replica stopped and started again: what the client node accepted lands once', { timeout: 300_000 }, async () => {
  const net = await startNetwork(0x4a, { logLevel: 'info' });
  try {
    const rpc = rpcClient(net.url);
    const a = sender(0);
    const b = sender(1);
    assert.equal((await rpc.send(a.next())).status, '0x1');

    const operator = ['--dir', join(net.root, 'operator'), '--rpc', net.url];
    const wedged = await bulwark(['wedge', ...operator, '--wait', '90']);
    assert.equal(wedged.code, 0, wedged.stderr);

    // Accepted while wedged: the user has the hashes, the replicas have ordered none of them.
    const hashes: string[] = [];
    for (let i = 0; i < 4; i++) hashes.push(await rpc.call<string>('eth_sendRawTransaction', [hex(a.next())]));
    for (let i = 0; i < 2; i++) hashes.push(await rpc.call<string>('eth_sendRawTransaction', [hex(b.next())]));
    for (const h of hashes) assert.equal(await rpc.call('eth_getTransactionReceipt', [h]), null, 'nothing lands while wedged');

    // The upgrade: everything stopped (SIGTERM) and started again on its directory.
    assert.equal((await net.kill(net.clientId, 'SIGTERM')).code, 0, 'the client node stops cleanly');
    for (const id of net.replicas) await net.kill(id, 'SIGTERM');
    for (const id of net.replicas) net.restart(id);
    net.restart(net.clientId);
    await net.ready();

    const unwedged = await bulwark(['unwedge', ...operator]);
    assert.equal(unwedged.code, 0, unwedged.stderr);
    await landedOnce(rpc, hashes, [a, b]);
    assert.deepEqual(await journalCounts(net), { restored: hashes.length, dropped: 0 });
    assert.match(net.logs().get(net.clientId)!, /"restored":6,"dropped":0.*"msg":"pool journal restored"/);
    noErrors(net);
    // The journal follows the pool: what landed is gone from it (nothing is restored at the next start).
    await net.restartAll();
    const deadline = Date.now() + 60_000;
    while (!/"restored":0,"dropped":0.*"msg":"pool journal restored"/.test(net.logs().get(net.clientId)!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.match(net.logs().get(net.clientId)!, /"restored":0,"dropped":0.*"msg":"pool journal restored"/);
  } finally {
    await net.stop();
  }
});

test('the client node killed right after accepting a burst: after its restart every accepted transaction lands once', { timeout: 240_000 }, async (t) => {
  const net = await startNetwork(0x4b);
  try {
    const rpc = rpcClient(net.url);
    const senders = [sender(0), sender(1), sender(2)];
    // A burst, sent concurrently per sender batch: each answer is a transaction the node accepted.
    const raws = senders.flatMap((s) => Array.from({ length: 20 }, () => s.next()));
    const replies = await rpc.batch(raws.map((raw) => ({ method: 'eth_sendRawTransaction', params: [hex(raw)] })));
    const hashes = replies.map((r) => {
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      return r.result as string;
    });
    await net.kill(net.clientId, 'SIGKILL');
    net.restart(net.clientId);
    await net.ready();
    await landedOnce(rpc, hashes, senders);
    const counts = await journalCounts(net);
    // Some were ordered before the kill (dropped as included, or refused by the replicas), the rest restored.
    assert.ok(counts.restored + counts.dropped <= hashes.length, JSON.stringify(counts));
    noErrors(net);
    t.diagnostic(`journal after the kill: ${JSON.stringify(counts)} of ${hashes.length} accepted`);
  } finally {
    await net.stop();
  }
});
