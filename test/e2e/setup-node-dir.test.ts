// A node refuses to start from a damaged directory, with a typed error that names the file: missing,
// corrupt, mislabelled, swapped or exposed keys, a missing node file, a corrupt network file. Checked
// in-process for the code and, for the common cases, through a node process starting up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, cp, mkdtemp, rm, unlink, writeFile, copyFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBulwarkError } from '../../src/common/errors.ts';
import { parseChainConfig } from '../../src/execution/chain-config.ts';
import { runInit } from '../../src/setup/init.ts';
import { loadNodeDirectory } from '../../src/setup/node-directory.ts';
import { runScript } from '../helpers/cli.ts';
import { freePorts } from '../helpers/net.ts';

const work = await mkdtemp(join(tmpdir(), 'bulwark-nodedir-'));
after(() => rm(work, { recursive: true, force: true }));
const ports = await freePorts(5);
const pristine = join(work, 'pristine');
await runInit({
  outDir: pristine,
  topology: { f: 1, clients: 1, replicaEndpoints: ports.slice(0, 4).map((port) => ({ host: '127.0.0.1', port })), clientEndpoints: [{ host: '127.0.0.1', port: ports[4]! }] },
  chainConfig: parseChainConfig({ chainId: 1 }),
  seed: new Uint8Array(16).fill(9),
});

let counter = 0;
/** A fresh copy of replica 0's directory to damage. */
async function replica0(): Promise<string> {
  const dir = join(work, `case-${counter++}`);
  await cp(join(pristine, 'replica-0'), dir, { recursive: true });
  return dir;
}

async function refusedAtStartup(dir: string, code: string, file: string): Promise<void> {
  await assert.rejects(loadNodeDirectory(dir), (e) => isBulwarkError(e, code) && e.message.includes(file), `${code} naming ${file}`);
  const r = await runScript('test/e2e/fixtures/start-node.ts', [dir]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.ok(r.stderr.startsWith(`${code}: `) && r.stderr.includes(file), r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a message, not a stack trace');
}

test('the pristine directory starts', async () => {
  const r = await runScript('test/e2e/fixtures/start-node.ts', [join(pristine, 'replica-0')]);
  assert.equal(r.stdout.trim(), 'ready replica 0', r.stderr);
});

test('a missing key file', async () => {
  const dir = await replica0();
  await unlink(join(dir, 'tls.key'));
  await refusedAtStartup(dir, 'KEY_FILE_NOT_FOUND', join(dir, 'tls.key'));
});

test('a key file that is not JSON', async () => {
  const dir = await replica0();
  await writeFile(join(dir, 'execution.key'), '{"version": 1, "kind": "execution-pri', { mode: 0o600 });
  await refusedAtStartup(dir, 'KEY_FILE_MALFORMED', join(dir, 'execution.key'));
});

test('a key file whose material is not a key', async () => {
  const dir = await replica0();
  const path = join(dir, 'bootstrap-consensus.key');
  const json = JSON.parse(await readFile(path, 'utf8'));
  await writeFile(path, JSON.stringify({ ...json, material: 'ff'.repeat(32) }), { mode: 0o600 });
  await refusedAtStartup(dir, 'KEY_FILE_MALFORMED', path);
});

test('a key of the wrong kind in a key file', async () => {
  const dir = await replica0();
  await copyFile(join(pristine, 'client-4', 'auth.key'), join(dir, 'execution.key'));
  await assert.rejects(loadNodeDirectory(dir), (e) => isBulwarkError(e, 'KEY_FILE_WRONG_KIND') && e.message.includes(join(dir, 'execution.key')));
});

test("another replica's keys", async () => {
  for (const file of ['tls.key', 'execution.key', 'bootstrap-consensus.key']) {
    const dir = await replica0();
    await copyFile(join(pristine, 'replica-1', file), join(dir, file));
    await assert.rejects(loadNodeDirectory(dir), (e) => isBulwarkError(e, 'NODE_KEY_MISMATCH') && e.message.includes(join(dir, file)), file);
  }
});

test('a key file others can read', async () => {
  const dir = await replica0();
  await chmod(join(dir, 'tls.key'), 0o644);
  await refusedAtStartup(dir, 'KEY_FILE_INSECURE_PERMISSIONS', join(dir, 'tls.key'));
});

test('a directory that is not a node directory, or names a node the network does not have', async () => {
  const dir = await replica0();
  await unlink(join(dir, 'node.json'));
  await refusedAtStartup(dir, 'NODE_DIR_INVALID', join(dir, 'node.json'));
  const other = await replica0();
  await writeFile(join(other, 'node.json'), JSON.stringify({ format: 'bulwark-node', version: 1, role: 'replica', id: 9, encrypted: false }));
  await assert.rejects(loadNodeDirectory(other), (e) => isBulwarkError(e, 'NODE_DIR_INVALID') && e.message.includes('replica 9'));
});

test('a corrupt network file', async () => {
  const dir = await replica0();
  const path = join(dir, 'network.json');
  const json = JSON.parse(await readFile(path, 'utf8'));
  json.replicas[2].bootstrapConsensusKey.proofOfPossession = json.replicas[1].bootstrapConsensusKey.proofOfPossession;
  await writeFile(path, JSON.stringify(json));
  await refusedAtStartup(dir, 'NETWORK_FILE_INVALID', path);
  await writeFile(path, '{"format": "bulwark-net');
  await refusedAtStartup(dir, 'NETWORK_FILE_INVALID', path);
});
