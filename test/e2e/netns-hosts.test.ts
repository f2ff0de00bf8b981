// Separate hosts, for real: four replicas and a client node, each in its own Linux network
// namespace with its own address, set up with `bulwark init --replica-endpoints …` and started
// with `bulwark replica` / `bulwark client` as an operator would, under a stream of transactions
// sent to the client node's JSON-RPC. Then the network misbehaves (test/helpers/netns.ts):
//   1. 50 ms ± 20 ms latency and 1 % loss on every link: commits continue;
//   2. the primary partitioned away (nftables): a view change, commits continue; healed, the old
//      primary rejoins and catches up;
//   3. a 2–2 split: no commits on either side, nothing diverges; healed, commits resume;
//   4. the client node cut off from f replicas: its answers stay verified, commits continue.
// At the end every accepted transaction is in the chain exactly once and every replica has the
// same head block hash. Needs root, `ip`, `nft`, `python3` and /dev/net/tun; fails (does not
// skip) without them. BULWARK_NETNS_KEEP=1 keeps the node directories and logs;
// BULWARK_NETNS_LOG_LEVEL sets the nodes' log level (default warn).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { nodeEnv, nodeV8Flags } from '../../src/cli/node-process.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { addressOf, signTx, testKey } from '../helpers/chain.ts';
import { REPO, bulwark } from '../helpers/cli.ts';
import { NetnsLab, missingCapabilities, sweepLeftovers } from '../helpers/netns.ts';
import { hex, rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();

const REPLICAS = ['r0', 'r1', 'r2', 'r3'] as const;
const CLIENT = 'c4';
const NODE_PORT = 7100; // every node's consensus/TLS port, on its own address
const RPC_PORT = 8545;
const METRICS_PORT = 9100;
const SENDERS = 4;
const RECIPIENT = '0x000000000000000000000000000000000000beef';
const common = buildCommon(1337n);

interface Health {
  readonly replica: number;
  readonly view: number;
  readonly active: boolean;
  readonly lastExecuted: number;
  readonly block: number;
  readonly blockHash: string;
}

interface BftStatus {
  readonly view: number;
  readonly primary: number;
  readonly lastExecuted: number;
  readonly mirror: { block: number; hash: string };
  readonly nodes: ReadonlyArray<{ replica: number; link: 'up' | 'down'; answered: boolean; view?: number }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * The stream of transactions: SENDERS accounts each sending 1-wei transfers with consecutive
 * nonces, at most MAX_OUTSTANDING of them accepted and not yet in a block, one every PAUSE_MS.
 * A transaction counts as accepted when `eth_sendRawTransaction` answers its hash; a refusal
 * (a pool limit) is retried later with the same nonce.
 */
class Load {
  static readonly MAX_OUTSTANDING = 16;
  static readonly PAUSE_MS = 80;
  readonly accepted = new Map<string, { sender: number; nonce: number }>();
  readonly refusals: string[] = [];
  /** Per sender: the next nonce to send, and the nonce the chain has reached. */
  readonly next: number[] = Array(SENDERS).fill(0);
  readonly included: number[] = Array(SENDERS).fill(0);
  #running = true;
  #loops: Promise<void>[] = [];

  constructor(private readonly rpc: Rpc) {}

  start(): void {
    for (let s = 0; s < SENDERS; s++) this.#loops.push(this.#send(s));
    this.#loops.push(this.#poll());
  }

  totalIncluded(): number {
    return this.included.reduce((a, b) => a + b, 0);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  async #send(s: number): Promise<void> {
    const key = testKey(s);
    while (this.#running) {
      if (this.next[s]! - this.included[s]! >= Load.MAX_OUTSTANDING) {
        await sleep(50);
        continue;
      }
      const tx = signTx(common, key, { nonce: BigInt(this.next[s]!), to: RECIPIENT, value: 1n, gasLimit: 21_000n });
      try {
        const hash = await this.rpc.call<string>('eth_sendRawTransaction', [hex(tx.serialize())]);
        assert.equal(hash, hex(tx.hash()));
        this.accepted.set(hash, { sender: s, nonce: this.next[s]! });
        this.next[s]!++;
      } catch (err) {
        this.refusals.push((err as Error).message);
        await sleep(200);
      }
      await sleep(Load.PAUSE_MS);
    }
  }

  async #poll(): Promise<void> {
    while (this.#running) {
      await this.refresh();
      await sleep(200);
    }
  }

  async refresh(): Promise<void> {
    try {
      const counts = await Promise.all(
        Array.from({ length: SENDERS }, (_, s) => this.rpc.call<string>('eth_getTransactionCount', [addressOf(testKey(s)), 'latest'])),
      );
      counts.forEach((c, s) => (this.included[s] = Number(c)));
    } catch {
      /* the next poll */
    }
  }
}

describe('separate hosts: one network namespace per node', { timeout: 300_000 }, () => {
  let lab: NetnsLab | undefined;
  let root = '';
  const procs = new Map<string, ChildProcess>();
  let rpc: Rpc;
  let load: Load;
  const t0 = Date.now();
  const observed: Record<string, unknown> = {};

  const healthOf = async (name: string): Promise<Health | null> => {
    try {
      const res = await fetch(`http://${lab!.host(name).address}:${METRICS_PORT}/health`, { signal: AbortSignal.timeout(3_000) });
      return res.ok ? ((await res.json()) as Health) : null;
    } catch {
      return null;
    }
  };
  const allHealth = () => Promise.all(REPLICAS.map(healthOf));
  /** A replica's refusals of its peers' messages for misconduct (by reason), and the penalties they earned. */
  const misconductOf = async (name: string): Promise<{ refused: Record<string, number>; penalties: number }> => {
    const text = await (await fetch(`http://${lab!.host(name).address}:${METRICS_PORT}/metrics`)).text();
    const refused: Record<string, number> = {};
    for (const m of text.matchAll(/^bulwark_consensus_rejected_total\{reason="(bad-[a-z-]+|equivocation)"\} (\d+)/gm)) {
      if (Number(m[2]) > 0) refused[m[1]!] = Number(m[2]);
    }
    const penalties = [...text.matchAll(/^bulwark_peer_penalties_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    return { refused, penalties };
  };
  const status = () => rpc.call<BftStatus>('bft_status');
  const logOf = (name: string) => join(root, 'logs', `${name}.log`);

  /** Starts a node as its host's operator would: `bulwark replica|client --dir <its directory>`. */
  const launch = (name: string) => {
    const h = lab!.host(name);
    const dir = join(root, 'hosts', name, name === CLIENT ? 'client-4' : `replica-${name.slice(1)}`);
    const role =
      name === CLIENT
        ? ['client', '--dir', dir, '--rpc-host', h.address, '--rpc-port', String(RPC_PORT)]
        : [
            'replica', '--dir', dir, '--metrics-host', h.address, '--metrics-port', String(METRICS_PORT),
            // One replica accepts peers on every address of its host, as one behind NAT would.
            ...(name === 'r3' ? ['--listen-host', '0.0.0.0'] : []),
          ];
    const out = openSync(logOf(name), 'a');
    try {
      const child = lab!.spawnIn(name, [process.execPath, ...nodeV8Flags(), join(REPO, 'bin/bulwark.mjs'), ...role, '--log-level', process.env.BULWARK_NETNS_LOG_LEVEL ?? 'warn'], {
        cwd: REPO,
        stdio: ['ignore', out, out],
        env: nodeEnv(),
      });
      procs.set(name, child);
    } finally {
      closeSync(out);
    }
  };

  before(async () => {
    const missing = missingCapabilities();
    if (missing.length > 0) throw new Error(`this test needs separate network namespaces and cannot make them here:\n  ${missing.join('\n  ')}`);
    const swept = sweepLeftovers();
    if (swept.length > 0) console.log(`# removed what an earlier run left: ${swept.join(', ')}`);
    const made = await NetnsLab.create([...REPLICAS, CLIENT]);
    lab = made;
    root = made.tempDir();
    mkdirSync(join(root, 'logs'));

    // The trusted setup, with each node's own address.
    const endpoint = (name: string) => `${made.host(name).address}:${NODE_PORT}`;
    const alloc = Array.from({ length: SENDERS }, (_, s) => ['--alloc', `${addressOf(testKey(s))}=1000000000000000000000`]).flat();
    const init = await bulwark([
      'init',
      '--out', join(root, 'network'),
      '--chain-id', '1337',
      '--replica-endpoints', REPLICAS.map(endpoint).join(','),
      '--client-endpoints', endpoint(CLIENT),
      ...alloc,
    ]);
    assert.equal(init.code, 0, init.stderr);
    // Each node directory to its host (here: a directory per host).
    for (const name of REPLICAS) cpSync(join(root, 'network', `replica-${name.slice(1)}`), join(root, 'hosts', name, `replica-${name.slice(1)}`), { recursive: true });
    cpSync(join(root, 'network', 'client-4'), join(root, 'hosts', CLIENT, 'client-4'), { recursive: true });

    for (const name of [...REPLICAS, CLIENT]) launch(name);
    rpc = rpcClient(`http://${made.host(CLIENT).address}:${RPC_PORT}`);
    await until('every node up and the client node linked to every replica', 90_000, async () => {
      for (const [name, p] of procs) {
        if (p.exitCode !== null || p.signalCode !== null) throw new Error(`${name} exited: ${readFileSync(logOf(name), 'utf8').slice(-2_000)}`);
      }
      const hs = await allHealth();
      if (hs.some((h) => h === null)) return undefined;
      try {
        const s = await status();
        return s.nodes.every((n) => n.link === 'up' && n.answered) ? true : undefined;
      } catch {
        return undefined;
      }
    });
    load = new Load(rpc);
    load.start();
    await until('the first transactions committed', 60_000, () => (load.totalIncluded() >= 5 ? true : undefined));
    observed.setupSec = (Date.now() - t0) / 1000;
  });

  after(async () => {
    await load?.stop();
    await Promise.all(
      [...procs.values()].map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        const force = setTimeout(() => p.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(force);
      }),
    );
    await lab?.destroy();
    // BULWARK_NETNS_KEEP=1 keeps the node directories and logs (for diagnosis); a later run's sweep removes them.
    if (root !== '' && process.env.BULWARK_NETNS_KEEP === '1') console.log(`# kept ${root}`);
    else if (root !== '') rmSync(root, { recursive: true, force: true });
    observed.totalSec = (Date.now() - t0) / 1000;
    console.log(`# observed: ${JSON.stringify(observed)}`);
  });

  /** Waits `ms` and reports how many transactions landed meanwhile. */
  const commitsDuring = async (ms: number) => {
    await load.refresh();
    const before = load.totalIncluded();
    await sleep(ms);
    await load.refresh();
    return load.totalIncluded() - before;
  };

  it('commits continue under 50 ms ± 20 ms latency and 1 % loss on every link', async () => {
    const view = (await status()).view;
    await lab!.impair(50, 20, 1);
    try {
      await sleep(2_000);
      const committed = await commitsDuring(12_000);
      const stats = await lab!.switchStats();
      const after = await status();
      observed.latency = { committedIn12s: committed, viewBefore: view, viewAfter: after.view, framesForwarded: stats.forwarded, framesDropped: stats.dropped };
      assert.ok(committed >= 10, `only ${committed} transactions committed in 12 s under latency and loss`);
      assert.ok(stats.dropped > 0, 'the switch dropped no frame: the loss was not applied');
    } finally {
      await lab!.clearImpairment();
    }
  });

  it('the primary partitioned away: a view change, commits continue; healed, it catches up', async () => {
    const before = await status();
    const primary = `r${before.primary}`;
    const others = [...REPLICAS, CLIENT].filter((n) => n !== primary);
    lab!.cut(primary, others);
    const started = Date.now();
    let healed = false;
    try {
      const newView = await until('a view change away from the partitioned primary', 60_000, async () => {
        const hs = await Promise.all(others.filter((n) => n !== CLIENT).map(healthOf));
        return hs.every((h) => h !== null && h.active && h.view > before.view) ? hs[0]!.view : undefined;
      });
      const viewChangeMs = Date.now() - started;
      const committed = await commitsDuring(8_000);
      assert.ok(committed >= 5, `only ${committed} transactions committed in 8 s after the view change`);
      const dropped = lab!.dropped(primary);
      assert.ok(dropped > 0, 'the cut dropped nothing');
      lab!.heal(primary);
      healed = true;
      const healedAt = Date.now();
      const stuckAt = (await healthOf(primary))?.lastExecuted;
      let firstProgressMs: number | undefined;
      const caughtUp = await until('the old primary catching up', 60_000, async () => {
        const hs = await allHealth();
        if (hs.some((h) => h === null)) return undefined;
        const old = hs[before.primary]!;
        if (firstProgressMs === undefined && old.lastExecuted !== stuckAt) firstProgressMs = Date.now() - healedAt;
        const best = Math.max(...hs.map((h) => h!.block));
        // It has the same blocks as the others (same hash at the same height) and follows them.
        const peer = hs.find((h) => h!.block === old.block && h!.replica !== old.replica);
        return old.block >= best - 1 && peer !== undefined && peer !== null && peer.blockHash === old.blockHash && old.view >= newView ? old : undefined;
      });
      observed.primaryPartition = {
        oldPrimary: before.primary,
        viewBefore: before.view,
        viewAfter: newView,
        viewChangeMs,
        committedIn8sAfter: committed,
        packetsDroppedByCut: dropped,
        oldPrimaryFirstProgressAfterMs: firstProgressMs,
        caughtUpAfterMs: Date.now() - healedAt,
        oldPrimaryCaughtUpTo: caughtUp.block,
        oldPrimaryView: caughtUp.view,
      };
    } finally {
      if (!healed) lab!.heal(primary);
    }
  });

  it('a 2–2 split: no commits on either side, nothing diverges; healed, commits resume', async () => {
    const sides = [['r0', 'r1'], ['r2', 'r3']] as const;
    for (const n of sides[0]) lab!.cut(n, sides[1]);
    for (const n of sides[1]) lab!.cut(n, sides[0]);
    try {
      // What was certified before the split may still be executing, or be fetched by a replica
      // from the other replica of its side (catch-up): wait until no replica moves for 2 s.
      const splitAt = Date.now();
      let atSplit = await allHealth();
      await until('the replicas settling after the split', 20_000, async () => {
        await sleep(2_000);
        const now = await allHealth();
        const still = now.every((h, i) => h !== null && atSplit[i] !== null && h.lastExecuted === atSplit[i]!.lastExecuted);
        atSplit = now;
        return still ? true : undefined;
      });
      const settledMs = Date.now() - splitAt;
      const blockAtSplit = (await status()).mirror.block;
      await sleep(10_000);
      const later = await allHealth();
      const mirrorLater = (await status()).mirror.block;
      // No commit on either side: a commit needs 2f + c + 1 = 3 replicas, and a side has 2. A
      // replica may only fetch, from its side, what was committed before the split.
      for (const side of sides) {
        const ids = side.map((n) => Number(n.slice(1)));
        const highest = Math.max(...ids.map((i) => atSplit[i]!.lastExecuted));
        for (const i of ids) {
          assert.ok(later[i] !== null, `replica ${i} stopped answering`);
          assert.ok(later[i]!.lastExecuted <= highest, `replica ${i} executed ${later[i]!.lastExecuted} > ${highest}, the most its side had committed at the split`);
        }
      }
      assert.equal(mirrorLater, blockAtSplit, 'the client node certified a block during the split');
      // Replicas at the same height agree.
      for (const a of later) for (const b of later) if (a!.block === b!.block) assert.equal(a!.blockHash, b!.blockHash, 'diverged during the split');
      observed.split = {
        settledMs,
        heldMs: 10_000,
        lastExecutedAtSplit: atSplit.map((h) => h!.lastExecuted),
        lastExecutedLater: later.map((h) => h!.lastExecuted),
        views: later.map((h) => `${h!.view}${h!.active ? '' : ' (changing)'}`),
        blocks: later.map((h) => h!.block),
        dropped: REPLICAS.map((n) => lab!.dropped(n)),
      };
    } finally {
      for (const n of REPLICAS) lab!.heal(n);
    }
    const healedAt = Date.now();
    const base = load.totalIncluded();
    await until('commits after the split healed', 90_000, async () => {
      await load.refresh();
      return load.totalIncluded() >= base + 5 ? true : undefined;
    });
    const hs = await allHealth();
    Object.assign(observed.split as object, { resumedAfterMs: Date.now() - healedAt, viewAfterHeal: hs.map((h) => h?.view) });
  });

  it('the client node cut off from f replicas: answers stay verified, commits continue', async () => {
    const s0 = await status();
    // A replica that is not the primary: the client node keeps its link to the primary.
    const cutId = (s0.primary + 1) % 4;
    const cutOff = `r${cutId}`;
    lab!.cut(CLIENT, [cutOff]);
    const cutAt = Date.now();
    /** Certified blocks (f + 1 signatures, none from the cut-off replica) and state that adds up. */
    const verifiedAnswers = async () => {
      const head = await rpc.call<string>('eth_blockNumber');
      const cert = await rpc.call<{ signatures: { replica: number }[] }>('bft_getBlockCertificate', [head]);
      assert.ok(cert.signatures.length >= 2, `block ${head} certified by ${cert.signatures.length} replicas`);
      assert.ok(!cert.signatures.some((x) => x.replica === cutId), 'a signature from the cut-off replica');
      const sender = addressOf(testKey(0));
      const [nonce, balance] = await Promise.all([
        rpc.call<string>('eth_getTransactionCount', [sender, head]),
        rpc.call<string>('eth_getBalance', [sender, head]),
      ]);
      assert.equal(BigInt(balance), 10n ** 21n - BigInt(nonce), 'balance = genesis − 1 wei per transaction (free gas)');
      return cert.signatures.map((x) => x.replica);
    };
    try {
      // At first the link is a black hole: the client node still believes it up.
      const whileSilent = await commitsDuring(8_000);
      assert.ok(whileSilent >= 5, `only ${whileSilent} transactions committed in 8 s with the client node cut off from ${cutOff}`);
      const signersSilent = await verifiedAnswers();
      // Then the idle timeout (30 s of silence) takes the link down.
      await until(`the client node's link to ${cutOff} down`, 50_000, async () => {
        const s = await status();
        return s.nodes[cutId]!.link === 'down' ? true : undefined;
      });
      const linkDownMs = Date.now() - cutAt;
      const afterDown = await commitsDuring(4_000);
      assert.ok(afterDown >= 3, `only ${afterDown} transactions committed in 4 s with the link to ${cutOff} down`);
      const signersDown = await verifiedAnswers();
      const s1 = await status();
      observed.clientCut = {
        cutOff,
        committedIn8sSilent: whileSilent,
        linkDownAfterMs: linkDownMs,
        committedIn4sLinkDown: afterDown,
        certificateSigners: [signersSilent, signersDown],
        answered: s1.nodes.filter((n) => n.answered).map((n) => n.replica),
        view: s1.view,
      };
    } finally {
      lab!.heal(CLIENT);
    }
  });

  it('every accepted transaction landed exactly once, and every replica has the same blocks', async () => {
    await load.stop();
    await until('every accepted transaction in a block', 60_000, async () => {
      await load.refresh();
      return load.included.every((n, s) => n === load.next[s]) ? true : undefined;
    });
    const head = Number(await rpc.call<string>('eth_blockNumber'));
    const seen = new Map<string, number>();
    for (let n = 1; n <= head; n++) {
      const block = await rpc.call<{ transactions: string[] }>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false]);
      for (const h of block.transactions) seen.set(h, (seen.get(h) ?? 0) + 1);
    }
    const duplicates = [...seen].filter(([, c]) => c > 1);
    assert.deepEqual(duplicates, [], 'transactions in more than one block');
    const missing = [...load.accepted.keys()].filter((h) => !seen.has(h));
    assert.deepEqual(missing, [], 'accepted transactions in no block');
    assert.equal(seen.size, load.accepted.size, 'blocks hold transactions nobody sent');
    for (const [hash] of [...load.accepted].slice(-20)) {
      const r = await rpc.call<{ status: string }>('eth_getTransactionReceipt', [hash]);
      assert.equal(r.status, '0x1');
    }
    // Every replica at the same head, with the same hash, as the client node's mirror.
    const same = await until('every replica at the same head', 60_000, async () => {
      const hs = await allHealth();
      const mirror = (await status()).mirror;
      if (hs.some((h) => h === null || h.block !== mirror.block)) return undefined;
      return { hashes: hs.map((h) => h!.blockHash), mirror };
    });
    for (const h of same.hashes) assert.equal(h, same.mirror.hash);
    // Every replica is honest: none may have cut another off for misconduct.
    const refusals = await Promise.all(REPLICAS.map(misconductOf));
    observed.final = {
      misconductRefusals: refusals.map((r) => r.refused),
      accepted: load.accepted.size,
      refusals: load.refusals.length,
      blocks: head,
      views: (await allHealth()).map((h) => h?.view),
    };
    assert.deepEqual(refusals.map((r) => r.penalties), [0, 0, 0, 0], 'a replica penalised an honest peer');
  });
});
