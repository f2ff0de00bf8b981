// Everything a block changes is written in one atomic batch: a process killed at any instant
// restarts at the previous block or the new one, never between.
//
// A child process (fixtures/crash-writer.ts) executes a deterministic chain on RocksDB and reports
// each block once execute() has returned; we SIGKILL it at varied moments (right after a report,
// at random points inside the next block, during start-up), then reopen the database here and check
// the head is the last reported block or the one after it, that the head block, its receipts and its
// transaction locations are all readable, and that the state at the head root is exactly what that
// many blocks imply. We then keep executing from there, here or in the next child. At the end the
// whole chain is re-executed in memory: every block on disk must be the deterministic one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bigIntToBytes, createAddressFromString, setLengthLeft, bytesToBigInt } from '@ethereumjs/util';
import { initHashes, keccak256 } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { openState } from '../../src/execution/state.ts';
import { NodeCache, TrieNodeStore } from '../../src/execution/trie-store.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { openRocksStore } from '../../src/storage/rocksdb.ts';
import { addressOf, testKey } from '../helpers/chain.ts';
import {
  EXERCISER,
  SENDERS,
  TRANSFERS_PER_SENDER,
  WRITER_KEY,
  blockTxs,
  crashConfig,
  recipient,
  senderNonce,
  storedValue,
  timestampOf,
  writerNonce,
} from './fixtures/crash-chain.ts';

await initHashes();

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const hex = (b: Uint8Array | undefined): string => (b === undefined ? 'undefined' : `0x${Buffer.from(b).toString('hex')}`);

const root = mkdtempSync(join(tmpdir(), 'bulwark-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** When to kill the child. */
type KillPlan =
  | { readonly kind: 'afterCommit'; readonly commits: number; readonly delayMs: number }
  | { readonly kind: 'afterStart'; readonly delayMs: number };

interface ChildRun {
  readonly opened: bigint | undefined;
  readonly committed: { number: bigint; hash: string; stateRoot: string }[];
  readonly stderr: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the writer on `dir` and SIGKILLs it according to `plan`; returns everything it printed. */
async function runAndKill(dir: string, plan: KillPlan): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let opened: bigint | undefined;
  const committed: ChildRun['committed'] = [];
  let killed = false;
  let exitedEarly: string | undefined;
  const kill = () => {
    if (!killed) {
      killed = true;
      child.kill('SIGKILL');
    }
  };
  const closed = new Promise<void>((resolve) => {
    child.on('close', (code, signal) => {
      if (!killed) exitedEarly = `writer exited by itself (code ${code}, signal ${signal}): ${stderr}`;
      resolve();
    });
  });
  let delayedKill: Promise<void> | undefined;
  const armDelayed = (ms: number) => {
    delayedKill ??= sleep(ms).then(kill);
  };
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    let nl: number;
    while ((nl = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, nl);
      stdout = stdout.slice(nl + 1);
      const [word, num, hash, stateRoot] = line.split(' ');
      if (word === 'opened') opened = BigInt(num!);
      if (word === 'committed') {
        committed.push({ number: BigInt(num!), hash: hash!, stateRoot: stateRoot! });
        if (plan.kind === 'afterCommit' && committed.length === plan.commits) {
          if (plan.delayMs === 0) kill();
          else armDelayed(plan.delayMs);
        }
      }
    }
  });
  if (plan.kind === 'afterStart') armDelayed(plan.delayMs);
  // A safety net only: a healthy writer commits a block well within this.
  const watchdog = setTimeout(kill, 30_000);
  await closed;
  clearTimeout(watchdog);
  await delayedKill;
  assert.equal(exitedEarly, undefined);
  return { opened, committed, stderr };
}

/** Every block hash ever reported (by a child or by us): committed means never lost, never changed. */
const reported = new Map<bigint, { hash: string; stateRoot: string }>();

