/**
 * Strict hex codec for key material. Key files and test vectors are the only text forms of keys, so
 * one strict reader (even length, hex digits only, optional 0x) keeps a typo from becoming a
 * silently shorter key.
 */
import { BulwarkError } from '../common/errors.ts';

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function hexToBytes(hex: string): Uint8Array {
  const body = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body)) {
    throw new BulwarkError('HEX_INVALID', 'not an even-length hex string', { length: hex.length });
  }
  return new Uint8Array(Buffer.from(body, 'hex'));
}
