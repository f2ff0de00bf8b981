/** Key construction for the ledger's records (prefix ids come from the storage table). */
export { PREFIX } from '../storage/prefixes.ts';

export function prefixed(prefix: number, rest: Uint8Array): Uint8Array {
  const key = new Uint8Array(rest.length + 1);
  key[0] = prefix;
  key.set(rest, 1);
  return key;
}

/** Big-endian so that numeric order is byte order (range scans walk blocks in order). */
export function uint64Key(prefix: number, n: bigint): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = prefix;
  new DataView(key.buffer).setBigUint64(1, n);
  return key;
}