function slotKey(key: bigint): Uint8Array {
  return keccak256(Buffer.concat([setLengthLeft(bigIntToBytes(key), 32), new Uint8Array(32)]));
}

/**
 * Reopens the database and checks it is a whole block: `allowed` heads only, everything reported
 * still canonical, the head block fully readable and its state exactly what `head` blocks imply.
 * Optionally executes the next block. Returns the head number.
 */
async function verify(dir: string, allowed: readonly bigint[], continueBlocks: number): Promise<bigint> {
  const kv = await openRocksStore(dir);
  try {
    const ex = await Executor.open({ kv, config: crashConfig() });
    const head = ex.head;
    const h = head.header.number;
    assert.ok(allowed.includes(h), `head ${h} after the crash; allowed: ${allowed.join(' or ')}`);

    for (const [n, r] of reported) {
      assert.ok(n <= h, `block ${n} was reported committed but the head is ${h}`);
      assert.equal(hex(await ex.blocks.canonicalHash(n)), r.hash, `block ${n}: canonical hash is the reported one`);
      assert.equal(hex((await ex.blocks.header(Buffer.from(r.hash.slice(2), 'hex')))?.stateRoot), r.stateRoot, `block ${n}: state root`);
    }

    // The head block, its receipts and the location of each of its transactions.
    const block = await ex.blocks.block(head.hash());
    assert.ok(block !== undefined, 'head block readable');
    assert.equal(block.header.number, h);
    assert.equal(hex(await ex.blocks.canonicalHash(h)), hex(head.hash()));
    assert.equal(await ex.blocks.canonicalHash(h + 1n), undefined, 'nothing canonical above the head');
    const expectedTxs = h === 0n ? 0 : SENDERS * TRANSFERS_PER_SENDER + (h === 1n ? 2 : 1);
    assert.equal(block.transactions.length, expectedTxs, 'head block transaction count');
    if (h > 0n) {
      assert.equal(hex(block.header.parentHash), hex(await ex.blocks.canonicalHash(h - 1n)), 'head links to its parent');
      assert.ok((await ex.blocks.block(block.header.parentHash)) !== undefined, 'parent block readable');
    }
    const receipts = await ex.blocks.receipts(head.hash());
    assert.ok(receipts !== undefined, 'head receipts readable');
    assert.equal(receipts.length, expectedTxs);
    assert.ok(receipts.every((r) => r.status === 1), 'all head transactions succeeded');
    assert.equal(receipts.at(-1)?.cumulativeGasUsed ?? 0n, block.header.gasUsed);
    for (const [i, tx] of block.transactions.entries()) {
      const loc = await ex.blocks.txLocation(tx.hash());
      assert.equal(hex(loc?.blockHash), hex(head.hash()), `tx ${i} location`);
      assert.equal(loc?.index, i);
    }

    // The state at the head root, read from disk through a fresh trie store: exactly h blocks.
    const state = openState({
      common: ex.common,
      store: new TrieNodeStore({ kv, prefix: PREFIX.stateTrie, cache: new NodeCache() }),
      root: head.header.stateRoot,
    });
    for (let s = 0; s < SENDERS; s++) {
      const acc = await state.getAccount(createAddressFromString(addressOf(testKey(s))));
      assert.equal(acc?.nonce, senderNonce(h), `sender ${s} nonce at head ${h}`);
    }
    assert.equal((await state.getAccount(createAddressFromString(addressOf(WRITER_KEY))))?.nonce, writerNonce(h), 'writer nonce');
    const exerciser = createAddressFromString(EXERCISER);
    if (h > 0n) {
      assert.equal(bytesToBigInt(await state.getStorage(exerciser, slotKey(h))), storedValue(h), `slot ${h}`);
      assert.equal((await state.getAccount(createAddressFromString(recipient(h, 0))))?.balance, 1n, 'a recipient of the head block');
    }
    assert.equal((await state.getStorage(exerciser, slotKey(h + 1n))).length, 0, `slot ${h + 1n} not yet written`);
    assert.equal(await state.getAccount(createAddressFromString(recipient(h + 1n, 0))), undefined, 'no recipient of the next block');

    // Keep going from here.
    for (let k = 0; k < continueBlocks; k++) {
      const n = ex.head.header.number + 1n;
      const r = await ex.execute(ex.head.hash(), blockTxs(ex.common, n), timestampOf(n));
      assert.deepEqual(r.rejected, [], `block ${n} executed after the crash`);
      assert.ok(r.receipts.every((x) => x.status === 1));
      reported.set(n, { hash: hex(r.block.hash()), stateRoot: hex(r.stateRoot) });
    }
    return ex.head.header.number;
  } finally {
    await kv.close();
  }
}

