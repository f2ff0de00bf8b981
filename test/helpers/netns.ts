/**
 * Separate hosts on one machine, for end-to-end tests that run as root: one Linux network
 * namespace per node, each with its own address on one Ethernet segment, and nftables rules in
 * the namespaces to partition them.
 *
 * The segment is `test/e2e/fixtures/netns-switch.py`, a learning switch over TAP devices running
 * in a namespace of its own, rather than a kernel bridge: the kernels this runs on are built
 * without netem (CONFIG_NET_SCH_NETEM), so the switch delays and drops frames itself, as
 * `tc qdisc add … netem delay D J loss L` would on each link. One more port of the switch is in
 * the test's own (root) namespace, so the test reaches every node's JSON-RPC and /health at its
 * address; that port is never delayed, dropped or filtered.
 *
 * Everything is named `bwn<pid>-…` (the test process's id): `sweepLeftovers` removes what a run
 * that died without cleaning up left behind (its pid no longer alive), and nothing else. The
 * root namespace gets one TAP device (`bwn<pid>h`, gone when the switch exits) and the route of
 * its /24 — a subnet of 10.250.0.0/16 that no interface of the machine already uses.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SWITCH = fileURLToPath(new URL('../e2e/fixtures/netns-switch.py', import.meta.url));
const PREFIX_PATTERN = /^bwn(\d+)-/;
const TEMP_PATTERN = /^bulwark-bwn(\d+)-/;

/** Runs a command; its standard output, or an error carrying its standard error. */
export function sh(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }) });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * What this machine lacks to run the test, each with its reason (empty: nothing). The test
 * fails with these rather than skipping: a CI machine without them is misconfigured.
 */
export function missingCapabilities(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('not root: network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN');
  const has = (cmd: string, args: string[]) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!has('ip', ['-V'])) missing.push('no `ip` command (apt-get install -y iproute2)');
  if (!has('nft', ['--version'])) missing.push('no `nft` command (apt-get install -y nftables)');
  if (!has('python3', ['--version'])) missing.push('no `python3` (the switch between the namespaces; apt-get install -y python3)');
  if (!existsSync('/dev/net/tun')) missing.push('no /dev/net/tun (the kernel needs CONFIG_TUN)');
  return missing;
}

/**
 * Removes the namespaces of earlier runs whose process is gone, with every process inside them,
 * and their temporary directories (`NetnsLab.tempDir`).
 */
