// The consensus keys a replica generates itself (issue #7): written durably before they are returned,
// found again after a crash instead of replaced, sealed when the directory is, erased (overwritten in
// place, then unlinked) when retired; and a replica directory whose bootstrap key was retired loads.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, link, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBulwarkError } from '../../src/common/errors.ts';
import {
  blsPublicKeyFromBytes,
  blsPublicKeyOf,
  blsPublicKeyToBytes,
  blsSecretKeyToBytes,
  blsSignatureFromBytes,
  generateBlsSecretKey,
  verifyPossession,
  type BlsSecretKey,
} from '../../src/crypto/bls.ts';
import { bytesToHex } from '../../src/crypto/hex.ts';
import { writeKeyFile } from '../../src/crypto/key-file.ts';
import { parseChainConfig } from '../../src/execution/chain-config.ts';
import { ConsensusKeyStore } from '../../src/setup/consensus-keys.ts';
import { generateNetwork } from '../../src/setup/generate.ts';
import { KEY_FILES } from '../../src/setup/layout.ts';
import { loadNodeDirectory, writeNodeDirectory, type ReplicaMaterial } from '../../src/setup/node-directory.ts';

const work = await mkdtemp(join(tmpdir(), 'bulwark-consensus-keys-'));
after(() => rm(work, { recursive: true, force: true }));

const CHEAP = { logN: 10, r: 8, p: 1 }; // scrypt at test speed
const PASS = 'correct horse battery staple';
const pub = (sk: BlsSecretKey): string => bytesToHex(blsPublicKeyToBytes(blsPublicKeyOf(sk)));
const secretHex = (sk: BlsSecretKey): string => bytesToHex(blsSecretKeyToBytes(sk));
const coded = (code: string, path: string) => (e: unknown) => isBulwarkError(e, code) && e.message.includes(path);

let counter = 0;
/** A directory holding only a bootstrap key file, sealed when `passphrase` is given. */
async function bootstrapDir(passphrase?: string): Promise<{ dir: string; bootstrap: BlsSecretKey }> {
  const dir = join(work, `dir-${counter++}`);
  await mkdir(dir, { mode: 0o700 });
  const bootstrap = generateBlsSecretKey();
  const spec = KEY_FILES.bootstrap;
  const seal = passphrase === undefined ? {} : { passphrase, cost: CHEAP };
  await writeKeyFile(join(dir, spec.file), { kind: spec.kind, algorithm: spec.algorithm, material: blsSecretKeyToBytes(bootstrap) }, seal);
  return { dir, bootstrap };
}

async function leftovers(dir: string): Promise<string[]> {
  const names = [...(await readdir(dir)), ...(await readdir(join(dir, 'keys')).catch(() => []))];
  return names.filter((n) => n.startsWith('.'));
}

test('generate writes a fresh key with a valid proof of possession before returning it; a reopened store has it', async () => {
  const { dir, bootstrap } = await bootstrapDir();
  const store = await ConsensusKeyStore.open(dir);
  assert.deepEqual(store.epochs(), [0]);
  assert.equal(pub(store.secret(0)!), pub(bootstrap));

  const k1 = await store.generate(1);
  assert.equal(k1.created, true);
  assert.equal(k1.path, join(dir, 'keys', 'consensus-1.key'));
  assert.equal(bytesToHex(k1.publicKey), pub(k1.secret));
  assert.notEqual(pub(k1.secret), pub(bootstrap));
  assert.ok(verifyPossession(blsPublicKeyFromBytes(k1.publicKey), blsSignatureFromBytes(k1.proofOfPossession)));
  const bootstrapPk = blsPublicKeyFromBytes(blsPublicKeyToBytes(blsPublicKeyOf(bootstrap)));
  assert.ok(!verifyPossession(bootstrapPk, blsSignatureFromBytes(k1.proofOfPossession)), 'the proof is bound to its own key');

  // On disk, before anyone could publish it: owner-only, the epoch in the kind, no temp file left.
  const json = JSON.parse(await readFile(k1.path, 'utf8'));
  assert.equal(json.kind, 'bls-consensus-secret/epoch-1');
  assert.equal(json.algorithm, 'bls12-381');
  assert.equal(json.material, secretHex(k1.secret));
  assert.equal((await stat(k1.path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'keys'))).mode & 0o777, 0o700);
  assert.deepEqual(await leftovers(dir), []);

  const k2 = await store.generate(2);
  assert.deepEqual(store.epochs(), [0, 1, 2]);
  assert.deepEqual(store.newest().epoch, 2);

  // A restart: a new store over the same directory holds the same keys, by epoch.
  const reopened = await ConsensusKeyStore.open(dir);
  assert.deepEqual([...reopened.secrets().keys()], [0, 1, 2]);
  assert.deepEqual([...reopened.secrets().values()].map(pub), [pub(bootstrap), pub(k1.secret), pub(k2.secret)]);
});

