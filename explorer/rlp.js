// RLP decoding (the Ethereum yellow paper, appendix B): a byte string is a Uint8Array, a list an
// Array. Used on raw block headers and on the state trie's nodes; bounds are checked, never trusted.

export function rlpDecode(bytes) {
  const [item, end] = decodeAt(bytes, 0);
  if (end !== bytes.length) throw new Error('RLP: bytes after the item');
  return item;
}

function lengthAt(b, at, size) {
  if (size > 4 || at + size > b.length) throw new Error('RLP: bad length');
  let n = 0;
  for (let i = 0; i < size; i++) n = n * 256 + b[at + i];
  return n;
}

function decodeAt(b, i) {
  const p = b[i];
  if (p === undefined) throw new Error('RLP: truncated');
  if (p < 0x80) return [b.subarray(i, i + 1), i + 1];
  let start;
  let len;
  let list;
  if (p < 0xb8) [start, len, list] = [i + 1, p - 0x80, false];
  else if (p < 0xc0) [start, len, list] = [i + 1 + (p - 0xb7), lengthAt(b, i + 1, p - 0xb7), false];
  else if (p < 0xf8) [start, len, list] = [i + 1, p - 0xc0, true];
  else [start, len, list] = [i + 1 + (p - 0xf7), lengthAt(b, i + 1, p - 0xf7), true];
  const end = start + len;
  if (end > b.length) throw new Error('RLP: truncated');
  if (!list) return [b.subarray(start, end), end];
  const items = [];
  for (let at = start; at < end; ) {
    const [item, next] = decodeAt(b.subarray(0, end), at);
    items.push(item);
    at = next;
  }
  return [items, end];
}
