import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isBulwarkError } from '../../src/common/errors.ts';
import { readKeyFile, writeKeyFile } from '../../src/crypto/key-file.ts';
import { blsPublicKeyOf, blsPublicKeyToBytes, blsSecretKeyFromBytes, blsSecretKeyToBytes, generateBlsSecretKey } from '../../src/crypto/bls.ts';

const dir = await mkdtemp(join(tmpdir(), 'bulwark-keyfile-'));
test.after(() => rm(dir, { recursive: true, force: true }));

const codeWithPath = (code: string, path: string) => (e: unknown) =>
  isBulwarkError(e, code) && e.details['path'] === path && e.message.includes(path);

test('round trip, owner-only, no temp file left behind', async () => {
  const sk = generateBlsSecretKey();
  const path = join(dir, 'consensus.key');
  await writeKeyFile(path, { kind: 'bls-consensus-secret', algorithm: 'bls12-381', material: blsSecretKeyToBytes(sk) });
  if (process.platform !== 'win32') assert.equal((await stat(path)).mode & 0o777, 0o600);
  const read = await readKeyFile(path, { kind: 'bls-consensus-secret', algorithm: 'bls12-381' });
  assert.equal(read.kind, 'bls-consensus-secret');
  assert.deepEqual(blsPublicKeyToBytes(blsPublicKeyOf(blsSecretKeyFromBytes(read.material))), blsPublicKeyToBytes(blsPublicKeyOf(sk)));
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')).version, 1);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
});

test('overwrite replaces the key whole', async () => {
  const path = join(dir, 'rotating.key');
  const first = randomBytes(32);
  const second = randomBytes(32);
  await writeKeyFile(path, { kind: 'k', algorithm: 'a', material: first });
  await writeKeyFile(path, { kind: 'k', algorithm: 'a', material: second });
  assert.deepEqual((await readKeyFile(path)).material, new Uint8Array(second));
});

test('missing, malformed, mismatched and exposed files are typed errors naming the path', async () => {
  const missing = join(dir, 'nope.key');
  await assert.rejects(readKeyFile(missing), codeWithPath('KEY_FILE_NOT_FOUND', missing));

  const malformed: Array<[string, string]> = [
    ['not-json', '{'],
    ['array', '[]'],
    ['no-version', JSON.stringify({ kind: 'k', algorithm: 'a', material: '00' })],
    ['no-kind', JSON.stringify({ version: 1, algorithm: 'a', material: '00' })],
    ['no-material', JSON.stringify({ version: 1, kind: 'k', algorithm: 'a' })],
    ['bad-hex', JSON.stringify({ version: 1, kind: 'k', algorithm: 'a', material: 'xyz' })],
  ];
  for (const [name, body] of malformed) {
    const path = join(dir, `${name}.key`);
    await writeFile(path, body, { mode: 0o600 });
    await assert.rejects(readKeyFile(path), codeWithPath('KEY_FILE_MALFORMED', path), name);
  }

  const path = join(dir, 'exec.key');
  await writeKeyFile(path, { kind: 'secp256k1-private', algorithm: 'secp256k1', material: randomBytes(32) });
  await assert.rejects(readKeyFile(path, { kind: 'bls-consensus-secret' }), codeWithPath('KEY_FILE_WRONG_KIND', path));
  await assert.rejects(readKeyFile(path, { algorithm: 'ed25519' }), codeWithPath('KEY_FILE_WRONG_KIND', path));

  if (process.platform !== 'win32') {
    await chmod(path, 0o644);
    await assert.rejects(readKeyFile(path), codeWithPath('KEY_FILE_INSECURE_PERMISSIONS', path));
  }
});

test('a write into a missing directory fails with a typed error', async () => {
  const path = join(dir, 'no-such-dir', 'x.key');
  await assert.rejects(writeKeyFile(path, { kind: 'k', algorithm: 'a', material: randomBytes(4) }), codeWithPath('KEY_FILE_WRITE_FAILED', path));
});
