// `bulwark member` and `bulwark reconfigure` end to end, as child processes (issue #19): a network
// made with room to grow, a joining replica's directory made on "its host", the new network file
// that adds it; once that file is copied in, the new replica's directory and an existing replica's
// both load (and the new replica starts its transport from its directory alone). Then the highest
// replica leaves again. Bad inputs: clear messages, exit codes, nothing written.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBulwarkError } from '../../src/common/errors.ts';
import { buildProgram, runCli } from '../../src/cli/program.ts';
import { loadNetworkFile } from '../../src/setup/network-file.ts';
import { loadNodeDirectory } from '../../src/setup/node-directory.ts';
import { bulwark, runScript } from '../helpers/cli.ts';
import { freePorts } from '../helpers/net.ts';

const work = await mkdtemp(join(tmpdir(), 'bulwark-member-'));
after(() => rm(work, { recursive: true, force: true }));
const SEED = '00112233445566778899aabbccddeeff';
const PASSPHRASE = 'joining replica';
const net = join(work, 'net');
const joiner = join(work, 'joiner');
const passFile = join(work, 'pass.txt');

async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let [out, err] = ['', ''];
  const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

test('--help explains every option of member and reconfigure', async () => {
  for (const name of ['member', 'reconfigure']) {
    const r = await bulwark([name, '--help']);
    assert.equal(r.code, 0);
    const command = buildProgram().commands.find((c) => c.name() === name)!;
    for (const option of command.options) {
      assert.ok(r.stdout.includes(option.long!), `${name} ${option.long} is listed`);
      assert.ok(option.description.length > 20, `${name} ${option.long} is explained`);
    }
  }
});

