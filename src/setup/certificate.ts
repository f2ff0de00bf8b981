/**
 * Self-signed X.509 v3 certificates for node TLS identities: ECDSA P-384 keys signed with SHA-384,
 * built with PeculiarVentures' ASN.1 schemas and signed by `node:crypto`, so no `openssl` binary is
 * involved.
 *
 * Nothing about these certificates is trusted through a chain: each node pins every peer's exact
 * certificate bytes from the network file. Names, validity and extensions are there so that standard
 * tools can read the certificates and so that OpenSSL accepts them for TLS 1.3 client and server
 * authentication.
 */
import { X509Certificate, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as x509 from '@peculiar/asn1-x509';
import { p384 } from '@noble/curves/nist.js';
import { BulwarkError } from '../common/errors.ts';
import { isP384, tlsKeyScalar, tlsPublicKeyOf } from './tls-key.ts';

/** ecdsa-with-SHA384 (RFC 5758). */
export const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATION = '2.5.4.10';

export interface CertificateParams {
  readonly privateKey: KeyObject;
  readonly commonName: string;
  /** Host names or IP addresses for the subjectAltName; informative only (peers pin bytes). */
  readonly hosts: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Positive serial, at most 20 bytes (RFC 5280 §4.1.2.2). */
  readonly serial: Uint8Array;
  /** RFC 6979 signature: the same key and fields give the same certificate bytes. */
  readonly deterministic: boolean;
}

export interface PinnedCertificate {
  readonly pem: string;
  /** The DER bytes; pinning compares exactly these. */
  readonly der: Uint8Array;
  readonly publicKey: KeyObject;
}

export function createCertificate(params: CertificateParams): PinnedCertificate {
  if (!isP384(params.privateKey)) throw new BulwarkError('SETUP_INTERNAL', 'certificate keys are P-384');
  const name = new x509.Name([
    new x509.RelativeDistinguishedName([attribute(OID_ORGANIZATION, 'Bulwark')]),
    new x509.RelativeDistinguishedName([attribute(OID_COMMON_NAME, params.commonName)]),
  ]);
  const spkiDer = tlsPublicKeyOf(params.privateKey).export({ format: 'der', type: 'spki' });
  const algorithm = new x509.AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA384 });
  const tbs = new x509.TBSCertificate({
    version: x509.Version.v3,
    serialNumber: positiveSerial(params.serial),
    signature: algorithm,
    issuer: name,
    subject: name,
    validity: new x509.Validity({ notBefore: params.notBefore, notAfter: params.notAfter }),
    subjectPublicKeyInfo: AsnConvert.parse(spkiDer, x509.SubjectPublicKeyInfo),
    extensions: new x509.Extensions(extensions(params.hosts)),
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = params.deterministic
    ? p384.sign(tbsDer, tlsKeyScalar(params.privateKey), { prehash: true, format: 'der' })
    : new Uint8Array(sign('sha384', tbsDer, params.privateKey));
  const certificate = new x509.Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: algorithm,
    signatureValue: toArrayBuffer(signature),
  });
  return parseCertificatePem(derToPem(new Uint8Array(AsnConvert.serialize(certificate))));
}

/**
 * Reads one PEM certificate and checks that it can serve as a pinned node identity: a P-384 key,
 * signed with ecdsa-with-SHA384, and a valid self-signature (proof the issuer holds the key).
 * Validity dates are not checked: a pinned certificate is trusted for as long as the network file
 * lists it.
 */
export function parseCertificatePem(pem: string): PinnedCertificate {
  const der = pemToDer(pem);
  let cert: X509Certificate;
  let algorithm: string;
  try {
    cert = new X509Certificate(Buffer.from(der));
    algorithm = AsnConvert.parse(der, x509.Certificate).signatureAlgorithm.algorithm;
  } catch (cause) {
    throw new BulwarkError('CERTIFICATE_INVALID', 'not an X.509 certificate', {}, { cause });
  }
  if (!isP384(cert.publicKey)) throw new BulwarkError('CERTIFICATE_INVALID', 'certificate key is not ECDSA P-384');
  if (algorithm !== OID_ECDSA_WITH_SHA384) {
    throw new BulwarkError('CERTIFICATE_INVALID', `certificate is signed with ${algorithm}, not ecdsa-with-SHA384`, { algorithm });
  }
  if (!cert.verify(cert.publicKey)) throw new BulwarkError('CERTIFICATE_INVALID', 'certificate self-signature does not verify');
  return { pem: derToPem(der), der, publicKey: cert.publicKey };
}

export function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Exactly one CERTIFICATE block; whitespace around it is tolerated, anything else is not. */
export function pemToDer(pem: string): Uint8Array {
  const m = /^\s*-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----\s*$/.exec(pem);
  if (m === null || m[1] === undefined) {
    throw new BulwarkError('CERTIFICATE_INVALID', 'not a single PEM CERTIFICATE block');
  }
  const body = m[1].replace(/\s+/g, '');
  const der = new Uint8Array(Buffer.from(body, 'base64'));
  if (der.length === 0 || Buffer.from(der).toString('base64') !== body) {
    throw new BulwarkError('CERTIFICATE_INVALID', 'PEM body is not canonical base64');
  }
  return der;
}

export function randomSerial(): Uint8Array {
  return randomBytes(16);
}

function attribute(type: string, value: string): x509.AttributeTypeAndValue {
  return new x509.AttributeTypeAndValue({ type, value: new x509.AttributeValue({ utf8String: value }) });
}

function extensions(hosts: readonly string[]): x509.Extension[] {
  const ext = (extnID: string, critical: boolean, value: unknown): x509.Extension =>
    new x509.Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
  const usage = new x509.KeyUsage(x509.KeyUsageFlags.digitalSignature);
  const list = [
    ext(x509.id_ce_basicConstraints, true, new x509.BasicConstraints({ cA: false })),
    ext(x509.id_ce_keyUsage, true, usage),
    ext(x509.id_ce_extKeyUsage, false, new x509.ExtendedKeyUsage([x509.id_kp_serverAuth, x509.id_kp_clientAuth])),
  ];
  if (hosts.length > 0) {
    const names = hosts.map((h) => new x509.GeneralName(isIP(h) !== 0 ? { iPAddress: h } : { dNSName: h }));
    list.push(ext(x509.id_ce_subjectAltName, false, new x509.SubjectAlternativeName(names)));
  }
  return list;
}

/** DER INTEGER is signed: clear the top bit and avoid zero so the serial stays positive. */
function positiveSerial(serial: Uint8Array): ArrayBuffer {
  if (serial.length === 0 || serial.length > 20) throw new BulwarkError('SETUP_INTERNAL', 'serial must be 1..20 bytes');
  const bytes = Uint8Array.from(serial);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return toArrayBuffer(bytes);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
