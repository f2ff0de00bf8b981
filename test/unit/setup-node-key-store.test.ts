// The execution, client-auth and TLS keys a node generates itself: written durably before they are
// returned (a TLS certificate before its key), found again after a crash instead of replaced, sealed
// when the directory is, erased when retired; and a node directory whose epoch-0 keys were retired loads.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, cp, link, mkdtemp, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBulwarkError } from '../../src/common/errors.ts';
import { bytesToHex } from '../../src/crypto/hex.ts';
import { exportNodeAuthPrivateKey, exportNodeAuthPublicKey, nodeAuthPublicKeyOf, signNodeAuth, verifyNodeAuth } from '../../src/crypto/node-auth.ts';
import { parseChainConfig } from '../../src/execution/chain-config.ts';
import { runInit } from '../../src/setup/init.ts';
import { loadNodeDirectory, type ClientMaterial, type ReplicaMaterial } from '../../src/setup/node-directory.ts';
import { NodeKeyStore, type HeldNodeKey, type NodeKeyKind } from '../../src/setup/node-key-store.ts';
import { exportTlsKeyPkcs8, tlsPublicKeyOf } from '../../src/setup/tls-key.ts';

const work = await mkdtemp(join(tmpdir(), 'bulwark-node-keys-'));
after(() => rm(work, { recursive: true, force: true }));

const CHEAP = { logN: 10, r: 8, p: 1 }; // scrypt at test speed
const PASS = 'correct horse battery staple';
const SUBJECT = { commonName: 'bulwark replica 0', host: '127.0.0.1' };
const coded = (code: string, path: string) => (e: unknown) => isBulwarkError(e, code) && e.message.includes(path);
const REPLICA_KINDS = ['execution', 'tls'] as const;
const CLIENT_KINDS = ['auth', 'tls'] as const;

async function init(name: string, passphrase?: string): Promise<string> {
  const outDir = join(work, name);
  await runInit({
    outDir,
    topology: { f: 1, clients: 1, replicaEndpoints: [1, 2, 3, 4].map((i) => ({ host: '127.0.0.1', port: 7200 + i })) },
    chainConfig: parseChainConfig({ chainId: 1 }),
    ...(passphrase === undefined ? {} : { passphrase, scryptCost: CHEAP }),
  });
  return outDir;
}
const plainNet = await init('plain');
const sealedNet = await init('sealed', PASS);

let counter = 0;
/** A fresh copy of replica 0's (or client 4's) directory from `bulwark init`. */
async function nodeDir(role: 'replica' | 'client', sealed = false): Promise<string> {
  const dir = join(work, `case-${counter++}`);
  await cp(join(sealed ? sealedNet : plainNet, role === 'replica' ? 'replica-0' : 'client-4'), dir, { recursive: true });
  return dir;
}

const seal = (sealed: boolean) => (sealed ? { passphrase: PASS, cost: CHEAP } : {});
/** What identifies a held key: its public half, and its private half's bytes. */
function fingerprint(k: HeldNodeKey): string {
  const secret = k.kind === 'tls' ? exportTlsKeyPkcs8(k.privateKey) : exportNodeAuthPrivateKey(k.privateKey, 'der');
  return `${k.kind}/${k.epoch}/${bytesToHex(k.publicKey)}/${bytesToHex(secret)}`;
}
async function leftovers(dir: string): Promise<string[]> {
  const names = [...(await readdir(dir)), ...(await readdir(join(dir, 'keys')).catch(() => []))];
  return names.filter((n) => n.startsWith('.'));
}

