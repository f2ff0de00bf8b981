// The in-memory key stores the simulated replicas keep their keys in (`harness/memory-keys.ts`) keep
// the contract of the key files: a key for an epoch is returned again rather than replaced, a past
// epoch is never generated again, the newest key is never retired, and retiring twice does nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBulwarkError } from '../../src/common/errors.ts';
import { blsPublicKeyFromBytes, blsPublicKeyOf, blsPublicKeyToBytes, blsSignatureFromBytes, generateBlsSecretKey, verifyPossession } from '../../src/crypto/bls.ts';
import { generateNodeAuthKeyPair } from '../../src/crypto/node-auth.ts';
import { randomKeySource } from '../../src/setup/key-source.ts';
import { holdEd25519Key, holdTlsKey } from '../../src/setup/node-key-store.ts';
import { makeTlsIdentity } from '../../src/setup/node-keys.ts';
import { MemoryConsensusKeyStore, MemoryNodeKeyStore } from './harness/memory-keys.ts';

const coded = (code: string) => (e: unknown) => isBulwarkError(e, code);

test('consensus keys in memory: generated once per epoch, with a proof of possession; the newest kept', async () => {
  const bootstrap = generateBlsSecretKey();
  const store = new MemoryConsensusKeyStore(new Map([[0, bootstrap]]));
  const one = await store.generate(1);
  assert.equal(one.created, true);
  assert.deepEqual(one.publicKey, blsPublicKeyToBytes(blsPublicKeyOf(one.secret)));
  assert.ok(verifyPossession(blsPublicKeyFromBytes(one.publicKey), blsSignatureFromBytes(one.proofOfPossession)));
  const again = await store.generate(1);
  assert.equal(again.created, false);
  assert.deepEqual(again.publicKey, one.publicKey);
  await assert.rejects(store.retire(1), coded('CONSENSUS_KEY_RETIRE_NEWEST'));
  assert.equal((await store.retire(0)).erased, true);
  assert.equal((await store.retire(0)).erased, false);
  assert.deepEqual(store.retired, [0]);
  assert.deepEqual(store.epochs(), [1]);
  await store.generate(3);
  await assert.rejects(store.generate(2), coded('CONSENSUS_KEY_STALE_EPOCH'));
});

test('node keys in memory: execution and TLS keys generated once per epoch; the newest kept', async () => {
  const policy = { now: new Date(), validityDays: 10 };
  const store = new MemoryNodeKeyStore([
    holdEd25519Key('execution', 0, generateNodeAuthKeyPair('ed25519').privateKey),
    holdTlsKey(0, makeTlsIdentity(randomKeySource, 'tls/0', 'bulwark replica 0', '127.0.0.1', policy)),
  ]);
  const subject = { commonName: 'bulwark replica 0', host: '127.0.0.1' };
  const tls = await store.generate('tls', 1, subject);
  assert.equal(tls.created, true);
  assert.deepEqual(tls.publicKey, tls.certificate.der);
  assert.equal((await store.generate('tls', 1, subject)).created, false);
  await assert.rejects(store.generate('tls', 2), coded('NODE_KEY_TLS_SUBJECT_REQUIRED'));
  const execution = await store.generate('execution', 1);
  assert.equal(execution.kind, 'execution');
  assert.deepEqual(store.key('execution', 1)?.publicKey, execution.publicKey);
  await assert.rejects(store.retire('execution', 1), coded('NODE_KEY_RETIRE_NEWEST'));
  assert.equal((await store.retire('tls', 0)).erased, true);
  assert.equal((await store.retire('tls', 0)).erased, false);
  assert.deepEqual(store.epochs('tls'), [1]);
  assert.deepEqual(store.retired, [{ kind: 'tls', epoch: 0 }]);
  await store.retire('execution', 0);
  await store.generate('execution', 3);
  await assert.rejects(store.generate('execution', 2), coded('NODE_KEY_STALE_EPOCH'));
  assert.throws(() => store.epochs('auth'), coded('NODE_KEY_KIND_NOT_HELD'));
});
