/**
 * A Bloom filter over byte strings, of a size fixed when it is made: the mark set of the state
 * pruner (`execution/prune.ts`). Its memory does not grow with what is added, which is what bounds
 * the pruner's memory whatever the state's size; the price is false positives — a key never added
 * may test present — and in a mark-and-sweep a false positive only keeps a piece of garbage. It
 * never answers "absent" for a key that was added, so it never lets a live node be deleted.
 *
 * The keys it holds are mostly keccak-256 hashes, already uniform; still, each key is hashed
 * (FNV-1a, two seeds) so that any byte string spreads, and the k probes are derived from the two
 * hashes by double hashing (Kirsch and Mitzenmacher, "Less hashing, same performance", 2006).
 */
export class BloomFilter {
  readonly #bits: Uint32Array;
  readonly #size: number;
  readonly #probes: number;
  #added = 0;

  /** `bits`: the filter's size (rounded up to 32); `probes`: bits set per key. */
  constructor(bits: number, probes = 4) {
    if (!Number.isSafeInteger(bits) || bits < 64) throw new RangeError(`a bloom filter needs at least 64 bits, got ${bits}`);
    if (!Number.isInteger(probes) || probes < 1 || probes > 16) throw new RangeError(`probes must be 1..16, got ${probes}`);
    this.#bits = new Uint32Array(Math.ceil(bits / 32));
    this.#size = this.#bits.length * 32;
    this.#probes = probes;
  }

  /**
   * The size for `expected` keys at a false-positive rate of about `rate`, capped at `maxBytes`
   * (standard formula m = −n·ln p / (ln 2)²): beyond the cap the filter just keeps more garbage.
   */
  static sized(expected: number, rate: number, maxBytes: number): BloomFilter {
    const ideal = Math.ceil((-Math.max(expected, 1) * Math.log(rate)) / Math.LN2 ** 2);
    return new BloomFilter(Math.max(64, Math.min(ideal, maxBytes * 8)));
  }

  add(key: Uint8Array): void {
    const [a, b] = hashes(key);
    for (let i = 0; i < this.#probes; i++) {
      const bit = (a + Math.imul(i, b)) >>> 0;
      const at = bit % this.#size;
      this.#bits[at >>> 5]! |= 1 << (at & 31);
    }
    this.#added++;
  }

  has(key: Uint8Array): boolean {
    const [a, b] = hashes(key);
    for (let i = 0; i < this.#probes; i++) {
      const at = ((a + Math.imul(i, b)) >>> 0) % this.#size;
      if ((this.#bits[at >>> 5]! & (1 << (at & 31))) === 0) return false;
    }
    return true;
  }

  /** Keys added (with repeats). */
  get added(): number {
    return this.#added;
  }

  /** The filter's memory, in bytes. */
  get bytes(): number {
    return this.#bits.byteLength;
  }

  /** The expected false-positive rate at the keys added so far: (1 − e^(−kn/m))^k. */
  get falsePositiveRate(): number {
    return (1 - Math.exp((-this.#probes * this.#added) / this.#size)) ** this.#probes;
  }
}

function hashes(key: Uint8Array): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    a = Math.imul(a ^ key[i]!, 0x01000193);
    b = Math.imul(b ^ key[i]!, 0x5bd1e995);
  }
  // Mix the ends (murmur3's finaliser) so that keys differing in their last byte differ in every bit.
  a = fmix(a);
  b = fmix(b) | 1; // odd: the probes of one key never collapse onto one bit
  return [a >>> 0, b >>> 0];
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
