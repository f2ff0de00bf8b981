// Bytes, hex and number formatting shared by the explorer's modules.

/** 0x-hex (or bare hex) to bytes; throws on anything else. */
export function hexToBytes(hex) {
  const s = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error(`not hex: ${hex.slice(0, 20)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  let s = '0x';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function u8(v) {
  return Uint8Array.of(v);
}

export function u32be(v) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v);
  return out;
}

export function u64be(v) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(v));
  return out;
}

/** Big-endian bytes (RLP's integers) to a bigint. */
export function bytesToBigInt(bytes) {
  return bytes.length === 0 ? 0n : BigInt(bytesToHex(bytes));
}

/** A JSON-RPC quantity to a number (block numbers, counts) or bigint (wei). */
export const num = (q) => Number(BigInt(q));
export const big = (q) => BigInt(q);

/** Wei as ether, with up to 6 decimals. */
export function ether(wei) {
  const w = BigInt(wei);
  const whole = w / 10n ** 18n;
  const frac = (w % 10n ** 18n).toString().padStart(18, '0').slice(0, 6).replace(/0+$/, '');
  return `${whole.toLocaleString('en-US')}${frac === '' ? '' : `.${frac}`} ETH`;
}

export function short(hex, n = 10) {
  return hex.length <= 2 * n + 2 ? hex : `${hex.slice(0, n + 2)}…${hex.slice(-n + 2)}`;
}

export function ago(seconds) {
  const d = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  if (d < 60) return `${d} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  return `${Math.floor(d / 3600)} h ago`;
}
