// A replica that lost its disk joins a running, loaded network by snapshot (issue #19), on real
// processes: it starts on an empty store, learns from its peers' status that they are far ahead,
// restarts itself from the state at their checkpoint — fetched from several peers, every item checked
// against its hash — and replays only the batches after it. Then a replica that froze (SIGSTOP) while
// the others went on does the same with the store it has. Their blocks are then the others', and
// `verify-ledger` passes on every replica, the snapshot-installed ones included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildCommon } from '../../src/execution/common.ts';
import { verifyLedgerDirectory } from '../../src/verifier/verify-ledger.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startNetwork } from '../helpers/network.ts';
import { rpcClient } from '../helpers/rpc.ts';

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('a replica with an empty disk joins a loaded network by snapshot and replays only what follows', { timeout: 300_000 }, async () => {
  const net = await startNetwork(0x5a, { keep: true, logLevel: 'info', replicaArgs: ['--snapshot-after', '100'] });
  let loading = true;
  try {
    const rpc = rpcClient(net.url);
    const common = buildCommon(CHAIN_ID);
    const senders = [testKey(0), testKey(1), testKey(2)];
    const nonces = senders.map(() => 0n);
    let sent = 0;
    // Load throughout: three senders, each a transaction at a time (contract deploys make code and storage).
    // Awaited at the end; until then a failure is kept for it (not left unhandled when the test fails first).
    const load: Promise<unknown> = Promise.all(
      senders.map(async (key, i) => {
        while (loading) {
          const deploy = nonces[i]! % 5n === 0n;
          const tx = signTx(common, key, {
            nonce: nonces[i]!,
            ...(deploy ? { data: Uint8Array.from([0x60, 0x2a, 0x60, 0x00, 0x55, 0x60, 0x01, 0x60, 0x00, 0xf3]) } : { to: `0x${(1000 + Number(nonces[i])).toString(16).padStart(40, '0')}` as `0x${string}`, value: 1n }),
            gasLimit: deploy ? 100_000n : 21_000n,
          });
          nonces[i]!++;
          assert.equal((await rpc.send(tx, 30_000)).status, '0x1');
          sent++;
        }
      }),
    ).catch((err: unknown) => err);

    // The network past its first checkpoints (the key exchange drives it to one at start).
    await until('a stable checkpoint ≥ 300 on replica 0', 60_000, async () => ((await net.health(0))?.lastStable ?? 0) >= 300 ? true : undefined);
    // Replica 3 loses its disk: stopped, its store deleted (its keys stay).
    await net.kill(3, 'SIGKILL');
    rmSync(join(net.root, 'replica-3', 'data'), { recursive: true, force: true });
    const before = sent;
    await until('more load while replica 3 is down', 60_000, async () => (sent >= before + 20 ? true : undefined));
    net.restart(3);

    // It fetches a snapshot and catches up with the others under load.
    const installed = await until('replica 3 installed a snapshot', 90_000, async () => {
      const line = (net.logs().get(3) ?? '').split('\n').find((l) => l.includes('"snapshot installed"'));
      return line === undefined ? undefined : (JSON.parse(line) as { seq: number; block: number; fetched: number; bytes: number; ms: number; faulty: number[] });
    });
    assert.ok(installed.seq >= 300, `the snapshot is of a checkpoint past the first ones (${installed.seq})`);
    assert.ok(installed.fetched > 0 && installed.bytes > 0);
    assert.deepEqual(installed.faulty, []);
    await until('replica 3 executing with the others', 90_000, async () => {
      const [h0, h3] = [await net.health(0), await net.health(3)];
      return h0 !== null && h3 !== null && h3.lastExecuted >= h0.lastExecuted - 2 && h3.lastExecuted > installed.seq ? true : undefined;
    });
    // Counted where operators look: the replica's metrics.
    const metrics = await (await fetch(net.metricsUrl(3))).text();
    assert.match(metrics, new RegExp(`^bulwark_snapshot_installed_seq ${installed.seq}$`, 'm'));
    assert.match(metrics, /^bulwark_snapshot_fetches\{outcome="installed"\} 1$/m);
    // Replica 2, with its whole store, falls far behind while running (stopped with SIGSTOP, as a
    // host that froze or was cut off): once it runs again it restarts itself from a snapshot, walking
    // the state it already holds and fetching only what changed.
    const h2 = await net.health(2);
    process.kill(net.pid(2)!, 'SIGSTOP');
    try {
      await until('the others a checkpoint window and more past replica 2', 120_000, async () => (((await net.health(0))?.lastStable ?? 0) >= h2!.lastExecuted + 300 ? true : undefined));
    } finally {
      process.kill(net.pid(2)!, 'SIGCONT');
    }
    const rejoined = await until('replica 2 installed a snapshot', 90_000, async () => {
      const line = (net.logs().get(2) ?? '').split('\n').find((l) => l.includes('"snapshot installed"'));
      return line === undefined ? undefined : (JSON.parse(line) as { seq: number; block: number; fetched: number; local: number });
    });
    assert.ok(rejoined.seq > h2!.lastExecuted, `replica 2's snapshot (${rejoined.seq}) is past where it stopped (${h2!.lastExecuted})`);
    assert.ok(rejoined.local > 0, 'it walked the state it held rather than fetch it all');

    loading = false;
    const loadFailure = await load;
    assert.ok(!(loadFailure instanceof Error), `the load failed: ${String(loadFailure)}`);
    // The same chain everywhere: each replica's block at one height.
    const head = await until('all four at one head', 60_000, async () => {
      const hs = await Promise.all(net.replicas.map((id) => net.health(id)));
      return hs.every((h) => h !== null && h.block === hs[0]!.block && h.blockHash === hs[0]!.blockHash) ? hs[0]!.block : undefined;
    });
    assert.ok(head > installed.block && head >= rejoined.block);
    for (const [i, key] of senders.entries()) {
      assert.equal(BigInt(await rpc.call<string>('eth_getTransactionCount', [addressOf(key), 'latest'])), nonces[i], 'every transaction landed once');
    }
    assert.match(net.logs().get(3) ?? '', /"far behind the other replicas: a snapshot is faster than replaying"/);

    await net.stop();
    for (const id of net.replicas) {
      const result = await verifyLedgerDirectory({ dir: join(net.root, `replica-${id}`), state: id === 3 });
      assert.ok(result.ok, `replica ${id}: ${result.ok ? '' : JSON.stringify(result.problem)}`);
      if (id === 3) assert.deepEqual(result.counts.snapshot, { seq: installed.seq, block: installed.block, headers: installed.block <= 256 ? installed.block - 1 : 256 });
      else if (id === 2) assert.equal(result.counts.snapshot?.seq, rejoined.seq);
      else assert.equal(result.counts.snapshot, null);
    }
  } finally {
    loading = false;
    await net.stop();
    if (process.env.BULWARK_KEEP_TEST_DIR === undefined) rmSync(net.root, { recursive: true, force: true });
    else process.stderr.write(`kept ${net.root}\n`);
  }
});