for (const sealed of [false, true]) {
  for (const [role, kinds] of [['replica', REPLICA_KINDS], ['client', CLIENT_KINDS]] as const) {
    test(`${sealed ? 'sealed' : 'plain'} ${role}: generate writes each kind's key durably with the epoch in its kind; a reopened store has them`, async () => {
      const dir = await nodeDir(role, sealed);
      const store = await NodeKeyStore.open(dir, kinds, seal(sealed));
      for (const kind of kinds) {
        assert.deepEqual(store.epochs(kind), [0]);
        const k1 = await store.generate(kind, 1, SUBJECT);
        assert.equal(k1.created, true);
        assert.equal(k1.path, join(dir, 'keys', `${kind}-1.key`));
        assert.notEqual(bytesToHex(k1.publicKey), bytesToHex(store.key(kind, 0)!.publicKey));
        const json = JSON.parse(await readFile(k1.path, 'utf8'));
        const base = { execution: 'execution-private', auth: 'client-auth-private', tls: 'tls-private' }[kind];
        assert.equal(json.kind, `${base}/epoch-1`);
        assert.equal(json.algorithm, kind === 'tls' ? 'p384' : 'ed25519');
        assert.equal(json.encryption?.kdf, sealed ? 'scrypt' : undefined);
        assert.equal(json.encryption?.logN, sealed ? CHEAP.logN : undefined);
        assert.equal((await stat(k1.path)).mode & 0o777, 0o600);
        if (k1.kind === 'tls') {
          const crt = join(dir, 'keys', 'tls-1.crt');
          assert.equal(await readFile(crt, 'utf8'), k1.certificatePem);
          assert.equal((await stat(crt)).mode & 0o777, 0o644);
          assert.deepEqual(k1.publicKey, k1.certificate.der);
          const x509 = new X509Certificate(k1.certificatePem);
          assert.ok(x509.checkPrivateKey(k1.privateKey));
          assert.match(x509.subject, /CN=bulwark replica 0/);
          assert.ok(x509.publicKey.equals(tlsPublicKeyOf(k1.privateKey)));
        } else {
          assert.deepEqual(k1.publicKey, exportNodeAuthPublicKey(nodeAuthPublicKeyOf(k1.privateKey)));
          const pk = nodeAuthPublicKeyOf(k1.privateKey);
          assert.ok(verifyNodeAuth(pk, Buffer.from('m'), signNodeAuth(k1.privateKey, Buffer.from('m'))));
        }
        await store.generate(kind, 3, SUBJECT);
        assert.deepEqual(store.epochs(kind), [0, 1, 3]);
        assert.equal(store.newest(kind).epoch, 3);
      }
      assert.equal((await stat(join(dir, 'keys'))).mode & 0o777, 0o700);
      assert.deepEqual(await leftovers(dir), []);

      const reopened = await NodeKeyStore.open(dir, kinds, seal(sealed));
      for (const kind of kinds) {
        assert.deepEqual(reopened.epochs(kind).map((e) => fingerprint(reopened.key(kind, e)!)), store.epochs(kind).map((e) => fingerprint(store.key(kind, e)!)));
      }
      if (sealed) {
        const first = join(dir, role === 'replica' ? 'execution.key' : 'auth.key');
        await assert.rejects(NodeKeyStore.open(dir, kinds, { passphrase: 'wrong' }), coded('KEY_FILE_WRONG_PASSPHRASE', dir));
        await assert.rejects(NodeKeyStore.open(dir, [kinds[0]]), coded('KEY_FILE_PASSPHRASE_REQUIRED', first));
        // An epoch-0 key handed over in memory does not let a sealed directory get plain keys.
        const given = { epoch0: { [kinds[0]]: store.key(kinds[0], 0) } };
        await assert.rejects(NodeKeyStore.open(dir, [kinds[0]], given), coded('KEY_FILE_PASSPHRASE_REQUIRED', first));
      }
    });
  }
}

test('a key generated before a crash but not yet published is returned again, not replaced', async () => {
  const dir = await nodeDir('replica');
  for (const kind of REPLICA_KINDS) {
    const first = await (await NodeKeyStore.open(dir, REPLICA_KINDS)).generate(kind, 1, SUBJECT);
    const fileBefore = await readFile(first.path, 'utf8');
    // The process dies here; the restarted node asks for epoch 1 again (a TLS subject is not needed).
    const again = await (await NodeKeyStore.open(dir, REPLICA_KINDS)).generate(kind, 1);
    assert.equal(again.created, false);
    assert.equal(fingerprint(again), fingerprint(first));
    assert.equal(await readFile(first.path, 'utf8'), fileBefore);
    // A store opened before the key appeared finds it on disk rather than writing another.
    const early = await NodeKeyStore.open(dir, REPLICA_KINDS);
    const other = await (await NodeKeyStore.open(dir, REPLICA_KINDS)).generate(kind, 2, SUBJECT);
    const found = await early.generate(kind, 2, SUBJECT);
    assert.equal(found.created, false);
    assert.equal(fingerprint(found), fingerprint(other));
  }
  // Two concurrent calls for one epoch make one key.
  const store = await NodeKeyStore.open(dir, REPLICA_KINDS);
  const [a, b] = await Promise.all([store.generate('tls', 5, SUBJECT), store.generate('tls', 5, SUBJECT)]);
  assert.deepEqual([a.created, b.created], [true, false]);
  assert.equal(fingerprint(a), fingerprint(b));
});

