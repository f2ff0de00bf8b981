/** Unsigned lexicographic order, the order RocksDB's default comparator uses. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * The smallest key greater than every key that starts with `prefix`, or undefined when none exists
 * (the prefix is empty or all 0xff). Trailing 0xff bytes cannot be incremented, so they are dropped
 * and the byte before them is incremented: [0x01, 0xff] → [0x02].
 */
export function prefixUpperBound(prefix: Uint8Array): Uint8Array | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const bound = prefix.slice(0, end);
  bound[end - 1] = (bound[end - 1] ?? 0) + 1;
  return bound;
}

export function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}