test('member, reconfigure --add, copy the file in: the new and an existing replica load; then --remove', async () => {
  const init = await bulwark(['init', '--out', net, '--faults', '1', '--clients', '1', '--max-replicas', '6', '--chain-id', '7', '--seed', SEED]);
  assert.equal(init.code, 0, init.stderr);
  const current = await loadNetworkFile(join(net, 'network.json'));
  assert.deepEqual([current.n, current.firstClient, current.clients[0]!.id], [4, 6, 6]);

  const [port] = await freePorts(1);
  await writeFile(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  const m = await bulwark([
    'member', '--network', join(net, 'network.json'), '--host', '127.0.0.1', '--port', String(port), '--out', joiner,
    '--passphrase-file', passFile, '--kdf-cost', '10',
  ]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /replica 4 written to .*joiner \(127\.0\.0\.1:\d+\)/);
  assert.deepEqual((await readdir(joiner)).sort(), ['bootstrap-consensus.key', 'execution.key', 'member.json', 'node.json', 'tls.crt', 'tls.key']);
  assert.equal((await stat(joiner)).mode & 0o777, 0o700);
  for (const f of ['bootstrap-consensus.key', 'execution.key', 'tls.key']) assert.equal((await stat(join(joiner, f))).mode & 0o777, 0o600, f);
  assert.doesNotMatch(await readFile(join(joiner, 'execution.key'), 'utf8'), /"material": "302e/, 'sealed under the passphrase');
  const entry = JSON.parse(await readFile(join(joiner, 'member.json'), 'utf8'));
  assert.deepEqual(Object.keys(entry), ['id', 'host', 'port', 'tlsCertificate', 'bootstrapConsensusKey', 'executionKey']);
  assert.deepEqual([entry.id, entry.port], [4, port]);
  // Before the operator's file is copied in, loading says what is missing.
  await assert.rejects(loadNodeDirectory(joiner, { passphrase: PASSPHRASE }), (e) => isBulwarkError(e, 'NODE_AWAITING_NETWORK') && /copy in the network file/.test(e.message));

  const newFile = join(work, 'network-5.json');
  const r = await bulwark(['reconfigure', '--network', join(net, 'network.json'), '--add', join(joiner, 'member.json'), '--out', newFile, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  const next = await loadNetworkFile(newFile);
  assert.equal(summary.digest, next.digest, 'the digest printed is the written file\'s');
  assert.equal(summary.previousDigest, current.digest);
  assert.deepEqual([summary.from.n, summary.to.n, summary.added, summary.removed, summary.firstClient], [4, 5, [4], [], 6]);
  assert.deepEqual([next.f, next.c], [summary.to.f, summary.to.c]);
  assert.deepEqual(next.json.clients, current.json.clients, 'client ids and entries stay');

  await copyFile(newFile, join(joiner, 'network.json'));
  await copyFile(newFile, join(net, 'replica-0', 'network.json'));
  const joined = await loadNodeDirectory(joiner, { passphrase: PASSPHRASE });
  assert.equal(joined.role === 'replica' && joined.id, 4);
  assert.equal(joined.network.digest, next.digest);
  const existing = await loadNodeDirectory(join(net, 'replica-0'));
  assert.equal(existing.role === 'replica' && existing.id, 0);
  assert.equal(existing.network.digest, next.digest);
  const started = await runScript('test/e2e/fixtures/start-node.ts', [joiner], { BULWARK_TEST_PASSPHRASE: PASSPHRASE });
  assert.equal(started.code, 0, started.stderr);
  assert.equal(started.stdout.trim(), 'ready replica 4');

  // The human summary names the change and the digest.
  const text = await inProcess(['reconfigure', '--network', newFile, '--remove', '4', '--out', join(work, 'network-4.json')]);
  assert.equal(text.code, 0, text.err);
  const back = await loadNetworkFile(join(work, 'network-4.json'));
  assert.match(text.out, new RegExp(`sha256 ${back.digest}`));
  assert.match(text.out, /n = 5 → 4, f = \d → 1, c = \d → 0\n {2}removes replica 4\n {2}client ids start at 6/);
  assert.deepEqual(back.json.replicas, current.json.replicas);
});

test('bad inputs are refused with a clear message and exit code, and write nothing', async () => {
  const network = join(net, 'network.json');
  const tight = join(work, 'tight');
  assert.equal((await bulwark(['init', '--out', tight, '--chain-id', '7', '--seed', SEED])).code, 0);
  const taken = join(work, 'taken.json');
  await writeFile(taken, '{}\n');
  const member = join(work, 'member-out');
  const cases: Array<[string[], number, RegExp]> = [
    [['member', '--network', network, '--host', '127.0.0.1', '--port', '7999', '--out', joiner], 1, /is not empty; refusing to overwrite.*\[SETUP_OUTPUT_EXISTS\]/],
    [['member', '--network', join(tight, 'network.json'), '--host', '127.0.0.1', '--port', '7999', '--out', member], 1, /no replica id left: client ids start at 4; create the network with --max-replicas \[RECONFIGURE_REFUSED\]/],
    [['member', '--network', network, '--host', '127.0.0.1', '--port', '7101', '--out', member], 1, /127\.0\.0\.1:7101 is the endpoint of replica 1 already/],
    [['member', '--network', network, '--host', '127.0.0.1', '--port', '7999', '--id', '2', '--out', member], 1, /replica 2 exists already/],
    [['member', '--network', network, '--host', '127.0.0.1', '--out', member], 2, /required option '--port <port>' not specified/],
    [['member', '--network', join(work, 'missing.json'), '--host', 'h', '--port', '1', '--out', member], 1, /\[NETWORK_FILE_NOT_FOUND\]/],
    [['reconfigure', '--network', network, '--out', join(work, 'x.json')], 2, /name a change/],
    [['reconfigure', '--network', network, '--remove', '1', '--out', join(work, 'x.json')], 1, /replica 1 cannot be removed without removing 3: replica ids stay 0..n-1 without gaps/],
    [['reconfigure', '--network', network, '--remove', 'one', '--out', join(work, 'x.json')], 2, /--remove <id>' argument 'one' is invalid/],
    [['reconfigure', '--network', network, '--add', taken, '--out', join(work, 'x.json')], 1, /is not a replica's entry \(member\.json from bulwark member\)/],
    [['reconfigure', '--network', network, '--remove', '3', '--out', taken], 1, /exists; refusing to overwrite it/],
    [['reconfigure', '--network', network, '--remove', '3', '--faults', '1', '--out', join(work, 'x.json')], 1, /3 replicas cannot run with f = 1/],
  ];
  for (const [args, code, message] of cases) {
    const r = await inProcess(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message, args.join(' '));
  }
  await assert.rejects(stat(member), 'no member directory written');
  await assert.rejects(stat(join(work, 'x.json')), 'no network file written');
  assert.equal(await readFile(taken, 'utf8'), '{}\n', 'an existing file is left alone');
  assert.deepEqual((await readdir(work)).filter((f) => f.includes('.member-')), [], 'no staging directory left');
});