test('generate refuses bad epochs, epochs not newer than the newest, a TLS key without a subject, and kinds the store does not hold', async () => {
  const dir = await nodeDir('replica');
  const store = await NodeKeyStore.open(dir, REPLICA_KINDS);
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 32]) {
    await assert.rejects(store.generate('execution', bad), (e) => isBulwarkError(e, 'NODE_KEY_BAD_EPOCH'), String(bad));
  }
  await store.generate('execution', 3);
  await assert.rejects(store.generate('execution', 2), (e) => isBulwarkError(e, 'NODE_KEY_STALE_EPOCH') && e.details['newest'] === 3);
  await store.generate('execution', 4);
  await store.retire('execution', 3);
  await assert.rejects(store.generate('execution', 3), (e) => isBulwarkError(e, 'NODE_KEY_STALE_EPOCH'), 'a retired epoch is never reused');
  await assert.rejects(store.generate('tls', 1), (e) => isBulwarkError(e, 'NODE_KEY_TLS_SUBJECT_REQUIRED'));
  assert.deepEqual(await readdir(join(dir, 'keys')).then((n) => n.filter((x) => x.startsWith('tls'))), [], 'nothing written');
  await assert.rejects(store.generate('auth', 1), (e) => isBulwarkError(e, 'NODE_KEY_KIND_NOT_HELD'));
  assert.throws(() => store.epochs('auth'), (e) => isBulwarkError(e, 'NODE_KEY_KIND_NOT_HELD'));
});

test('retire overwrites the key file in place before unlinking it, removes a TLS certificate, and keeps the newest', async () => {
  const dir = await nodeDir('replica');
  const store = await NodeKeyStore.open(dir, REPLICA_KINDS);
  for (const kind of REPLICA_KINDS) {
    await assert.rejects(store.retire(kind, 0), (e) => isBulwarkError(e, 'NODE_KEY_RETIRE_NEWEST') && e.message.includes('epoch 0'));
    await store.generate(kind, 1, SUBJECT);
    await store.generate(kind, 2, SUBJECT);
    for (const epoch of [0, 1]) {
      const path = store.path(kind, epoch);
      const held = store.key(kind, epoch)!;
      const secret = held.kind === 'tls' ? exportTlsKeyPkcs8(held.privateKey) : exportNodeAuthPrivateKey(held.privateKey, 'der');
      const witness = join(work, `witness-${counter++}`);
      await link(path, witness); // same inode: what retire does to the bytes stays visible here
      const original = await readFile(path);

      assert.deepEqual(await store.retire(kind, epoch), { kind, epoch, path, bytes: original.length, erased: true });
      await assert.rejects(stat(path), { code: 'ENOENT' });
      const after = await readFile(witness);
      assert.equal(after.length, original.length, 'overwritten in place, not truncated');
      assert.ok(!after.toString('utf8').includes(bytesToHex(secret.subarray(-32))), 'the secret is gone');
      assert.equal(store.key(kind, epoch), undefined);
      if (kind === 'tls') await assert.rejects(stat(join(dir, epoch === 0 ? 'tls.crt' : 'keys/tls-1.crt')), { code: 'ENOENT' });
    }
    assert.deepEqual(await store.retire(kind, 1), { kind, epoch: 1, path: store.path(kind, 1), bytes: 0, erased: false });
    await assert.rejects(store.retire(kind, 2), (e) => isBulwarkError(e, 'NODE_KEY_RETIRE_NEWEST'));
    assert.deepEqual(store.epochs(kind), [2]);
  }
  await stat(join(dir, 'keys', 'tls-2.crt'));
  assert.deepEqual(await leftovers(dir), [], 'no tombstone left');
  const reopened = await NodeKeyStore.open(dir, REPLICA_KINDS);
  assert.deepEqual([reopened.epochs('execution'), reopened.epochs('tls')], [[2], [2]]);
});

