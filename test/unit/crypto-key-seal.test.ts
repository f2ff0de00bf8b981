import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isBulwarkError } from '../../src/common/errors.ts';
import { isKeyFileSealed, readKeyFile, writeKeyFile } from '../../src/crypto/key-file.ts';

const dir = await mkdtemp(join(tmpdir(), 'bulwark-keyseal-'));
test.after(() => rm(dir, { recursive: true, force: true }));

// Cheap scrypt for tests; the default (logN 17) is what `bulwark init` uses.
const cost = { logN: 10, r: 8, p: 1 };
const material = new Uint8Array(randomBytes(32));
const key = { kind: 'execution-private', algorithm: 'ed25519', material };
const withPath = (code: string, path: string) => (e: unknown) =>
  isBulwarkError(e, code) && e.details['path'] === path && e.message.includes(path);

async function sealed(name: string): Promise<string> {
  const path = join(dir, name);
  await writeKeyFile(path, key, { passphrase: 'correct horse', cost });
  return path;
}

test('a sealed key round-trips, and neither the material nor the passphrase is in the file', async () => {
  const path = await sealed('round.key');
  const text = await readFile(path, 'utf8');
  assert.ok(!text.includes(Buffer.from(material).toString('hex')));
  assert.ok(!text.includes('correct horse'));
  assert.equal(await isKeyFileSealed(path), true);
  const read = await readKeyFile(path, { kind: 'execution-private', passphrase: 'correct horse' });
  assert.deepEqual(read.material, material);
});

test('wrong or missing passphrase is a typed error naming the file', async () => {
  const path = await sealed('wrong.key');
  await assert.rejects(readKeyFile(path, { passphrase: 'battery staple' }), withPath('KEY_FILE_WRONG_PASSPHRASE', path));
  await assert.rejects(readKeyFile(path), withPath('KEY_FILE_PASSPHRASE_REQUIRED', path));
});

test('relabelling or altering a sealed file fails authentication', async () => {
  const path = await sealed('tamper.key');
  const json = JSON.parse(await readFile(path, 'utf8'));
  await writeFile(path, JSON.stringify({ ...json, kind: 'operator-private' }), { mode: 0o600 });
  await assert.rejects(readKeyFile(path, { passphrase: 'correct horse' }), withPath('KEY_FILE_WRONG_PASSPHRASE', path));
  const flipped = json.material.slice(0, -2) + (json.material.endsWith('00') ? '01' : '00');
  await writeFile(path, JSON.stringify({ ...json, material: flipped }), { mode: 0o600 });
  await assert.rejects(readKeyFile(path, { passphrase: 'correct horse' }), withPath('KEY_FILE_WRONG_PASSPHRASE', path));
});

test('a file asking for an absurd scrypt cost or an unknown cipher is malformed, not obeyed', async () => {
  const path = await sealed('cost.key');
  const json = JSON.parse(await readFile(path, 'utf8'));
  await writeFile(path, JSON.stringify({ ...json, encryption: { ...json.encryption, logN: 40 } }), { mode: 0o600 });
  await assert.rejects(readKeyFile(path, { passphrase: 'correct horse' }), withPath('KEY_FILE_MALFORMED', path));
  await writeFile(path, JSON.stringify({ ...json, encryption: { ...json.encryption, cipher: 'rot13' } }), { mode: 0o600 });
  await assert.rejects(readKeyFile(path, { passphrase: 'correct horse' }), withPath('KEY_FILE_MALFORMED', path));
});

test('an empty passphrase is refused when writing', async () => {
  await assert.rejects(writeKeyFile(join(dir, 'empty.key'), key, { passphrase: '', cost }), (e) =>
    isBulwarkError(e, 'KEY_SEAL_EMPTY_PASSPHRASE'),
  );
});

test('a plain file reads with or without a passphrase', async () => {
  const path = join(dir, 'plain.key');
  await writeKeyFile(path, key);
  assert.equal(await isKeyFileSealed(path), false);
  assert.deepEqual((await readKeyFile(path, { passphrase: 'anything' })).material, material);
});
