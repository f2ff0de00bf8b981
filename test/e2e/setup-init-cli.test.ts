// `bulwark init` end to end, as a child process: the directories it writes load, their nodes link
// up over TLS; the same seed writes the same network; bad inputs give clear errors and exit codes;
// sealed keys need the right passphrase.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBulwarkError } from '../../src/common/errors.ts';
import { TlsTransport } from '../../src/net/tls-transport.ts';
import { buildProgram, runCli } from '../../src/cli/program.ts';
import { loadNetworkFile } from '../../src/setup/network-file.ts';
import { loadNodeDirectory, type ClientMaterial, type ReplicaMaterial } from '../../src/setup/node-directory.ts';
import { tlsTransportOptions } from '../../src/setup/transport-config.ts';
import { bulwark, runScript } from '../helpers/cli.ts';
import { FAST, freePorts, linkUp, Probe } from '../helpers/net.ts';

const work = await mkdtemp(join(tmpdir(), 'bulwark-init-'));
after(() => rm(work, { recursive: true, force: true }));
const SEED = '00112233445566778899aabbccddeeff';
const ACCOUNT = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266';

test('--help explains every option', async () => {
  const r = await bulwark(['init', '--help']);
  assert.equal(r.code, 0);
  const init = buildProgram().commands.find((c) => c.name() === 'init')!;
  assert.ok(init.options.length >= 15);
  for (const option of init.options) {
    assert.ok(r.stdout.includes(option.long!), `${option.long} is listed`);
    assert.ok(option.description.length > 20, `${option.long} is explained`);
  }
  assert.match(r.stdout, /n ≥ 3f \+ 2c \+ 1/);
});