test('a key generated before a crash but not yet published is returned again, not replaced', async () => {
  const { dir } = await bootstrapDir();
  const first = await (await ConsensusKeyStore.open(dir)).generate(1);
  const fileBefore = await readFile(first.path, 'utf8');

  // The process dies here; the restarted replica asks for epoch 1 again.
  const again = await (await ConsensusKeyStore.open(dir)).generate(1);
  assert.equal(again.created, false);
  assert.deepEqual(again.publicKey, first.publicKey);
  assert.deepEqual(again.proofOfPossession, first.proofOfPossession);
  assert.equal(await readFile(first.path, 'utf8'), fileBefore);

  // Two concurrent calls for one epoch make one key.
  const store = await ConsensusKeyStore.open(dir);
  const [a, b] = await Promise.all([store.generate(2), store.generate(2)]);
  assert.deepEqual(a.publicKey, b.publicKey);
  assert.deepEqual([a.created, b.created], [true, false]);
  assert.equal(pub((await ConsensusKeyStore.open(dir)).secret(2)!), bytesToHex(a.publicKey));
});

test('a key file that appeared after the store was opened is returned, never overwritten', async () => {
  const { dir } = await bootstrapDir();
  const store = await ConsensusKeyStore.open(dir); // opened before the key below appeared
  const other = await (await ConsensusKeyStore.open(dir)).generate(1);
  const k = await store.generate(1);
  assert.equal(k.created, false);
  assert.deepEqual(k.publicKey, other.publicKey);
});

test('generate refuses epoch 0, bad epochs, and epochs not newer than the newest it holds', async () => {
  const { dir } = await bootstrapDir();
  const store = await ConsensusKeyStore.open(dir);
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 32]) {
    await assert.rejects(store.generate(bad), (e) => isBulwarkError(e, 'CONSENSUS_KEY_BAD_EPOCH'), String(bad));
  }
  await store.generate(3);
  await assert.rejects(store.generate(2), (e) => isBulwarkError(e, 'CONSENSUS_KEY_STALE_EPOCH') && e.details['newest'] === 3);
  await store.generate(4);
  await store.retire(3);
  await assert.rejects(store.generate(3), (e) => isBulwarkError(e, 'CONSENSUS_KEY_STALE_EPOCH'), 'a retired epoch is never reused');
  await assert.rejects(stat(store.path(3)), { code: 'ENOENT' });
});

test('sealed: new keys are sealed under the passphrase; reopening needs it; a wrong one is a typed error naming the file', async () => {
  const { dir, bootstrap } = await bootstrapDir(PASS);
  const store = await ConsensusKeyStore.open(dir, { passphrase: PASS, cost: CHEAP });
  const k1 = await store.generate(1);
  const json = JSON.parse(await readFile(k1.path, 'utf8'));
  assert.equal(json.encryption.kdf, 'scrypt');
  assert.equal(json.encryption.logN, CHEAP.logN);
  assert.ok(!(await readFile(k1.path, 'utf8')).includes(secretHex(k1.secret)), 'no plaintext secret on disk');

  const reopened = await ConsensusKeyStore.open(dir, { passphrase: PASS });
  assert.deepEqual([...reopened.secrets().values()].map(pub), [pub(bootstrap), pub(k1.secret)]);

  await assert.rejects(ConsensusKeyStore.open(dir, { passphrase: 'wrong' }), coded('KEY_FILE_WRONG_PASSPHRASE', join(dir, 'bootstrap-consensus.key')));
  await assert.rejects(ConsensusKeyStore.open(dir), coded('KEY_FILE_PASSPHRASE_REQUIRED', join(dir, 'bootstrap-consensus.key')));
  // The bootstrap key handed over in memory does not let a sealed directory get plain keys.
  await assert.rejects(ConsensusKeyStore.open(dir, { bootstrap }), coded('KEY_FILE_PASSPHRASE_REQUIRED', join(dir, 'bootstrap-consensus.key')));

  // Once the bootstrap key is retired, the generated key is what a wrong passphrase trips on.
  await reopened.retire(0);
  await assert.rejects(ConsensusKeyStore.open(dir, { passphrase: 'wrong' }), coded('KEY_FILE_WRONG_PASSPHRASE', k1.path));
  assert.deepEqual((await ConsensusKeyStore.open(dir, { passphrase: PASS })).epochs(), [1]);
});