export function sweepLeftovers(): string[] {
  const removed: string[] = [];
  for (const line of sh('ip', ['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = PREFIX_PATTERN.exec(name);
    if (m === null || alive(Number(m[1]))) continue;
    removeNamespace(name);
    removed.push(name);
  }
  for (const name of readdirSync(tmpdir())) {
    const m = TEMP_PATTERN.exec(name);
    if (m === null || alive(Number(m[1]))) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
    removed.push(join(tmpdir(), name));
  }
  return removed;
}

function removeNamespace(name: string): void {
  let pids: number[] = [];
  try {
    pids = sh('ip', ['netns', 'pids', name]).split('\n').filter((l) => l.trim() !== '').map(Number);
  } catch {
    /* already gone */
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* exited meanwhile */
    }
  }
  try {
    sh('ip', ['netns', 'delete', name]);
  } catch {
    /* already gone */
  }
}

/** A subnet 10.250.X.0/24 with no address of the root namespace in it. */
function freeSubnet(): number {
  const used = sh('ip', ['-4', '-o', 'addr', 'show']);
  const routes = sh('ip', ['-4', 'route', 'show']);
  for (let i = 0; i < 250; i++) {
    const x = ((process.pid + i) % 250) + 1;
    const net = `10.250.${x}.`;
    if (!used.includes(net) && !routes.includes(net)) return x;
  }
  throw new Error('no free 10.250.X.0/24 subnet for the test namespaces');
}

export interface Host {
  readonly name: string;
  /** The namespace's name. */
  readonly ns: string;
  readonly address: string;
}

export class NetnsLab {
  readonly prefix: string;
  readonly subnet: string;
  /** The test's own address on the segment (root namespace). */
  readonly hostAddress: string;
  readonly hosts = new Map<string, Host>();
  readonly #namespaces: string[] = [];
  #switch: ChildProcess | null = null;
  #replies: AsyncIterator<string> | null = null;
  #hostTap: string;

  private constructor() {
    this.prefix = `bwn${process.pid}`;
    this.subnet = `10.250.${freeSubnet()}`;
    this.hostAddress = `${this.subnet}.200`;
    this.#hostTap = `${this.prefix}h`;
  }

  /** Makes the switch's namespace, one namespace per host name (addresses .1, .2, … in order), and the test's port. */
  static async create(names: readonly string[]): Promise<NetnsLab> {
    const lab = new NetnsLab();
    try {
      await lab.#build(names);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  async #build(names: readonly string[]): Promise<void> {
    const net = this.#addNamespace('net');
    const taps = names.map((_, i) => `t${i}`);
    // The switch makes the TAP devices in its namespace; they are then moved to their hosts.
    const sw = spawn('ip', ['netns', 'exec', net, 'python3', SWITCH, ...taps, this.#hostTap], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#switch = sw;
    this.#replies = createInterface({ input: sw.stdout! })[Symbol.asyncIterator]();
    const first = await this.#reply();
    if (first !== 'ready') throw new Error(`the switch did not start: ${first}`);
    names.forEach((name, i) => {
      const ns = this.#addNamespace(name);
      const address = `${this.subnet}.${i + 1}`;
      sh('ip', ['-n', net, 'link', 'set', taps[i]!, 'netns', ns]);
      sh('ip', ['-n', ns, 'link', 'set', taps[i]!, 'name', 'eth0']);
      sh('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      this.hosts.set(name, { name, ns, address });
    });
    sh('ip', ['-n', net, 'link', 'set', this.#hostTap, 'netns', String(process.pid)]);
    sh('ip', ['addr', 'add', `${this.hostAddress}/24`, 'dev', this.#hostTap]);
    sh('ip', ['link', 'set', this.#hostTap, 'up']);
    await this.#command(`host ${this.#hostTap}`);
  }

  #addNamespace(name: string): string {
    const ns = `${this.prefix}-${name}`;
    sh('ip', ['netns', 'add', ns]);
    this.#namespaces.push(ns);
    return ns;
  }

  async #reply(): Promise<string> {
    const next = await this.#replies!.next();
    if (next.done === true) throw new Error('the switch exited');
    return next.value;
  }

  async #command(line: string): Promise<string> {
    this.#switch!.stdin!.write(line + '\n');
    return this.#reply();
  }

  /** A new temporary directory named after this run, so that `sweepLeftovers` finds it if the run dies. */
  tempDir(): string {
    return mkdtempSync(join(tmpdir(), `bulwark-${this.prefix}-`));
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (h === undefined) throw new Error(`no host ${name}`);
    return h;
  }

  /** netem's `delay D J loss L` on every link between hosts (not the test's own port). */
  async impair(delayMs: number, jitterMs: number, lossPct: number): Promise<void> {
    const r = await this.#command(`impair ${delayMs} ${jitterMs} ${lossPct}`);
    if (r !== 'ok') throw new Error(`switch: ${r}`);
  }

  async clearImpairment(): Promise<void> {
    const r = await this.#command('clear');
    if (r !== 'ok') throw new Error(`switch: ${r}`);
  }

  /** Frames the switch forwarded and dropped so far. */
  async switchStats(): Promise<{ forwarded: number; dropped: number }> {
    const [, forwarded, dropped] = (await this.#command('stats')).split(' ');
    return { forwarded: Number(forwarded), dropped: Number(dropped) };
  }

  /**
   * Cuts `name` off from each of `peers`, both ways, with an nftables table in `name`'s namespace
   * (`inet bulwark_partition`: input and output chains dropping the peers' addresses). Replaces
   * any cut made before in that namespace.
   */
  cut(name: string, peers: readonly string[]): void {
    const h = this.host(name);
    const addresses = peers.map((p) => this.host(p).address).join(', ');
    this.heal(name);
    sh('ip', ['netns', 'exec', h.ns, 'nft', '-f', '-'], [
      'table inet bulwark_partition {',
      '  chain input {',
      '    type filter hook input priority 0; policy accept;',
      `    ip saddr { ${addresses} } counter drop`,
      '  }',
      '  chain output {',
      '    type filter hook output priority 0; policy accept;',
      `    ip daddr { ${addresses} } counter drop`,
      '  }',
      '}',
      '',
    ].join('\n'));
  }

  /** Removes `name`'s cut, if any. */
  heal(name: string): void {
    const h = this.host(name);
    if (sh('ip', ['netns', 'exec', h.ns, 'nft', 'list', 'tables']).includes('bulwark_partition')) {
      sh('ip', ['netns', 'exec', h.ns, 'nft', 'delete', 'table', 'inet', 'bulwark_partition']);
    }
  }

  /** Packets `name`'s cut has dropped (input + output), or 0 with no cut. */
  dropped(name: string): number {
    const h = this.host(name);
    const tables = sh('ip', ['netns', 'exec', h.ns, 'nft', 'list', 'tables']);
    if (!tables.includes('bulwark_partition')) return 0;
    const text = sh('ip', ['netns', 'exec', h.ns, 'nft', 'list', 'table', 'inet', 'bulwark_partition']);
    return [...text.matchAll(/counter packets (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  }

  /** Spawns `argv` inside `name`'s namespace. */
  spawnIn(name: string, argv: readonly string[], options: Parameters<typeof spawn>[2]): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.host(name).ns, ...argv], options);
  }

  /** Stops the switch (its TAP devices go with it) and deletes every namespace, killing what still runs inside. */
  async destroy(): Promise<void> {
    const sw = this.#switch;
    if (sw !== null && sw.exitCode === null && sw.signalCode === null) {
      const exited = new Promise((r) => sw.once('exit', r));
      sw.stdin!.end();
      const force = setTimeout(() => sw.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(force);
    }
    for (const ns of this.#namespaces.reverse()) removeNamespace(ns);
    this.#namespaces.length = 0;
  }
}