test('what a crash leaves mid-retire or mid-generate is erased on the next open', async () => {
  const dir = await nodeDir('client');
  const store = await NodeKeyStore.open(dir, CLIENT_KINDS);
  const auth1 = await store.generate('auth', 1);
  const tls1 = await store.generate('tls', 1, SUBJECT);
  // Retire cut short after the rename: the tombstone still holds the epoch-0 key.
  const tomb = join(dir, '.auth.key.retiring');
  await rename(join(dir, 'auth.key'), tomb);
  const witness = join(work, `witness-${counter++}`);
  await link(tomb, witness);
  const original = await readFile(witness);
  // Writes cut short before their rename, and a TLS generate cut short between certificate and key.
  await writeFile(join(dir, 'keys', '.auth-2.key.0123456789ab.tmp'), 'a secret never returned', { mode: 0o600 });
  await writeFile(join(dir, 'keys', '.tls-2.crt.0123456789ab.tmp'), 'half a certificate', { mode: 0o644 });
  await copyFile(join(dir, 'keys', 'tls-1.crt'), join(dir, 'keys', 'tls-2.crt'));
  // Not this store's: another kind's leftovers and other files are left alone.
  await writeFile(join(dir, 'keys', '.consensus-2.key.0123456789ab.tmp'), 'x', { mode: 0o600 });

  const reopened = await NodeKeyStore.open(dir, CLIENT_KINDS);
  assert.deepEqual([reopened.epochs('auth'), reopened.epochs('tls')], [[1], [0, 1]]);
  assert.deepEqual(await leftovers(dir), ['.consensus-2.key.0123456789ab.tmp']);
  assert.deepEqual((await readdir(join(dir, 'keys'))).filter((n) => !n.startsWith('.')).sort(), ['auth-1.key', 'tls-1.crt', 'tls-1.key']);
  const after = await readFile(witness);
  assert.equal(after.length, original.length, 'overwritten in place');
  assert.ok(!after.equals(original));
  // The retire that was cut short, asked again, finds nothing left to do; generate starts epoch 2 afresh.
  assert.equal((await reopened.retire('auth', 0)).erased, false);
  const tls2 = await reopened.generate('tls', 2, SUBJECT);
  assert.equal(tls2.created, true);
  assert.notEqual(tls2.certificatePem, tls1.certificatePem);
  assert.equal(fingerprint(reopened.newest('auth')), fingerprint(auth1));
});

test('a TLS key without its certificate, or beside another key\'s, and misplaced key files are typed errors naming the file', async () => {
  const dir = await nodeDir('replica');
  const store = await NodeKeyStore.open(dir, REPLICA_KINDS);
  await store.generate('tls', 1, SUBJECT);
  await store.generate('tls', 2, SUBJECT);
  const crt1 = join(dir, 'keys', 'tls-1.crt');
  const saved = await readFile(crt1, 'utf8');

  await copyFile(join(dir, 'keys', 'tls-2.crt'), crt1);
  await assert.rejects(NodeKeyStore.open(dir, REPLICA_KINDS), coded('NODE_KEY_MISMATCH', join(dir, 'keys', 'tls-1.key')));
  await writeFile(crt1, 'not a certificate');
  await assert.rejects(NodeKeyStore.open(dir, REPLICA_KINDS), coded('NODE_KEY_CERTIFICATE_INVALID', crt1));
  await unlink(crt1);
  await assert.rejects(NodeKeyStore.open(dir, REPLICA_KINDS), coded('NODE_KEY_CERTIFICATE_MISSING', crt1));
  await writeFile(crt1, saved);

  const e2 = join(dir, 'keys', 'execution-2.key');
  await copyFile((await store.generate('execution', 1)).path, e2); // epoch 1's file under epoch 2's name
  await assert.rejects(NodeKeyStore.open(dir, REPLICA_KINDS), coded('KEY_FILE_WRONG_KIND', e2));
  await copyFile(join(dir, 'keys', 'tls-1.key'), e2);
  await assert.rejects(NodeKeyStore.open(dir, REPLICA_KINDS), coded('KEY_FILE_WRONG_KIND', e2));
  await unlink(e2);
  const misnamed = join(dir, 'keys', 'execution-01.key');
  await copyFile(join(dir, 'keys', 'execution-1.key'), misnamed);
  await assert.rejects(NodeKeyStore.open(dir, REPLICA_KINDS), coded('NODE_KEY_DIR_INVALID', misnamed));
  await unlink(misnamed);
  assert.deepEqual((await NodeKeyStore.open(dir, REPLICA_KINDS)).epochs('tls'), [0, 1, 2]);
});

// --- loadNodeDirectory ---

async function load<M extends ReplicaMaterial | ClientMaterial>(dir: string, sealed = false): Promise<M> {
  return (await loadNodeDirectory(dir, seal(sealed))) as M;
}

