// Four replica processes on real TLS sockets and RocksDB, ordering and executing Ethereum
// transactions that a client node submits through the BFT client; one replica killed with SIGKILL
// under load comes back and catches up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BftClient } from '../../src/client/bft-client.ts';
import { LedgerMirror } from '../../src/client/mirror.ts';
import { ReadClient } from '../../src/client/read-client.ts';
import { Submitter } from '../../src/client/submitter.ts';
import { TxPool, type AccountView } from '../../src/client/txpool.ts';
import type { TxOutcome } from '../../src/codec/tx-payload.ts';
import { decodeCallOutcome, quantityOf } from '../../src/codec/read.ts';
import { decodeMessage } from '../../src/codec/message-codec.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { decodeRequestResult, encodeTxPayload } from '../../src/codec/tx-payload.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { TlsTransport } from '../../src/net/tls-transport.ts';
import { runInit } from '../../src/setup/init.ts';
import { loadNodeDirectory } from '../../src/setup/node-directory.ts';
import { tlsTransportOptions } from '../../src/setup/transport-config.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';
import { FAST, freePorts } from '../helpers/net.ts';

await initHashes();

interface Health {
  lastExecuted: number;
  block: number;
  blockHash: string;
  view: number;
}

async function health(port: number): Promise<Health | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    return (await res.json()) as Health;
  } catch {
    return null;
  }
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('four replica processes order and execute transactions; a replica killed with SIGKILL catches up; the primary killed, a view change', { timeout: 180_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'bulwark-net-'));
  const procs = new Map<number, ChildProcess>();
  const ports = await freePorts(8);
  const metricsPort = (id: number) => ports[4 + id]!;
  const start = (id: number) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'replica', '--dir', join(root, `replica-${id}`), '--metrics-port', String(metricsPort(id)), '--log-level', 'warn'],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    procs.set(id, child);
    return child;
  };
  let client: BftClient | undefined;
  let mirror: LedgerMirror | undefined;
  let reads: ReadClient | undefined;
  let transport: TlsTransport | undefined;
  try {
    await runInit({
      outDir: root,
      topology: { replicas: 4, clients: 1, replicaEndpoints: ports.slice(0, 4).map((port) => ({ host: '127.0.0.1', port })) },
      chainConfig: testConfig(),
      seed: new Uint8Array(32).fill(7),
    });
    for (let id = 0; id < 4; id++) start(id);
    await until('replicas up', 60_000, async () => ((await Promise.all([0, 1, 2, 3].map((i) => health(metricsPort(i))))).every((h) => h !== null) ? true : undefined));

    const material = await loadNodeDirectory(join(root, 'client-4'));
    assert.equal(material.role, 'client');
    if (material.role !== 'client') return;
    transport = new TlsTransport(tlsTransportOptions(material, { tuning: FAST }));
    const executionKeys = material.network.replicas.map((r) => r.executionKey);
    client = new BftClient({
      transport,
      clientId: material.id,
      authKey: material.authKey,
      executionKeys,
      f: material.network.f,
      firstRequestSeq: Date.now() * 1000,
      retryMs: 1_000,
      subscribe: false,
    });
    const t = transport;
    mirror = await LedgerMirror.open({ kv: new MemoryStore(), config: material.network.chainConfig, send: (to, f) => t.send(to, f), executionKeys, f: material.network.f });
    const bft = client;
    const m = mirror;
    reads = new ReadClient({ send: (to, f) => t.send(to, f), clientId: material.id, executionKeys, f: material.network.f });
    const rc = reads;
    transport.onFrame((from, frame) => {
      const msg = decodeMessage(frame);
      bft.onMessage(from, msg);
      m.onMessage(from, msg);
      rc.onMessage(from, msg);
    });
    await transport.start();
    const common = buildCommon(1337n, 'cancun');
    const key = testKey(0);
    let nonce = 0;
    const txs = (count: number) =>
      Array.from({ length: count }, () => signTx(common, key, { nonce: BigInt(nonce++), to: '0x00000000000000000000000000000000000000aa', value: 1n, gasLimit: 21_000n }).serialize());

    const first = await client.submit(encodeTxPayload(txs(3)));
    const r = decodeRequestResult(first.result);
    assert.ok(!r.malformed && r.txs.length === 3 && r.txs.every((t) => t.included), 'all three transactions in the block');
    assert.equal(first.summary.blockNumber, 1);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort(0)}/metrics`)).text();
    assert.match(metrics, /bulwark_consensus_committed_total\{path="(fast|slow)"\} [1-9]/);
    assert.match(metrics, /bulwark_chain_block_number 1/);
    assert.match(metrics, /bulwark_net_peer_connected\{peer="1"\} 1/);

    // Kill a backup mid-stream; the other three keep committing (n − f = 3 of 4).
    procs.get(3)!.kill('SIGKILL');
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await client.submit(encodeTxPayload(txs(4))));
    assert.ok(results.every((c) => c.replicas.every((x) => x !== 3)));
    const last = results[results.length - 1]!;

    start(3);
    const caughtUp = await until('replica 3 to catch up', 60_000, async () => {
      const h = await health(metricsPort(3));
      return h !== null && h.lastExecuted >= last.seq ? h : undefined;
    });
    const h0 = await health(metricsPort(0));
    assert.ok(h0 !== null);
    assert.equal(caughtUp.blockHash, h0.blockHash, 'the same head block as replica 0');
    assert.equal(caughtUp.block, last.summary.blockNumber, 'the restarted replica holds every block');

    // And it takes part again: stop another backup, so the three that remain must include it.
    procs.get(2)!.kill('SIGTERM');
    const after = await client.submit(encodeTxPayload(txs(2)));
    assert.ok(after.summary.blockNumber > last.summary.blockNumber);

    // The primary killed: a view change, and the stream goes on.
    const two = procs.get(2)!;
    if (two.exitCode === null && two.signalCode === null) await new Promise((r) => two.once('exit', r));
    assert.equal(two.exitCode, 0, 'SIGTERM is a clean shutdown');
    start(2);
    await until('replica 2 back', 60_000, async () => ((await health(metricsPort(2)))?.lastExecuted ?? -1) >= after.seq ? true : undefined);
    procs.get(0)!.kill('SIGKILL');
    const inNewView = await client.submit(encodeTxPayload(txs(2)));
    assert.ok(inNewView.summary.blockNumber > after.summary.blockNumber);
    const h1 = await health(metricsPort(1));
    assert.ok(h1 !== null && h1.view >= 1, `replica 1 is in view ${h1?.view}`);
    const next = await client.submit(encodeTxPayload(txs(1)));
    assert.ok(next.seq > inNewView.seq, 'and the client goes on with the new primary');

    // The client node's mirror holds every block, each certified by f + 1 replicas.
    const mirrored = await until('the mirror to reach the head', 30_000, async () => {
      mirror!.poke();
      await mirror!.settled();
      return mirror!.head.number === BigInt(next.summary.blockNumber) ? mirror!.head : undefined;
    });
    assert.ok(Buffer.from(mirrored.hash).equals(Buffer.from(next.summary.blockHash)), "the certified head");
    const receipts = await mirror.blocks.receipts(mirrored.hash);
    assert.equal(receipts?.length, 1);
    assert.equal(mirror.rejected, 0);

    // State reads at the certified head, each answered by f + 1 matching signed replies.
    const at = Number(mirrored.number);
    const recipient = new Uint8Array(Buffer.from('00000000000000000000000000000000000000aa', 'hex'));
    const balance = await reads.read({ kind: 'balance', address: recipient }, at);
    assert.ok(balance.ok);
    assert.equal(quantityOf(balance.result), BigInt(nonce), 'one wei per transaction sent');
    const senderNonce = await reads.read({ kind: 'nonce', address: new Uint8Array(Buffer.from(addressOf(key).slice(2), 'hex')) }, at);
    assert.equal(quantityOf(senderNonce.result), BigInt(nonce));
    const call = await reads.read({ kind: 'call', call: { to: recipient, data: new Uint8Array([1, 2]) } }, at);
    assert.ok(call.ok && decodeCallOutcome(call.result).success, 'a call to an account without code succeeds');
    // A block no replica has: each waits for it a while, then stays silent — "not there yet" is
    // not a fact f + 1 replicas could sign about the block.
    await assert.rejects(reads.read({ kind: 'balance', address: recipient }, at + 1_000), { code: 'CLIENT_READ_TIMEOUT' });

    // The pool and the submitter: a burst of 20 nonces from one sender, sent concurrently, all land.
    const rc2 = reads;
    const head = () => Number(mirror!.head.number);
    const hexToAddress = (a: string) => new Uint8Array(Buffer.from(a.slice(2), 'hex'));
    const quantity = async (kind: 'nonce' | 'balance', a: string) => {
      const res = await rc2.read({ kind, address: hexToAddress(a) }, head());
      assert.ok(res.ok, Buffer.from(res.result).toString());
      return quantityOf(res.result);
    };
    const view: AccountView = { nonce: (a) => quantity('nonce', a), balance: (a) => quantity('balance', a) };
    const pool = new TxPool({ config: material.network.chainConfig, common, state: view });
    const outcomes = new Map<string, TxOutcome>();
    const submitter = new Submitter({ pool, client, onOutcome: (hash, o) => outcomes.set(hash, o) });
    const burstKey = testKey(1);
    const burst = Array.from({ length: 20 }, (_, i) =>
      signTx(common, burstKey, { nonce: BigInt(i), to: '0x00000000000000000000000000000000000000bb', value: 1n, gasLimit: 21_000n }).serialize(),
    );
    const hashes = await Promise.all(burst.sort(() => Math.random() - 0.5).map((raw) => pool.add(raw)));
    assert.equal(await pool.pendingNonce(addressOf(burstKey)), 20n);
    submitter.kick();
    await until('the burst to land', 30_000, async () => (outcomes.size === 20 ? true : undefined));
    assert.ok(hashes.every((h) => outcomes.get(h)?.included === true), 'all 20 included');
    submitter.stop();
  } finally {
    client?.close();
    mirror?.close();
    reads?.close();
    await transport?.close();
    const exits = [...procs.values()].map(
      (p) => new Promise<number | null>((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve(p.exitCode) : p.once('exit', (code) => resolve(code)))),
    );
    for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    const codes = await Promise.all(exits);
    rmSync(root, { recursive: true, force: true });
    assert.ok(codes.every((c) => c === 0 || c === null), `replicas exited with ${codes.join(',')}`);
  }
});