test('retire overwrites the file in place before unlinking it (seen through a second hard link)', async () => {
  const { dir, bootstrap } = await bootstrapDir();
  const store = await ConsensusKeyStore.open(dir);
  const k1 = await store.generate(1);
  await store.generate(2);

  for (const [epoch, secret] of [[0, bootstrap], [1, k1.secret]] as const) {
    const path = store.path(epoch);
    const witness = join(work, `witness-${counter++}`);
    await link(path, witness); // same inode: what retire does to the bytes stays visible here
    const original = await readFile(path);
    assert.ok(original.toString('utf8').includes(secretHex(secret)));

    const r = await store.retire(epoch);
    assert.deepEqual(r, { epoch, path, bytes: original.length, erased: true });
    await assert.rejects(stat(path), { code: 'ENOENT' });
    const after = await readFile(witness);
    assert.equal(after.length, original.length, 'overwritten in place, not truncated');
    assert.ok(!after.equals(original));
    assert.ok(!after.toString('utf8').includes(secretHex(secret)), 'the hex secret is gone');
    assert.equal(after.indexOf(Buffer.from(blsSecretKeyToBytes(secret))), -1, 'the raw secret is not there either');
    assert.equal(store.secret(epoch), undefined);
  }
  assert.deepEqual(store.epochs(), [2]);
  assert.deepEqual(await leftovers(dir), [], 'no tombstone left');
  assert.deepEqual((await ConsensusKeyStore.open(dir)).epochs(), [2]);
});

test('retiring twice is fine and says nothing was left to erase; the newest key is never retired', async () => {
  const { dir } = await bootstrapDir();
  const store = await ConsensusKeyStore.open(dir);
  await assert.rejects(store.retire(0), (e) => isBulwarkError(e, 'CONSENSUS_KEY_RETIRE_NEWEST') && e.message.includes('epoch 0'));
  await stat(store.path(0)); // still there
  const k1 = await store.generate(1);
  assert.equal((await store.retire(0)).erased, true);
  assert.deepEqual(await store.retire(0), { epoch: 0, path: store.path(0), bytes: 0, erased: false });
  assert.deepEqual(await (await ConsensusKeyStore.open(dir)).retire(0), { epoch: 0, path: store.path(0), bytes: 0, erased: false });
  await assert.rejects(store.retire(1), (e) => isBulwarkError(e, 'CONSENSUS_KEY_RETIRE_NEWEST') && e.details['path'] === k1.path);
  await assert.rejects(store.retire(7), (e) => isBulwarkError(e, 'CONSENSUS_KEY_RETIRE_NEWEST'));
  await stat(k1.path);
});

test('what a crash leaves mid-retire or mid-write is erased on the next open', async () => {
  const { dir, bootstrap } = await bootstrapDir();
  await (await ConsensusKeyStore.open(dir)).generate(1);
  // Retire cut short after the rename: the tombstone still holds the bootstrap key.
  const tomb = join(dir, '.bootstrap-consensus.key.retiring');
  await rename(join(dir, 'bootstrap-consensus.key'), tomb);
  const witness = join(work, `witness-${counter++}`);
  await link(tomb, witness);
  // A write cut short before the rename: a temp file holding a key nobody was given.
  const temp = join(dir, 'keys', '.consensus-2.key.0123456789ab.tmp');
  await writeFile(temp, 'a secret never returned', { mode: 0o600 });

  const store = await ConsensusKeyStore.open(dir);
  assert.deepEqual(store.epochs(), [1]);
  assert.deepEqual(await leftovers(dir), []);
  assert.ok(!(await readFile(witness, 'utf8')).includes(secretHex(bootstrap)));
  // The retire that was cut short, asked again, finds nothing left to do.
  assert.equal((await store.retire(0)).erased, false);
});

test('corrupt, mislabelled and misnamed key files are typed errors naming the file', async () => {
  const { dir } = await bootstrapDir();
  const k1 = await (await ConsensusKeyStore.open(dir)).generate(1);
  const p2 = join(dir, 'keys', 'consensus-2.key');

  await writeFile(p2, '{"version": 1, "kind": "bls-cons', { mode: 0o600 });
  await assert.rejects(ConsensusKeyStore.open(dir), coded('KEY_FILE_MALFORMED', p2));

  await copyFile(k1.path, p2); // epoch 1's file under epoch 2's name
  await assert.rejects(ConsensusKeyStore.open(dir), coded('KEY_FILE_WRONG_KIND', p2));

  const json = JSON.parse(await readFile(k1.path, 'utf8'));
  await writeFile(p2, JSON.stringify({ ...json, kind: 'bls-consensus-secret/epoch-2', material: 'ff'.repeat(32) }), { mode: 0o600 });
  await assert.rejects(ConsensusKeyStore.open(dir), coded('KEY_FILE_MALFORMED', p2));

  await writeFile(p2, JSON.stringify({ ...json, kind: 'bls-consensus-secret/epoch-2' }));
  await chmod(p2, 0o644);
  await assert.rejects(ConsensusKeyStore.open(dir), coded('KEY_FILE_INSECURE_PERMISSIONS', p2));
  await unlink(p2);

  const misnamed = join(dir, 'keys', 'consensus-01.key');
  await copyFile(k1.path, misnamed);
  await assert.rejects(ConsensusKeyStore.open(dir), coded('CONSENSUS_KEY_DIR_INVALID', misnamed));
  await unlink(misnamed);
  assert.deepEqual((await ConsensusKeyStore.open(dir)).epochs(), [0, 1]);
});

