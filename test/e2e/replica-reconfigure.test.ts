// Adding and removing a replica on real processes (issue #19), Concord-BFT's way: `bulwark member`
// makes the joining replica's keys on its host; `bulwark reconfigure --add … --submit --wait` writes
// the new network file and wedges the network with an operator command naming its digest; every
// node is stopped, given the new file and started again — the fifth replica with an empty store,
// which it fills from a snapshot of its peers — and the network runs on with five replicas. Then
// the fifth is removed the same way. Transactions sent while wedged land once; the ledgers check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommon } from '../../src/execution/common.ts';
import { verifyLedgerDirectory } from '../../src/verifier/verify-ledger.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { bulwark } from '../helpers/cli.ts';
import { startNetwork, type TestNetwork } from '../helpers/network.ts';
import { rpcClient } from '../helpers/rpc.ts';

interface Status {
  replicas: number;
  f: number;
  stableCheckpoint: number;
  wedge: { at: number; wedged: boolean } | null;
  configuration: { epoch: number; reconfiguringTo: string | null };
  nodes: { replica: number; answered: boolean; lastExecuted?: number }[];
}

/** Stops every node, gives each directory in `dirs` the network file `file`, and starts `replicas` and the client node. */
async function restartWith(net: TestNetwork, file: string, dirs: readonly string[], replicas: readonly number[]): Promise<void> {
  for (const id of [...net.replicas, net.clientId]) await net.kill(id, 'SIGTERM');
  for (const dir of dirs) copyFileSync(file, join(net.root, dir, 'network.json'));
  net.setReplicas(replicas);
  for (const id of [...replicas, net.clientId]) net.restart(id);
  await net.ready(180_000);
}

test('a fifth replica joins a running network by snapshot and is removed again; nothing is lost and the ledgers check', { timeout: 420_000 }, async () => {
  const net = await startNetwork(0x5a, { keep: true, maxReplicas: 7 });
  try {
    const rpc = rpcClient(net.url);
    const common = buildCommon(CHAIN_ID);
    const sender = testKey(1);
    let nonce = 0n;
    const sign = () => signTx(common, sender, { nonce: nonce++, to: '0x00000000000000000000000000000000000000d2', value: 1n, gasLimit: 21_000n });
    const sendRaw = async () => rpc.call<string>('eth_sendRawTransaction', [`0x${Buffer.from(sign().serialize()).toString('hex')}`]);
    for (let i = 0; i < 5; i++) assert.equal((await rpc.send(sign())).status, '0x1');
    const operator = ['--dir', join(net.root, 'operator'), '--rpc', net.url];
    const everyDir = (replicas: readonly number[]) => [...replicas.map((r) => `replica-${r}`), `client-${net.clientId}`, 'operator'];

    // ---- 4 → 5 -------------------------------------------------------------------------------
    const member = await bulwark(['member', '--network', join(net.root, 'network.json'), '--host', '127.0.0.1', '--port', String(net.freePort(4)), '--out', join(net.root, 'replica-4')]);
    assert.equal(member.code, 0, member.stderr);
    const grow = join(net.root, 'network-1.json');
    const added = await bulwark(['reconfigure', '--network', join(net.root, 'network.json'), '--add', join(net.root, 'replica-4', 'member.json'), '--out', grow, '--submit', ...operator, '--wait', '120']);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /reconfigure: nothing is ordered after sequence number \d+; restart every node there with the network file of sha256 [0-9a-f]{64} \(configuration epoch 1\)/);
    assert.match(added.stdout, /wedged: 4 of 4 replicas at sequence number \d+/);
    const wedged = await rpc.call<Status>('bft_status');
    assert.equal(wedged.wedge?.wedged, true);
    assert.match(wedged.configuration.reconfiguringTo ?? '', /^0x[0-9a-f]{64}$/);
    // Sent while wedged: accepted, ordered only in the new configuration.
    const waiting = [await sendRaw(), await sendRaw()];

    await restartWith(net, grow, everyDir([0, 1, 2, 3, 4]), [0, 1, 2, 3, 4]);
    for (const h of waiting) assert.equal((await rpc.receipt(h, 60_000)).status, '0x1', 'a transaction sent while wedged lands after the change');
    for (let i = 0; i < 5; i++) assert.equal((await rpc.send(sign())).status, '0x1');
    const five = await rpc.call<Status>('bft_status');
    assert.equal(five.replicas, 5);
    assert.deepEqual(five.configuration, { epoch: 1, reconfiguringTo: null });
    assert.equal(five.wedge, null);
    // The fifth replica executes what the others do (it joined from a snapshot, not by replay).
    const head = (await net.health(0))!.lastExecuted;
    const deadline = Date.now() + 60_000;
    while (((await net.health(4))?.lastExecuted ?? 0) < head) {
      assert.ok(Date.now() < deadline, `replica 4 did not catch up to ${head}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    // With replica 0 down, the other four (slow path) still order.
    await net.kill(0, 'SIGKILL');
    assert.equal((await rpc.send(sign())).status, '0x1');
    net.restart(0);
    await net.ready(120_000);

    // ---- 5 → 4 -------------------------------------------------------------------------------
    const shrink = join(net.root, 'network-2.json');
    const removed = await bulwark(['reconfigure', '--network', grow, '--remove', '4', '--out', shrink, '--submit', ...operator, '--wait', '120']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /configuration epoch 2/);
    await net.kill(4, 'SIGTERM');
    await restartWith(net, shrink, everyDir([0, 1, 2, 3]), [0, 1, 2, 3]);
    for (let i = 0; i < 5; i++) assert.equal((await rpc.send(sign())).status, '0x1');
    const four = await rpc.call<Status>('bft_status');
    assert.equal(four.replicas, 4);
    assert.equal(four.configuration.epoch, 2);
    assert.equal(BigInt(await rpc.call<string>('eth_getTransactionCount', [addressOf(sender), 'latest'])), nonce, 'every transaction landed once');

    await net.stop();
    for (const id of [0, 1, 2, 3, 4]) {
      const result = await verifyLedgerDirectory({ dir: join(net.root, `replica-${id}`) });
      assert.ok(result.ok, `replica ${id}: ${result.ok ? '' : JSON.stringify(result.problem)}`);
    }
    const client = await verifyLedgerDirectory({ dir: join(net.root, `client-${net.clientId}`) });
    assert.ok(client.ok, `client node: ${client.ok ? '' : JSON.stringify(client.problem)}`);
  } finally {
    await net.stop();
    if (process.env.BULWARK_KEEP_TEST_DIR === undefined) rmSync(net.root, { recursive: true, force: true });
    else console.log(`kept ${net.root}`);
  }
});