test('init writes directories that load, and whose nodes link up over TLS', async () => {
  const ports = await freePorts(6);
  const out = join(work, 'net');
  const r = await bulwark([
    'init', '--out', out, '--faults', '1', '--clients', '2', '--chain-id', '4242', '--alloc', `${ACCOUNT}=1000000`,
    '--replica-endpoints', ports.slice(0, 4).map((p) => `127.0.0.1:${p}`).join(','),
    '--client-endpoints', ports.slice(4).map((p) => `localhost:${p}`).join(','),
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.n, 4);
  assert.deepEqual(summary.directories.map((d: { path: string }) => d.path.slice(out.length + 1)), [
    'replica-0', 'replica-1', 'replica-2', 'replica-3', 'client-4', 'client-5', 'operator',
  ]);

  const network = await loadNetworkFile(join(out, 'network.json'));
  assert.equal(network.chainId, 4242n);
  assert.equal(network.chainConfig.alloc.get(ACCOUNT)?.balance, 1_000_000n);
  assert.equal(network.clients[1]!.host, 'localhost');
  const text = await readFile(join(out, 'network.json'), 'utf8');
  const loaded = [];
  for (const d of summary.directories as Array<{ path: string; role: string; id?: number }>) {
    const m = await loadNodeDirectory(d.path);
    assert.equal(m.role, d.role);
    if (m.role !== 'operator') assert.equal(m.id, d.id);
    assert.equal(m.network.digest, network.digest);
    assert.equal(await readFile(join(d.path, 'network.json'), 'utf8'), text, 'each directory carries the same network file');
    assert.equal((await stat(d.path)).mode & 0o777, 0o700);
    for (const f of (await readdir(d.path)).filter((f) => f.endsWith('.key'))) {
      assert.equal((await stat(join(d.path, f))).mode & 0o777, 0o600, `${d.path}/${f}`);
    }
    loaded.push(m);
  }

  // Replica 0 and client node 5, built from their directories, talk.
  const replica = new Probe(new TlsTransport({ ...tlsTransportOptions(loaded[0] as ReplicaMaterial), tuning: FAST }));
  const client = new Probe(new TlsTransport({ ...tlsTransportOptions(loaded[5] as ClientMaterial), tuning: FAST }));
  await replica.transport.start();
  await client.transport.start();
  await client.event(linkUp(0), 'client 5 linked to replica 0');
  client.transport.send(0, Buffer.from('from the setup'));
  assert.equal(Buffer.from((await replica.framesFrom(5, 1))[0]!).toString(), 'from the setup');
  await Promise.all([replica.transport.close(), client.transport.close()]);

  // And a node process starts from its directory alone.
  const started = await runScript('test/e2e/fixtures/start-node.ts', [join(out, 'replica-2')]);
  assert.equal(started.code, 0, started.stderr);
  assert.equal(started.stdout.trim(), 'ready replica 2');
});

test('the same seed writes the same network; keys included', async () => {
  const args = (out: string) => ['init', '--out', out, '--chain-id', '7', '--seed', SEED, '--clients', '1'];
  const [a, b] = [join(work, 'seed-a'), join(work, 'seed-b')];
  assert.equal((await bulwark(args(a))).code, 0);
  assert.equal((await bulwark(args(b))).code, 0);
  for (const f of ['network.json', 'replica-0/tls.key', 'replica-3/bootstrap-consensus.key', 'client-4/auth.key', 'operator/operator.key']) {
    assert.equal(await readFile(join(a, f), 'utf8'), await readFile(join(b, f), 'utf8'), f);
  }
});

test('bad inputs are refused with a clear message and exit code, and leave nothing behind', async () => {
  const taken = join(work, 'taken');
  assert.equal((await bulwark(['init', '--out', taken, '--chain-id', '1'])).code, 0);
  const r = await bulwark(['init', '--out', taken, '--chain-id', '1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is not empty; refusing to overwrite.*\[SETUP_OUTPUT_EXISTS\]/);

  const cases: Array<[string[], number, RegExp]> = [
    [['-n', '2', '-c', '1', '--chain-id', '1'], 1, /2 replicas do not fit n ≥ 3f \+ 2c \+ 1/],
    [['-n', '3', '-f', '1', '--chain-id', '1'], 1, /contradicts f = 1, c = 0 \(n ≥ 3f \+ 2c \+ 1 = 4\)/],
    [['-n', '4', '-f', '2', '--chain-id', '1'], 1, /contradicts f = 2/],
    [['-n', 'four', '--chain-id', '1'], 2, /--replicas <n>' argument 'four' is invalid/],
    [[], 1, /a chain id is needed/],
    [['--chain-id', 'x'], 2, /--chain-id must be a positive integer/],
    [['--chain-id', '1', '--replica-endpoints', 'a:1,b:2'], 1, /2 replica endpoints given for 4/],
    [['--chain-id', '1', '--replica-endpoints', 'a:1,b,c:3,d:4'], 1, /endpoint "b" has no port/],
    [['--chain-id', '1', '--alloc', '0x12=3'], 1, /cannot read allocation "0x12=3"/],
    [['--chain-id', '1', '--genesis', join(work, 'missing.json')], 1, /cannot read genesis file/],
    [['--chain-id', '1', '--seed', 'abcd'], 2, /--seed must be at least 16 bytes/],
    [['--chain-id', '1', '--passphrase-file', 'a', '--passphrase-env', 'B'], 2, /not both/],
    [['--chain-id', '1', '--passphrase-env', 'BULWARK_TEST_UNSET_VARIABLE'], 2, /is not set/],
    [['--chain-id', '1', '--kdf-cost', '9'], 2, /expected 10\.\.20/],
    [['--chain-id', '1', '--base-port', '65534'], 1, /leaves no room/],
    [['--chain-id', '1', '--frobnicate'], 2, /unknown option '--frobnicate'/],
  ];
  for (const [args, code, message] of cases) {
    let err = '';
    const out = join(work, 'bad');
    const exit = await runCli(['init', '--out', out, ...args], { out: () => {}, err: (t) => (err += t) });
    assert.equal(exit, code, `${args.join(' ')}: ${err}`);
    assert.match(err, message, args.join(' '));
    await assert.rejects(stat(out), 'nothing written');
  }
  assert.deepEqual((await readdir(work)).filter((f) => f.includes('.init-')), [], 'no staging directory left');
});

test('replica --listen-host takes an IP address or host name, and refuses anything else before starting', async () => {
  let err = '';
  const exit = await runCli(['replica', '--dir', join(work, 'nowhere'), '--listen-host', 'not a host!'], { out: () => {}, err: (t) => (err += t) });
  assert.equal(exit, 2, err);
  assert.match(err, /--listen-host <host>' argument 'not a host!' is invalid\. "not a host!" is neither an IP address nor a host name/);
});

test('sealed keys: the passphrase round-trips, a wrong or missing one is refused naming the file', async () => {
  const passFile = join(work, 'pass.txt');
  await writeFile(passFile, 'open sesame\n', { mode: 0o600 });
  const out = join(work, 'sealed');
  const r = await bulwark(['init', '--out', out, '--chain-id', '1', '--passphrase-file', passFile, '--kdf-cost', '10']);
  assert.equal(r.code, 0, r.stderr);
  const dir = join(out, 'replica-1');
  assert.doesNotMatch(await readFile(join(dir, 'execution.key'), 'utf8'), /"material": "302e/, 'no plaintext PKCS#8 on disk');
  await assert.rejects(loadNodeDirectory(dir), (e) => isBulwarkError(e, 'NODE_PASSPHRASE_REQUIRED') && e.message.includes(dir));
  await assert.rejects(
    loadNodeDirectory(dir, { passphrase: 'open says me' }),
    (e) => isBulwarkError(e, 'KEY_FILE_WRONG_PASSPHRASE') && e.message.includes(join(dir, 'tls.key')),
  );
  const m = await loadNodeDirectory(dir, { passphrase: 'open sesame' });
  assert.equal(m.role === 'replica' && m.id, 1);
  assert.equal((await loadNodeDirectory(join(out, 'operator'), { passphrase: 'open sesame' })).role, 'operator');

  const wrong = await runScript('test/e2e/fixtures/start-node.ts', [join(out, 'client-4')], { BULWARK_TEST_PASSPHRASE: 'nope' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^KEY_FILE_WRONG_PASSPHRASE: wrong passphrase for key file .*client-4\/tls\.key/);
  const right = await runScript('test/e2e/fixtures/start-node.ts', [join(out, 'client-4')], { BULWARK_TEST_PASSPHRASE: 'open sesame' });
  assert.equal(right.stdout.trim(), 'ready client 4', right.stderr);

  const env = await bulwark(['init', '--out', join(work, 'sealed-env'), '--chain-id', '1', '--passphrase-env', 'BULWARK_PW', '--kdf-cost', '10', '-m', '0'], {
    BULWARK_PW: 'from the environment',
  });
  assert.equal(env.code, 0, env.stderr);
  await loadNodeDirectory(join(work, 'sealed-env', 'replica-0'), { passphrase: 'from the environment' });
});