test('loadNodeDirectory: epoch-0 keys are epoch 0 of the node key store, checked against the network file', async () => {
  const r = await load<ReplicaMaterial>(await nodeDir('replica'));
  assert.deepEqual([r.nodeKeys.epochs('execution'), r.nodeKeys.epochs('tls')], [[0], [0]]);
  assert.equal(r.nodeKeys.newest('execution').privateKey, r.executionKey);
  assert.deepEqual(r.nodeKeys.newest('execution').publicKey, exportNodeAuthPublicKey(r.info.executionKey));
  assert.deepEqual(r.nodeKeys.newest('tls').publicKey, r.info.tlsCertificate.der);
  assert.equal(r.tls.certificate, r.info.tlsCertificate);
  const c = await load<ClientMaterial>(await nodeDir('client'));
  assert.deepEqual([c.nodeKeys.epochs('auth'), c.nodeKeys.epochs('tls')], [[0], [0]]);
  assert.deepEqual(c.nodeKeys.newest('auth').publicKey, exportNodeAuthPublicKey(c.info.authKey));
});

for (const sealed of [false, true]) {
  test(`loadNodeDirectory (${sealed ? 'sealed' : 'plain'}): with the epoch-0 files retired, the newest generated keys are the material's keys`, async () => {
    for (const role of ['replica', 'client'] as const) {
      const dir = await nodeDir(role, sealed);
      const kinds: readonly NodeKeyKind[] = role === 'replica' ? REPLICA_KINDS : CLIENT_KINDS;
      const first = (await load<ReplicaMaterial | ClientMaterial>(dir, sealed)).nodeKeys;
      const newest = new Map<NodeKeyKind, HeldNodeKey>();
      for (const kind of kinds) {
        await first.generate(kind, 1, SUBJECT);
        newest.set(kind, await first.generate(kind, 2, SUBJECT));
        assert.equal(JSON.parse(await readFile(first.path(kind, 2), 'utf8')).encryption?.kdf, sealed ? 'scrypt' : undefined);
        await first.retire(kind, 0);
        await first.retire(kind, 1);
      }
      for (const gone of role === 'replica' ? ['execution.key', 'tls.key', 'tls.crt'] : ['auth.key', 'tls.key', 'tls.crt']) {
        await assert.rejects(stat(join(dir, gone)), { code: 'ENOENT' }, gone);
      }

      const m = await load<ReplicaMaterial | ClientMaterial>(dir, sealed);
      for (const kind of kinds) assert.deepEqual(m.nodeKeys.epochs(kind), [2]);
      const tls = newest.get('tls')!;
      assert.ok(tls.kind === 'tls');
      assert.equal(m.tls.certificate.pem, tls.certificatePem);
      assert.deepEqual(exportTlsKeyPkcs8(m.tls.key), exportTlsKeyPkcs8(tls.privateKey));
      const ed = newest.get(role === 'replica' ? 'execution' : 'auth')!;
      assert.ok(ed.kind !== 'tls');
      const key = m.role === 'replica' ? m.executionKey : m.authKey;
      assert.deepEqual(exportNodeAuthPrivateKey(key, 'der'), exportNodeAuthPrivateKey(ed.privateKey, 'der'));
      if (m.role === 'replica') assert.notEqual(m.bootstrapKey, null, 'the consensus keys are not touched');
    }
  });
}

test('loadNodeDirectory: with neither the epoch-0 file nor a newer key the error names the epoch-0 file', async () => {
  for (const [role, file] of [['replica', 'execution.key'], ['replica', 'tls.key'], ['client', 'auth.key'], ['client', 'tls.key']] as const) {
    const dir = await nodeDir(role);
    const kind = file.replace('.key', '') as NodeKeyKind;
    const k1 = await (await load<ReplicaMaterial | ClientMaterial>(dir)).nodeKeys.generate(kind, 1, SUBJECT);
    await (await load<ReplicaMaterial | ClientMaterial>(dir)).nodeKeys.retire(kind, 0);
    await load(dir); // fine with the newer key alone
    await unlink(k1.path);
    await assert.rejects(loadNodeDirectory(dir), coded('KEY_FILE_NOT_FOUND', join(dir, file)), `${role} ${file}`);
  }
});

test('loadNodeDirectory: an epoch-0 key that is present is still checked, even beside a newer key', async () => {
  for (const file of ['execution.key', 'tls.key']) {
    const dir = await nodeDir('replica');
    const kind = file.replace('.key', '') as NodeKeyKind;
    await (await load<ReplicaMaterial>(dir)).nodeKeys.generate(kind, 1, SUBJECT);
    await copyFile(join(plainNet, 'replica-1', file), join(dir, file));
    await assert.rejects(loadNodeDirectory(dir), coded('NODE_KEY_MISMATCH', join(dir, file)), file);
  }
});
