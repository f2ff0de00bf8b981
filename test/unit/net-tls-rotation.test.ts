// Certificate rotation without sockets: a pin set holding several certificates per node and changed
// in place, and the fresh identities a rotating node generates. The transport's rotation on real
// sockets is test/e2e/net-tls-rotation.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { isBulwarkError } from '../../src/common/errors.ts';
import { ALPN, PinSet } from '../../src/net/pinning.ts';
import type { TlsNode } from '../../src/net/tls-options.ts';
import { DEFAULT_CERT_VALIDITY_DAYS } from '../../src/setup/generate.ts';
import { generateTlsIdentity } from '../../src/setup/tls-identity.ts';
import { isP384 } from '../../src/setup/tls-key.ts';

const cert = (id: number, version = 0): Uint8Array => Uint8Array.from([0x30, id, version, 2, 3]);
const node = (id: number, role: 'replica' | 'client'): TlsNode => ({ id, role, host: '127.0.0.1', port: 1000 + id, certificate: cert(id) });
const [r0, r1, r2, c3] = [node(0, 'replica'), node(1, 'replica'), node(2, 'replica'), node(3, 'client')] as const;
const DAY = 86_400_000;

test("a node's old and new certificate both identify it until the old one is dropped", () => {
  const pins = new PinSet([r0, r1, r2, c3]);
  pins.replace(2, [cert(2), cert(2, 1)]);
  assert.equal(pins.lookup(cert(2))?.id, 2);
  assert.equal(pins.lookup(cert(2, 1))?.id, 2);
  assert.deepEqual(pins.judgeInbound(r0, cert(2, 1), ALPN.replica), { ok: true, node: r2 });
  assert.deepEqual(pins.certificates(2), [cert(2), cert(2, 1)]);

  pins.replace(2, [cert(2, 1)]);
  assert.equal(pins.lookup(cert(2)), undefined, 'the old certificate identifies nobody');
  assert.equal(pins.isPinned(2, cert(2)), false);
  assert.equal(pins.isPinned(2, cert(2, 1)), true);
  assert.equal(pins.isPinned(1, cert(2, 1)), false, "node 2's certificate is not node 1's");
  const v = pins.judgeInbound(r0, cert(2), ALPN.replica);
  assert.equal(!v.ok && v.reason, 'unknown-certificate');
  assert.equal(pins.lookup(cert(1))?.id, 1, 'other nodes keep their pins');
});

test('a pin is a copy of the bytes given', () => {
  const pins = new PinSet([r0, r1]);
  const fresh = cert(1, 7);
  pins.replace(1, [fresh]);
  fresh[2] = 8;
  assert.equal(pins.lookup(cert(1, 7))?.id, 1);
  assert.equal(pins.lookup(fresh), undefined);
});

test('a pin change that cannot be right is refused whole and changes nothing', () => {
  const pins = new PinSet([r0, r1, r2, c3]);
  const refused = (what: string, run: () => void): void =>
    assert.throws(run, (e: unknown) => isBulwarkError(e, 'NET_IDENTITY_INVALID'), what);
  refused("another node's certificate", () => pins.replace(1, [cert(1, 1), cert(3)]));
  refused('no certificate', () => pins.replace(1, []));
  refused('an empty certificate', () => pins.replace(1, [new Uint8Array()]));
  refused('an unknown node', () => pins.replace(9, [cert(9)]));
  assert.deepEqual(pins.certificates(1), [cert(1)]);
  assert.equal(pins.lookup(cert(1, 1)), undefined, 'the valid part of a refused change was not applied');
  assert.equal(pins.lookup(cert(3))?.id, 3);
});

test('a rotation identity: a fresh P-384 key, backdated a day, valid for the setup default', () => {
  const now = new Date('2030-06-01T12:00:00Z');
  const a = generateTlsIdentity({ commonName: 'bulwark replica 1', host: '127.0.0.1', now });
  const b = generateTlsIdentity({ commonName: 'bulwark replica 1', host: '127.0.0.1', now, validityDays: 30 });
  assert.equal(isP384(a.key), true);
  const x = new X509Certificate(a.certificate.pem);
  assert.equal(Date.parse(x.validFrom), now.getTime() - DAY);
  assert.equal(Date.parse(x.validTo), now.getTime() + DEFAULT_CERT_VALIDITY_DAYS * DAY);
  assert.equal(Date.parse(new X509Certificate(b.certificate.pem).validTo), now.getTime() + 30 * DAY);
  assert.match(x.subject, /CN=bulwark replica 1/);
  assert.equal(x.checkPrivateKey(a.key), true);
  assert.notDeepEqual(a.certificate.der, b.certificate.der, 'every identity is new');
  assert.throws(
    () => generateTlsIdentity({ commonName: 'x', host: '127.0.0.1', validityDays: 0 }),
    (e: unknown) => isBulwarkError(e, 'SETUP_INVALID_INPUT'),
  );
});
