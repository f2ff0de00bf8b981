import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { isBulwarkError } from '../../src/common/errors.ts';
import { createCertificate, derToPem, parseCertificatePem, pemToDer } from '../../src/setup/certificate.ts';
import { generateTlsKey, importTlsKeyPkcs8, exportTlsKeyPkcs8, tlsKeyFromMaterial } from '../../src/setup/tls-key.ts';

// Made once with `openssl req -x509` for these tests: certificates a node must not be pinned to.
const P256_CERT = `-----BEGIN CERTIFICATE-----
MIIBdTCCARugAwIBAgIUPeHhgEZkC3mYPsfBZgXjLKE3O/YwCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEcDI1NjAgFw0yNjExMjMyMjM1MzdaGA8yMTI2MTAzMDIyMzUz
N1owDzENMAsGA1UEAwwEcDI1NjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABDFi
cYRWmsrh439gJRnmXhTOaQz156MwzbOScirNaa7nwmrGgR7Cs7ZT6AXUPTzYseQD
Ndg8bFIufWtB4tOfOd6jUzBRMB0GA1UdDgQWBBTzhYzWNk63PpkC5IL3mUAMMlfH
YTAfBgNVHSMEGDAWgBTzhYzWNk63PpkC5IL3mUAMMlfHYTAPBgNVHRMBAf8EBTAD
AQH/MAoGCCqGSM49BAMCA0gAMEUCICMN3/tra96s9seNXBTiNnY8f9wHEB/aZV4Q
csnTVeTJAiEA0z9PIE3wwIFTjzfwRVAG+gzViFXnwmsiTw3E+L8Xcss=
-----END CERTIFICATE-----`;
const P384_SHA256_CERT = `-----BEGIN CERTIFICATE-----
MIIBvzCCAUSgAwIBAgIUD9obD5nmDVELJublZAMfe56LLekwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKcDM4NHNoYTI1NjAgFw0yNjExMjMyMjM1MzdaGA8yMTI2MTAz
MDIyMzUzN1owFTETMBEGA1UEAwwKcDM4NHNoYTI1NjB2MBAGByqGSM49AgEGBSuB
BAAiA2IABMnUt0jAtm4sddSXjfUUsqMc7pYMR1QMWc/riTJTny/SnznQ6YU/jhNU
um5JC6jgzfLRHH5iqlwP2qJvZpDBIA3IdrjdMwPtMz/CHBG7QBnIr55i2TEBfVWG
eu58BoRW16NTMFEwHQYDVR0OBBYEFBe0IX9MCG+l+VZsP72nTwUmyfH+MB8GA1Ud
IwQYMBaAFBe0IX9MCG+l+VZsP72nTwUmyfH+MA8GA1UdEwEB/wQFMAMBAf8wCgYI
KoZIzj0EAwIDaQAwZgIxAL+J3nDyShRq8PQ8+IF9uh70QVvJHq5QN6ZfGmsYPjLk
5sMhJIrq6OvG/KvDQNV9TwIxAOkxiu0KuW5O0X53mOoqhWP5KAK785J6NLeXaIs3
wXaKB1qEjw6fBCbGA2S180FQSA==
-----END CERTIFICATE-----`;

const params = (material: Uint8Array, deterministic: boolean) => ({
  privateKey: tlsKeyFromMaterial(material),
  commonName: 'bulwark replica 0',
  hosts: ['127.0.0.1', 'replica0.example', '::1'],
  notBefore: new Date('2025-01-01T00:00:00Z'),
  notAfter: new Date('2125-01-01T00:00:00Z'),
  serial: new Uint8Array(16).fill(0xab),
  deterministic,
});

test('certificates are self-signed P-384 / SHA-384, readable by OpenSSL, with the names asked for', () => {
  const cert = createCertificate(params(new Uint8Array(64).fill(1), false));
  const x = new X509Certificate(cert.pem);
  assert.equal(x.subject, 'O=Bulwark\nCN=bulwark replica 0');
  assert.equal(x.issuer, x.subject);
  assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  assert.ok(x.verify(x.publicKey));
  assert.equal(x.subjectAltName, 'IP Address:127.0.0.1, DNS:replica0.example, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(x.validFrom, 'Jan  1 00:00:00 2025 GMT');
  assert.equal(x.validTo, 'Jan  1 00:00:00 2125 GMT');
  assert.equal(x.serialNumber, '2BABABABABABABABABABABABABABABAB', 'top bit cleared and low bit set: positive, never zero');
  assert.equal(x.ca, false);
});

test('deterministic mode gives the same bytes for the same key; random mode does not', () => {
  const m = new Uint8Array(64).fill(2);
  assert.deepEqual(createCertificate(params(m, true)).der, createCertificate(params(m, true)).der);
  assert.notDeepEqual(createCertificate(params(m, false)).der, createCertificate(params(m, false)).der);
  assert.notDeepEqual(createCertificate(params(new Uint8Array(64).fill(3), true)).der, createCertificate(params(m, true)).der);
});

test('only a self-signed P-384 certificate signed with SHA-384 can be pinned', () => {
  const refused = (pem: string, fragment: RegExp) =>
    assert.throws(() => parseCertificatePem(pem), (e) => isBulwarkError(e, 'CERTIFICATE_INVALID') && fragment.test(e.message), String(fragment));
  refused(P256_CERT, /P-384/);
  refused(P384_SHA256_CERT, /ecdsa-with-SHA384/);
  const good = createCertificate(params(new Uint8Array(64).fill(4), false));
  const der = Uint8Array.from(good.der);
  der[der.length - 5]! ^= 0x01; // inside the signature
  refused(derToPem(der), /self-signature|not an X.509/);
  refused('hello', /PEM/);
  refused(good.pem + good.pem, /PEM/);
  refused(good.pem.replace('MII', 'MII!'), /PEM|base64/);
  assert.deepEqual(parseCertificatePem(`\n  ${good.pem}\n`).der, good.der, 'surrounding whitespace is fine');
  assert.deepEqual(pemToDer(good.pem), good.der);
});

test('TLS keys: seeded keys are stable, PKCS#8 round-trips, other curves are refused', () => {
  const a = tlsKeyFromMaterial(new Uint8Array(64).fill(5));
  const b = tlsKeyFromMaterial(new Uint8Array(64).fill(5));
  assert.deepEqual(exportTlsKeyPkcs8(a), exportTlsKeyPkcs8(b));
  const fresh = generateTlsKey();
  assert.deepEqual(exportTlsKeyPkcs8(importTlsKeyPkcs8(exportTlsKeyPkcs8(fresh))), exportTlsKeyPkcs8(fresh));
  assert.throws(() => importTlsKeyPkcs8(new Uint8Array([1, 2, 3])), (e) => isBulwarkError(e, 'TLS_KEY_INVALID'));
  const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'der', type: 'pkcs8' });
  assert.throws(() => importTlsKeyPkcs8(p256), (e) => isBulwarkError(e, 'TLS_KEY_INVALID') && /P-384/.test(e.message));
  assert.throws(() => tlsKeyFromMaterial(new Uint8Array(32)), (e) => isBulwarkError(e, 'SETUP_INTERNAL'));
});
