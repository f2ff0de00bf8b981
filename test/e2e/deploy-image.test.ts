// The container image's contents, proved without a Docker engine: scripts/assemble-image.ts (the
// script the Dockerfile runs) assembles /app into a temporary directory from this checkout's full
// development install, keeping only the lockfile's production packages; then everything runs from
// that tree alone — `bulwark --help`, the compose file's own `init` script (twice: the second run
// does nothing), and a real network of four replicas and a client node that commits a
// transaction — and the image's health check passes against a live node and fails against none.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { parse } from 'yaml';
import { assembleImage, productionPackages, type Lockfile } from '../../scripts/assemble-image.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { REPO, type RunResult } from '../helpers/cli.ts';
import { addressOf, CHAIN_ID, signTx, testKey } from '../helpers/chain.ts';
import { startNetwork, type TestNetwork } from '../helpers/network.ts';
import { freePorts } from '../helpers/net.ts';
import { rpcClient } from '../helpers/rpc.ts';

let work: string;
let app: string;

/** Runs `command` with only PATH and `env` in its environment, from a directory outside the checkout. */
function run(command: string, args: readonly string[], env: Record<string, string> = {}, cwd = work): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const bulwark = (args: readonly string[], env: Record<string, string> = {}) => run(process.execPath, [join(app, 'bin', 'bulwark.mjs'), ...args], env);

before(() => {
  work = mkdtempSync(join(tmpdir(), 'bulwark-image-'));
  app = join(work, 'app');
  const result = assembleImage({ from: REPO, out: app });
  assert.ok(result.packages > 50, `only ${result.packages} packages assembled`);
});
after(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

test('the assembled tree holds the production packages and no development one', async () => {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as Lockfile;
  const production = new Set(productionPackages(lock).map(([path]) => path));
  const installed: string[] = [];
  for (const name of readdirSync(join(app, 'node_modules'))) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) for (const sub of readdirSync(join(app, 'node_modules', name))) installed.push(`node_modules/${name}/${sub}`);
    else installed.push(`node_modules/${name}`);
  }
  for (const path of installed) assert.ok(production.has(path), `${path} is not a production package`);
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  for (const name of Object.keys(pkg.devDependencies)) assert.ok(!existsSync(join(app, 'node_modules', name)), `dev dependency ${name} is in the image`);
  for (const name of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(app, 'node_modules', name, 'package.json')), `dependency ${name} is missing`);
  // npm's own check of the installed tree against package.json and the lockfile (reads only the disk).
  const ls = await run('npm', ['ls', '--omit=dev', '--all', '--offline'], {}, app);
  assert.equal(ls.code, 0, ls.stdout + ls.stderr);
  for (const unwanted of ['test', 'bench', '.git', 'node_modules/.bin']) assert.ok(!existsSync(join(app, unwanted)), `${unwanted} is in the image`);
});

/** Top-level package directories of a node_modules (`name`, `@scope/name`). */
function packagesIn(modules: string): string[] {
  return readdirSync(modules)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(modules, n)).map((sub) => `${n}/${sub}`) : [n]))
    .sort();
}

test("the Dockerfile's build stage, replayed without an engine, assembles the same tree", { timeout: 300_000 }, async () => {
  // Each instruction of the build stage as the engine would run it, in a directory standing for
  // the container's root: WORKDIR, COPY from the build context (this checkout), RUN with sh. The
  // one change: npm installs from its cache (--offline), as nothing else is reachable here.
  const root = join(work, 'build-root');
  const dockerfile = DockerfileParser.parse(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
  const [buildFrom, runtimeFrom] = dockerfile.getFROMs();
  const stage = dockerfile.getInstructions().filter((i) => i.getRange().start.line > buildFrom!.getRange().start.line && i.getRange().start.line < runtimeFrom!.getRange().start.line);
  const inRoot = (p: string) => join(root, p);
  let cwd = root;
  const ran: string[] = [];
  for (const instruction of stage) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((a) => a.getValue());
    if (keyword === 'WORKDIR') {
      cwd = inRoot(args[0]!);
      mkdirSync(cwd, { recursive: true });
    } else if (keyword === 'COPY') {
      const dest = args.at(-1)!;
      const target = isAbsolute(dest) ? inRoot(dest) : join(cwd, dest);
      const sources = args.slice(0, -1);
      for (const source of sources) {
        const into = dest.endsWith('/') || sources.length > 1 ? join(target, basename(source)) : target;
        cpSync(join(REPO, source), into, { recursive: true });
      }
    } else if (keyword === 'RUN') {
      let command = instruction.getArgumentsContent()!;
      assert.doesNotMatch(command.replace(/ \/out\b/g, ''), / \/(?!dev\b)/, `RUN ${command}: an absolute path this replay does not map`);
      command = command.replace(/ \/out\b/g, ` ${inRoot('/out')}`);
      if (/^npm ci /.test(command)) command += ' --offline';
      // npm's own settings (where its cache is) carry over; nothing else of this environment does.
      const npmSettings = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => /^npm_config_(cache|userconfig|registry)$/i.test(e[0]) && e[1] !== undefined));
      const r = await run('/bin/sh', ['-ec', command], { HOME: process.env.HOME ?? '/root', ...npmSettings }, cwd);
      assert.equal(r.code, 0, `RUN ${command}\n${r.stdout}${r.stderr}`);
      ran.push(command);
    } else {
      assert.fail(`the replay does not know ${keyword}`);
    }
  }
  assert.equal(ran.length, 2);
  // The runtime stage takes /out whole: the same packages as the tree assembled from the full install.
  const built = inRoot('/out');
  assert.deepEqual(packagesIn(join(built, 'node_modules')), packagesIn(join(app, 'node_modules')));
  const help = await run(process.execPath, [join(built, 'bin', 'bulwark.mjs'), '--help']);
  assert.equal(help.code, 0, help.stderr);
});

