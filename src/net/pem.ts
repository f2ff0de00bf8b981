/** PEM to DER for the one certificate a node presents, so it can be compared with its pin. */
export function pemToDerOrNull(pem: string): Uint8Array | null {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (m === null || m[1] === undefined) return null;
  return new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}
