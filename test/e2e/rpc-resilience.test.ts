// Resilience seen through JSON-RPC: ethers v6 streams ETH transfers from three funded keys to the
// client node while replicas are killed with SIGKILL and started again — a backup, then the primary
// (a view change) — and finally the whole network is stopped and restarted on its data directories.
// Every receipt the client was given must still be there, in the same block, afterwards; balances
// and nonces must add up to exactly the transfers that were acknowledged.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { JsonRpcProvider, Transaction, Wallet } from 'ethers';
import { testKey } from '../helpers/chain.ts';
import { startNetwork, type ReplicaHealth, type TestNetwork } from '../helpers/network.ts';

const SENDERS = 3;
/** Transactions each sender keeps in flight (sent, receipt not yet seen). */
const DEPTH = 2;
const FUNDS = 10n ** 24n;
const RECEIPT_DEADLINE_MS = 90_000;

/** What the client was told about one transaction. */
interface Seen {
  readonly sender: number;
  readonly nonce: number;
  readonly value: bigint;
  readonly blockNumber: number;
  readonly blockHash: string;
  readonly status: number | null;
}

const recipientOf = (sender: number) => `0x00000000000000000000000000000000000000e${sender}`;

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>, check?: () => void): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    check?.();
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * ETH transfers from SENDERS keys, each with explicit nonces, DEPTH in flight per sender, each
 * followed to its receipt. `start` and `stop` may alternate; nonces carry on.
 */
class TransferStream {
  readonly seen = new Map<string, Seen>();
  readonly nonces: number[] = Array.from({ length: SENDERS }, () => 0);
  readonly sent: bigint[] = Array.from({ length: SENDERS }, () => 0n);
  failure: unknown = null;
  #running = false;
  #loops: Array<Promise<void>> = [];

  constructor(
    readonly provider: JsonRpcProvider,
    readonly wallets: readonly Wallet[],
  ) {}