test('bulwark --help and init run from the assembled tree alone', async () => {
  const help = await bulwark(['--help']);
  assert.equal(help.code, 0, help.stderr);
  for (const command of ['init', 'replica', 'client', 'verify-ledger']) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
  const init = await bulwark(['init', '--out', join(work, 'plain'), '--chain-id', '1337', '-m', '1', '--json']);
  assert.equal(init.code, 0, init.stderr);
  const summary = JSON.parse(init.stdout) as { n: number; directories: { role: string }[] };
  assert.equal(summary.n, 4);
  assert.deepEqual(summary.directories.map((d) => d.role).sort(), ['client', 'operator', 'replica', 'replica', 'replica', 'replica']);
});

interface ComposeService {
  command?: string[] | string;
  entrypoint?: string[];
  hostname?: string;
}

test("compose.yaml's init script, run from the assembled tree, makes every node's directory once", async () => {
  const compose = parse(readFileSync(join(REPO, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
  const init = compose.services.init!;
  assert.deepEqual(init.entrypoint, ['/bin/sh', '-ec']);
  const [script] = init.command as string[];
  // The volume's mount point and the image's /app become this test's directories; the compose
  // variables take their defaults, as `docker compose` would interpolate them.
  const root = join(work, 'volume');
  const local = script!
    .replaceAll('/var/lib/bulwark', root)
    .replaceAll('/app/', `${app}/`)
    .replace(/\$\{(\w+):-([^}]*)\}/g, (_m, _name: string, dflt: string) => dflt)
    .replace(/^if /m, `mkdir -p ${root}\nif `);
  const env = { BULWARK_PASSPHRASE: 'compose test passphrase' };
  const first = await run('/bin/sh', ['-ec', local], env);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const network = JSON.parse(readFileSync(join(root, 'network', 'network.json'), 'utf8')) as {
    replicas: { id: number; host: string; port: number }[];
    clients: { id: number; host: string; port: number }[];
  };
  // Each node service runs from the directory of the node whose endpoint is its own host name.
  const helps: Record<string, RunResult> = {};
  for (const node of [...network.replicas, ...network.clients]) {
    const role = network.replicas.includes(node as never) ? 'replica' : 'client';
    const name = `${role}-${node.id}`;
    const service = compose.services[name];
    assert.ok(service, `no compose service ${name}`);
    assert.equal(service.hostname, name);
    assert.equal(node.host, name);
    assert.equal(node.port, 7100);
    const command = service.command as string[];
    assert.equal(command[0], role);
    assert.equal(command[command.indexOf('--dir') + 1], `/var/lib/bulwark/network/${name}`);
    const nodeFile = JSON.parse(readFileSync(join(root, 'network', name, 'node.json'), 'utf8')) as { role: string; id: number; encrypted: boolean };
    assert.deepEqual([nodeFile.role, nodeFile.id, nodeFile.encrypted], [role, node.id, true]);
    // Every option the service passes is one its subcommand takes.
    const help = (helps[role] ??= await bulwark([role, '--help']));
    for (const flag of command.filter((a) => a.startsWith('--'))) assert.match(help.stdout, new RegExp(`${flag}\\b`), `${name}: bulwark ${role} has no ${flag}`);
  }
  const again = await run('/bin/sh', ['-ec', local], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /exists; nothing to do/);
});

let net: TestNetwork | undefined;
after(async () => {
  await net?.stop();
});

test('a network started from the assembled tree commits a transaction, and the health check sees its nodes', { timeout: 240_000 }, async () => {
  net = await startNetwork(0x1d, { entry: [join(app, 'bin', 'bulwark.mjs')] });
  const rpc = rpcClient(net.url);
  const common = buildCommon(CHAIN_ID);
  const to = addressOf(testKey(3));
  const before = BigInt(await rpc.call<string>('eth_getBalance', [to, 'latest']));
  const receipt = await rpc.send(signTx(common, testKey(0), { nonce: 0n, to, value: 12345n, gasLimit: 21_000n }), 60_000);
  assert.equal(receipt.status, '0x1');
  assert.equal(BigInt(await rpc.call<string>('eth_getBalance', [to, 'latest'])), before + 12345n);

  const healthcheck = join(app, 'deploy', 'docker', 'healthcheck.mjs');
  for (const id of [...net.replicas, net.clientId]) {
    const url = net.metricsUrl(id).replace(/\/metrics$/, '/health');
    const ok = await run(process.execPath, [healthcheck], { BULWARK_HEALTH_URL: url });
    assert.equal(ok.code, 0, `node ${id}: ${ok.stderr}`);
  }
  const [closed] = await freePorts(1);
  const down = await run(process.execPath, [healthcheck], { BULWARK_HEALTH_URL: `http://127.0.0.1:${closed}/health` });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^unhealthy: /);
  const notFound = await run(process.execPath, [healthcheck], { BULWARK_HEALTH_URL: net.metricsUrl(0).replace(/\/metrics$/, '/nope') });
  assert.equal(notFound.code, 1);
});