test('a directory with no consensus key at all is a typed error naming the bootstrap file', async () => {
  const dir = join(work, `empty-${counter++}`);
  await mkdir(join(dir, 'keys'), { recursive: true });
  await assert.rejects(ConsensusKeyStore.open(dir), coded('KEY_FILE_NOT_FOUND', join(dir, 'bootstrap-consensus.key')));
});

// --- loadNodeDirectory ---

const net = generateNetwork({
  topology: { f: 1, clients: 0, replicaEndpoints: [1, 2, 3, 4].map((i) => ({ host: '127.0.0.1', port: 7100 + i })) },
  chainConfig: parseChainConfig({ chainId: 1 }),
  seed: new Uint8Array(16).fill(7),
});

async function replicaDir(passphrase?: string): Promise<string> {
  const dir = join(work, `replica-${counter++}`);
  await writeNodeDirectory(dir, net.replicas[0]!, net.text, passphrase === undefined ? {} : { passphrase, cost: CHEAP });
  return dir;
}

async function loadReplica(dir: string, passphrase?: string): Promise<ReplicaMaterial> {
  const m = await loadNodeDirectory(dir, passphrase === undefined ? {} : { passphrase, cost: CHEAP });
  assert.equal(m.role, 'replica');
  return m as ReplicaMaterial;
}

test('loadNodeDirectory: the bootstrap key, checked, is epoch 0 of the consensus key store', async () => {
  const m = await loadReplica(await replicaDir());
  assert.equal(pub(m.bootstrapKey!), pub(net.replicas[0]!.bootstrapKey));
  assert.deepEqual(m.consensusKeys.epochs(), [0]);
  assert.equal(m.consensusKeys.secret(0), m.bootstrapKey);
});

test('loadNodeDirectory: a replica whose bootstrap key was retired loads from its newer key; with neither it is refused', async () => {
  const dir = await replicaDir();
  const k1 = await (await loadReplica(dir)).consensusKeys.generate(1);
  await (await loadReplica(dir)).consensusKeys.retire(0);

  const m = await loadReplica(dir);
  assert.equal(m.bootstrapKey, null);
  assert.deepEqual(m.consensusKeys.epochs(), [1]);
  assert.equal(pub(m.consensusKeys.newest().secret), bytesToHex(k1.publicKey));

  await unlink(k1.path);
  await assert.rejects(loadNodeDirectory(dir), coded('KEY_FILE_NOT_FOUND', join(dir, 'bootstrap-consensus.key')));
});

test("loadNodeDirectory: a bootstrap key that is present is still checked, even beside a newer key", async () => {
  const dir = await replicaDir();
  await (await loadReplica(dir)).consensusKeys.generate(1);
  const other = await replicaDir();
  const spec = KEY_FILES.bootstrap;
  await writeKeyFile(join(other, spec.file), { kind: spec.kind, algorithm: spec.algorithm, material: blsSecretKeyToBytes(net.replicas[1]!.bootstrapKey) });
  await copyFile(join(other, spec.file), join(dir, spec.file));
  await assert.rejects(loadNodeDirectory(dir), coded('NODE_KEY_MISMATCH', join(dir, spec.file)));
});

test('loadNodeDirectory: in a sealed directory the generated keys are sealed with its passphrase', async () => {
  const dir = await replicaDir(PASS);
  const k1 = await (await loadReplica(dir, PASS)).consensusKeys.generate(1);
  assert.equal(JSON.parse(await readFile(k1.path, 'utf8')).encryption.kdf, 'scrypt');
  await (await loadReplica(dir, PASS)).consensusKeys.retire(0);
  const m = await loadReplica(dir, PASS);
  assert.equal(m.bootstrapKey, null);
  assert.equal(pub(m.consensusKeys.secret(1)!), bytesToHex(k1.publicKey));
  await assert.rejects(loadNodeDirectory(dir, { passphrase: 'wrong' }), coded('KEY_FILE_WRONG_PASSPHRASE', dir));
  // A plain directory never gets sealed keys, even when a passphrase is given.
  const plain = await replicaDir();
  const p1 = await (await loadReplica(plain, PASS)).consensusKeys.generate(1);
  assert.equal(JSON.parse(await readFile(p1.path, 'utf8')).encryption, undefined);
});