  start(): void {
    assert.equal(this.#running, false);
    this.#running = true;
    this.#loops = this.wallets.map((_, i) => this.#loop(i));
  }

  /** Gives up on receipts still awaited (cleanup after a failure). */
  abort(): void {
    this.#running = false;
    this.failure ??= new Error('stream aborted');
  }

  /** Stops sending and waits for every transaction in flight to have its receipt. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
    this.check();
  }

  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  get count(): number {
    return this.seen.size;
  }

  /** The highest block any receipt named so far. */
  get maxBlock(): number {
    let max = 0;
    for (const s of this.seen.values()) max = Math.max(max, s.blockNumber);
    return max;
  }

  /** Receipts in blocks above `block`. */
  above(block: number): number {
    let n = 0;
    for (const s of this.seen.values()) if (s.blockNumber > block) n++;
    return n;
  }

  async #loop(sender: number): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    while (this.#running && this.failure === null) {
      while (inFlight.size < DEPTH) {
        const p = this.#one(sender, this.nonces[sender]!++).catch((err: unknown) => {
          this.failure ??= err;
        });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }

  async #one(sender: number, nonce: number): Promise<void> {
    const value = 1_000n + BigInt(nonce);
    const signed = await this.wallets[sender]!.signTransaction({
      type: 2,
      chainId: 1337n,
      nonce,
      to: recipientOf(sender),
      value,
      gasLimit: 21_000n,
      maxFeePerGas: 0n,
      maxPriorityFeePerGas: 0n,
    });
    const hash = Transaction.from(signed).hash!;
    this.sent[sender]! += value;
    const response = await this.provider.broadcastTransaction(signed);
    assert.equal(response.hash, hash, 'eth_sendRawTransaction answers the transaction hash');
    const end = Date.now() + RECEIPT_DEADLINE_MS;
    for (;;) {
      const r = await this.provider.getTransactionReceipt(hash);
      if (r !== null) {
        this.seen.set(hash, { sender, nonce, value, blockNumber: r.blockNumber, blockHash: r.blockHash, status: r.status });
        return;
      }
      if (this.failure !== null) return;
      if (Date.now() > end) throw new Error(`no receipt for ${hash} (sender ${sender}, nonce ${nonce}) within ${RECEIPT_DEADLINE_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A node that died on its own (e.g. refused to start) fails the test now rather than at a deadline. */
function assertRunning(net: TestNetwork, ids: readonly number[]): void {
  for (const id of ids) if (!net.isRunning(id)) throw new Error(`node ${id} is not running (see its log lines below)`);
}

async function healthOf(net: TestNetwork, ids: readonly number[]): Promise<Array<ReplicaHealth | null>> {
  return Promise.all(ids.map((id) => net.health(id)));
}

/** All four replicas at one head (number and hash) and one view; the stream must be stopped. */
async function converged(net: TestNetwork, what: string): Promise<ReplicaHealth> {
  let last: (ReplicaHealth | null)[] = [];
  return until(
    `${what}: all four replicas at the same head and view`,
    60_000,
    async () => {
      const hs = (last = await healthOf(net, net.replicas));
      const [first] = hs;
      if (first === null || first === undefined) return undefined;
      const same = hs.every((h) => h !== null && h.block === first.block && h.blockHash === first.blockHash && h.view === first.view && h.active);
      return same ? first : undefined;
    },
    () => assertRunning(net, net.replicas),
  ).catch((err: unknown) => {
    const seen = last.map((h, id) => (h === null ? `${id}: no answer` : `${id}: view ${h.view}${h.active ? '' : ' (changing)'} block ${h.block} executed ${h.lastExecuted}`));
    throw new Error(`${(err as Error).message}; last seen: ${seen.join('; ')}`);
  });
}

/** The block at `number` as the client node's certified mirror holds it (waiting for the mirror to get there). */
async function certifiedHash(provider: JsonRpcProvider, number: number): Promise<string> {
  return until(`block ${number} on the client node`, 30_000, async () => (await provider.getBlock(number))?.hash ?? undefined);
}

/**
 * Waits until replica `id`, started again, has executed up to `target` and its head block is the
 * one the client node certified at that height.
 */
async function caughtUp(net: TestNetwork, provider: JsonRpcProvider, stream: TransferStream, id: number, target: number): Promise<ReplicaHealth> {
  const h = await until(
    `replica ${id} to reach block ${target}`,
    90_000,
    async () => {
      const h = await net.health(id);
      return h !== null && h.block >= target ? h : undefined;
    },
    () => {
      stream.check();
      assertRunning(net, [id]);
    },
  );
  assert.equal(h.blockHash, await certifiedHash(provider, h.block), `replica ${id}'s head is the certified block ${h.block}`);
  return h;
}

/** Every recorded receipt, asked for again: same block, same hash, same status. */
async function checkReceipts(provider: JsonRpcProvider, stream: TransferStream, when: string): Promise<void> {
  const entries = [...stream.seen.entries()];
  for (let i = 0; i < entries.length; i += 50) {
    const chunk = entries.slice(i, i + 50);
    const again = await Promise.all(chunk.map(([hash]) => provider.getTransactionReceipt(hash)));
    chunk.forEach(([hash, s], j) => {
      const r = again[j];
      assert.ok(r !== null && r !== undefined, `${when}: the receipt of ${hash} is gone`);
      assert.equal(r.blockHash, s.blockHash, `${when}: ${hash} moved to another block`);
      assert.equal(r.blockNumber, s.blockNumber, `${when}: ${hash} moved to another height`);
      assert.equal(r.status, s.status, `${when}: ${hash} changed status`);
    });
  }
  // And each of those blocks is still the canonical one at its height.
  const blocks = new Map([...stream.seen.values()].map((s) => [s.blockNumber, s.blockHash]));
  for (const [number, hash] of blocks) assert.equal((await provider.getBlock(number))?.hash, hash, `${when}: block ${number} replaced`);
}

/** Balances and nonces from JSON-RPC (signed replica reads at the client node's head). */
async function accounts(provider: JsonRpcProvider, wallets: readonly Wallet[]) {
  return Promise.all(
    wallets.map(async (w, i) => ({
      nonce: await provider.getTransactionCount(w.address, 'latest'),
      balance: await provider.getBalance(w.address, 'latest'),
      received: await provider.getBalance(recipientOf(i), 'latest'),
    })),
  );
}

function diagnoseLogs(t: TestContext, net: TestNetwork): void {
  for (const [id, text] of net.logs()) {
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const byMsg = new Map<string, number>();
    for (const line of lines) {
      let key = line.slice(0, 120);
      try {
        const j = JSON.parse(line) as { level?: number; msg?: string };
        key = `level ${j.level ?? '?'}: ${j.msg ?? ''}`;
      } catch {
        // not a log line (e.g. the client's "JSON-RPC at" banner)
      }
      byMsg.set(key, (byMsg.get(key) ?? 0) + 1);
    }
    t.diagnostic(`node ${id}: ${lines.length} log lines ${JSON.stringify(Object.fromEntries(byMsg))}`);
  }
}

test('JSON-RPC under faults: a backup and then the primary killed mid-stream and restarted, then the whole network restarted; no receipt lost', { timeout: 240_000 }, async (t) => {
  const net = await startNetwork(13);
  t.after(() => net.stop()); // also after a timeout, when the body below may never reach its finally
  const provider = new JsonRpcProvider(net.url, 1337, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  const wallets = Array.from({ length: SENDERS }, (_, i) => new Wallet(`0x${Buffer.from(testKey(i)).toString('hex')}`, provider));
  const stream = new TransferStream(provider, wallets);
  const started = Date.now();
  const phase = (name: string) => t.diagnostic(`${((Date.now() - started) / 1000).toFixed(1)} s: ${name} (${stream.count} receipts, block ${stream.maxBlock})`);
  try {
    for (const w of wallets) assert.equal(await provider.getBalance(w.address), FUNDS);
    const h0 = (await net.health(0))!;
    assert.equal(h0.view, 0);

    // 1. The stream runs.
    stream.start();
    await until('the first receipts', 60_000, async () => (stream.count >= 15 ? true : undefined), () => stream.check());
    phase('stream running');

    // 2. A backup killed with SIGKILL: the other three keep committing.
    const primary = (await net.health(0))!.view % 4;
    const backup = (primary + 3) % 4;
    const killedAt = stream.maxBlock;
    const exit = await net.kill(backup, 'SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    phase(`replica ${backup} killed`);
    await until(`receipts in blocks after replica ${backup} died`, 90_000, async () => (stream.above(killedAt) >= 20 ? true : undefined), () => stream.check());
    phase('stream went on without it');
    const others = [0, 1, 2, 3].filter((id) => id !== backup);
    const target = Math.max(...(await healthOf(net, others)).map((h) => h?.block ?? 0));
    net.restart(backup);
    const back = await caughtUp(net, provider, stream, backup, target);
    phase(`replica ${backup} caught up to block ${back.block} while the stream ran`);
    await stream.stop();
    const quiet1 = await converged(net, `after replica ${backup} came back`);
    if (quiet1.view !== 0) t.diagnostic(`a view change (to view ${quiet1.view}) while only a backup was away`);
    assert.equal(quiet1.block, stream.maxBlock, 'the replicas\' head is the last block a receipt named');
    phase('all four at one head');

    // 3. The primary killed with SIGKILL: a view change, and the stream goes on.
    stream.start();
    await until('receipts before the primary dies', 60_000, async () => (stream.above(quiet1.block) >= 10 ? true : undefined), () => stream.check());
    const oldPrimary = quiet1.view % 4;
    const survivors = [0, 1, 2, 3].filter((id) => id !== oldPrimary);
    const primaryKilledAt = stream.maxBlock;
    assert.equal((await net.kill(oldPrimary, 'SIGKILL')).signal, 'SIGKILL');
    phase(`primary ${oldPrimary} killed`);
    const newView = await until(
      'a view change on the survivors',
      90_000,
      async () => {
        const hs = await healthOf(net, survivors);
        const views = hs.map((h) => (h !== null && h.active ? h.view : -1));
        return views.every((v) => v > quiet1.view && v === views[0]) ? views[0]! : undefined;
      },
      () => stream.check(),
    );
    assert.notEqual(newView % 4, oldPrimary, 'the new view has another primary');
    phase(`view ${newView}, primary ${newView % 4}`);
    const viewChangedAt = stream.maxBlock;
    await until('receipts in the new view', 90_000, async () => (stream.above(viewChangedAt) >= 20 ? true : undefined), () => stream.check());
    assert.ok(stream.above(primaryKilledAt) >= 20);
    phase('stream went on in the new view');
    const target2 = Math.max(...(await healthOf(net, survivors)).map((h) => h?.block ?? 0));
    net.restart(oldPrimary);
    const back2 = await caughtUp(net, provider, stream, oldPrimary, target2);
    phase(`replica ${oldPrimary} caught up to block ${back2.block} while the stream ran`);
    await stream.stop();
    const quiet2 = await converged(net, `after replica ${oldPrimary} came back`);
    assert.ok(quiet2.view >= newView, `the restarted primary follows view ${quiet2.view}`);
    assert.equal(quiet2.block, stream.maxBlock);
    assert.equal(await provider.getBlockNumber(), quiet2.block, 'the client node at the replicas\' head');
    assert.equal(await certifiedHash(provider, quiet2.block), quiet2.blockHash);
    phase(`all four at block ${quiet2.block}, view ${quiet2.view}`);

    // 4. Every receipt the client saw is still there, and the accounts add up.
    assert.ok(stream.count >= 75, `${stream.count} receipts`);
    for (const s of stream.seen.values()) assert.equal(s.status, 1, `sender ${s.sender} nonce ${s.nonce} failed`);
    await checkReceipts(provider, stream, 'after the faults');
    const before = await accounts(provider, wallets);
    before.forEach((a, i) => {
      const mine = [...stream.seen.values()].filter((s) => s.sender === i);
      assert.equal(mine.length, stream.nonces[i], `sender ${i}: one receipt per nonce sent`);
      assert.deepEqual(new Set(mine.map((s) => s.nonce)).size, mine.length);
      assert.equal(a.nonce, stream.nonces[i], `sender ${i}'s nonce`);
      assert.equal(a.balance, FUNDS - stream.sent[i]!, `sender ${i}'s balance: free gas, exactly the values sent`);
      assert.equal(a.received, stream.sent[i], `recipient ${i}'s balance`);
    });
    const headBefore = await provider.getBlockNumber();
    phase('receipts and accounts checked');

    // 5. All five processes stopped with SIGTERM and started again on their directories.
    const exits = await net.restartAll();
    assert.deepEqual(
      exits.map((e) => e.code),
      [0, 0, 0, 0, 0],
      `clean exits on SIGTERM: ${JSON.stringify(exits)}`,
    );
    phase('network restarted');
    assert.ok((await provider.getBlockNumber()) >= headBefore, 'the client node kept its chain');
    await checkReceipts(provider, stream, 'after the restart');
    assert.deepEqual(await accounts(provider, wallets), before, 'balances and nonces unchanged');
    const after = await converged(net, 'after the restart');
    assert.equal(after.block, quiet2.block);
    assert.equal(after.blockHash, quiet2.blockHash);

    // And one more transaction lands.
    const last = await wallets[0]!.sendTransaction({ to: recipientOf(0), value: 7n, nonce: stream.nonces[0]!, gasLimit: 21_000n, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n });
    const receipt = await until('the receipt after the restart', 90_000, async () => (await provider.getTransactionReceipt(last.hash)) ?? undefined);
    assert.equal(receipt.status, 1);
    assert.equal(receipt.blockNumber, headBefore + 1);
    assert.equal(await provider.getTransactionCount(wallets[0]!.address, 'latest'), stream.nonces[0]! + 1);
    assert.equal(await provider.getBalance(recipientOf(0), 'latest'), stream.sent[0]! + 7n);
    const final = await converged(net, 'after the last transaction');
    assert.equal(final.block, receipt.blockNumber);
    assert.equal(final.blockHash, receipt.blockHash);
    phase('one more transaction landed');
  } finally {
    stream.abort();
    await stream.stop().catch(() => {});
    provider.destroy();
    diagnoseLogs(t, net);
    await net.stop();
  }
});