test('a writer killed at any instant leaves the previous block or the next one, whole', { timeout: 120_000 }, async (t) => {
  const dir = join(root, 'db');
  const started = performance.now();
  const rand = (lo: number, hi: number) => Math.floor(lo + Math.random() * (hi - lo));
  const plans: KillPlan[] = [
    { kind: 'afterCommit', commits: 1, delayMs: 0 },
    { kind: 'afterCommit', commits: 1, delayMs: rand(1, 400) },
    { kind: 'afterStart', delayMs: rand(0, 1500) },
    { kind: 'afterCommit', commits: 2, delayMs: 0 },
    { kind: 'afterCommit', commits: 1, delayMs: rand(200, 700) },
    { kind: 'afterCommit', commits: 1, delayMs: rand(1, 700) },
    { kind: 'afterStart', delayMs: rand(1500, 3000) },
    { kind: 'afterCommit', commits: 1, delayMs: rand(1, 900) },
    { kind: 'afterCommit', commits: 1, delayMs: 0 },
  ];
  let known: bigint | undefined; // the head as last verified; undefined: no database yet
  const outcomes: string[] = [];
  for (const [i, plan] of plans.entries()) {
    const run = await runAndKill(dir, plan);
    for (const c of run.committed) reported.set(c.number, { hash: c.hash, stateRoot: c.stateRoot });
    const last = run.committed.at(-1)?.number ?? run.opened;
    let allowed: bigint[];
    if (last !== undefined) {
      if (run.opened !== undefined && known !== undefined) assert.equal(run.opened, known, 'the writer resumed at the verified head');
      allowed = [last, last + 1n];
    } else {
      // Killed before it reported opening: it executed nothing (it may have written genesis).
      allowed = [known ?? 0n];
    }
    const continueBlocks = i % 2;
    const head = await verify(dir, allowed, continueBlocks);
    outcomes.push(`${plan.kind}/${'commits' in plan ? plan.commits : '-'}/${plan.delayMs}ms: reported ${last ?? '-'} → head ${head - BigInt(continueBlocks)}`);
    known = head;
  }
  // Diagnostic only: where the kills landed (head = reported + 1: between the write and the report).
  for (const o of outcomes) t.diagnostic(o);
  assert.ok(known !== undefined && known >= BigInt(plans.length), `the chain advanced (head ${known})`);

  // The whole chain on disk is the deterministic one: re-execute it in memory, block by block.
  const kv = await openRocksStore(dir);
  try {
    const disk = await Executor.open({ kv });
    const mem = await Executor.open({ kv: new MemoryStore(), config: crashConfig() });
    assert.equal(hex(mem.head.hash()), hex(await disk.blocks.canonicalHash(0n)), 'genesis');
    for (let n = 1n; n <= known; n++) {
      const r = await mem.execute(mem.head.hash(), blockTxs(mem.common, n), timestampOf(n));
      assert.equal(hex(r.block.hash()), hex(await disk.blocks.canonicalHash(n)), `block ${n} on disk is the deterministic one`);
    }
  } finally {
    await kv.close();
  }
  t.diagnostic(`${known} blocks in ${((performance.now() - started) / 1000).toFixed(1)} s`);
});
