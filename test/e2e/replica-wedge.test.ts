// An upgrade through a wedge, on real processes (issue #19): `bulwark wedge --wait` stops every
// replica at one stable checkpoint; transactions sent meanwhile wait; every replica is stopped and
// started again (the upgrade) and is still wedged; `bulwark unwedge` resumes ordering, and every
// transaction accepted lands exactly once. `verify-ledger` passes on every replica afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommon } from '../../src/execution/common.ts';
import { verifyLedgerDirectory } from '../../src/verifier/verify-ledger.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { bulwark } from '../helpers/cli.ts';
import { startNetwork } from '../helpers/network.ts';
import { rpcClient } from '../helpers/rpc.ts';

interface Status {
  stableCheckpoint: number;
  wedge: { at: number; wedged: boolean } | null;
  nodes: { replica: number; lastExecuted?: number; stableCheckpoint?: number; wedgeAt?: number | null }[];
}

test('wedge, stop every replica, start them again, unwedge: nothing is lost and the ledgers check', { timeout: 240_000 }, async () => {
  const net = await startNetwork(0x3e, { keep: true });
  try {
    const rpc = rpcClient(net.url);
    const common = buildCommon(CHAIN_ID);
    const sender = testKey(0);
    let nonce = 0n;
    const sign = () => signTx(common, sender, { nonce: nonce++, to: '0x00000000000000000000000000000000000000d1', value: 1n, gasLimit: 21_000n });
    for (let i = 0; i < 3; i++) assert.equal((await rpc.send(sign())).status, '0x1');

    const operator = ['--dir', join(net.root, 'operator'), '--rpc', net.url];
    const wedged = await bulwark(['wedge', ...operator, '--wait', '90']);
    assert.equal(wedged.code, 0, wedged.stderr);
    const at = Number(/after sequence number (\d+)/.exec(wedged.stdout)?.[1]);
    assert.ok(at > 0, wedged.stdout);
    assert.match(wedged.stdout, new RegExp(`wedged: 4 of 4 replicas at sequence number ${at}, stable, nothing in flight`));
    const status = await rpc.call<Status>('bft_status');
    assert.deepEqual(status.wedge, { at, wedged: true });
    for (const n of status.nodes) assert.deepEqual([n.lastExecuted, n.stableCheckpoint, n.wedgeAt], [at, at, at], `replica ${n.replica}`);

    // Sent while wedged: accepted by the client node, not ordered.
    const waiting = [sign(), sign(), sign()];
    const hashes = [];
    for (const tx of waiting) hashes.push(await rpc.call<string>('eth_sendRawTransaction', [`0x${Buffer.from(tx.serialize()).toString('hex')}`]));
    await new Promise((r) => setTimeout(r, 3_000));
    for (const h of hashes) assert.equal(await rpc.call('eth_getTransactionReceipt', [h]), null, 'nothing lands while wedged');
    for (const id of net.replicas) assert.equal((await net.health(id))?.lastExecuted, at);

    // The upgrade: every replica stopped (SIGTERM) and started again on its directory.
    for (const id of net.replicas) await net.kill(id, 'SIGTERM');
    for (const id of net.replicas) net.restart(id);
    await net.ready();
    const again = await rpc.call<Status>('bft_status');
    assert.deepEqual(again.wedge, { at, wedged: true }, 'still wedged after the restart');

    const unwedged = await bulwark(['unwedge', ...operator]);
    assert.equal(unwedged.code, 0, unwedged.stderr);
    assert.equal(unwedged.stdout.trim(), `unwedge: ordering resumes after sequence number ${at}`);
    for (const h of hashes) assert.equal((await rpc.receipt(h, 30_000)).status, '0x1', 'a transaction sent while wedged lands');
    assert.equal((await rpc.send(sign())).status, '0x1');
    assert.equal(BigInt(await rpc.call<string>('eth_getTransactionCount', [addressOf(sender), 'latest'])), nonce, 'every transaction landed once');
    assert.equal((await rpc.call<Status>('bft_status')).wedge, null);

    // A second unwedge is refused, with the replicas' reason.
    const twice = await bulwark(['unwedge', ...operator]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /refused: the network is not wedged \[UNWEDGE_REFUSED\]/);

    await net.stop();
    for (const id of net.replicas) {
      const result = await verifyLedgerDirectory({ dir: join(net.root, `replica-${id}`) });
      assert.ok(result.ok, `replica ${id}: ${result.ok ? '' : JSON.stringify(result.problem)}`);
    }
  } finally {
    await net.stop();
    rmSync(net.root, { recursive: true, force: true });
  }
});
