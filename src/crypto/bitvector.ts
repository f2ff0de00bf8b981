/**
 * The set of replicas behind an aggregate signature: a fixed-length bit set over the n replicas of
 * the current configuration. Bit i (replica i) is bit (i mod 8), least significant first, of byte
 * floor(i / 8), as in SSZ's Bitvector.
 *
 * The encoding is canonical (exactly ceil(n / 8) bytes, padding bits zero) because certificates are
 * signed and hashed as bytes: two encodings of one signer set would give two digests for one fact.
 * Instances are immutable; `with` returns a new vector.
 */
import { BulwarkError } from '../common/errors.ts';

/** Far above any configuration we run; bounds the allocation a hostile length field can cause. */
export const MAX_SIGNERS = 1 << 16;

export class SignerBitVector {
  readonly size: number;
  readonly #bits: Uint8Array;

  private constructor(size: number, bits: Uint8Array) {
    this.size = size;
    this.#bits = bits;
  }

  static empty(size: number): SignerBitVector {
    checkSize(size);
    return new SignerBitVector(size, new Uint8Array(byteLength(size)));
  }

  static fromIndices(size: number, indices: Iterable<number>): SignerBitVector {
    checkSize(size);
    const bits = new Uint8Array(byteLength(size));
    for (const i of indices) {
      checkIndex(size, i);
      bits[i >> 3]! |= 1 << (i & 7);
    }
    return new SignerBitVector(size, bits);
  }

  /** `size` comes from the configuration, never from the message carrying the bytes. */
  static decode(size: number, bytes: Uint8Array): SignerBitVector {
    checkSize(size);
    if (bytes.length !== byteLength(size)) {
      throw new BulwarkError('BITVECTOR_BAD_LENGTH', `expected ${byteLength(size)} bytes for ${size} signers`, {
        size,
        length: bytes.length,
      });
    }
    const padding = size % 8 === 0 ? 0 : bytes[bytes.length - 1]! >> (size % 8);
    if (padding !== 0) {
      throw new BulwarkError('BITVECTOR_NONZERO_PADDING', 'bits beyond the last signer must be zero', { size });
    }
    return new SignerBitVector(size, bytes.slice());
  }

  encode(): Uint8Array {
    return this.#bits.slice();
  }

  has(i: number): boolean {
    checkIndex(this.size, i);
    return (this.#bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }

  with(i: number): SignerBitVector {
    checkIndex(this.size, i);
    const bits = this.#bits.slice();
    bits[i >> 3]! |= 1 << (i & 7);
    return new SignerBitVector(this.size, bits);
  }

  count(): number {
    let n = 0;
    for (const byte of this.#bits) n += popcount8(byte);
    return n;
  }

  /** Set indices in increasing order. */
  *indices(): IterableIterator<number> {
    for (let i = 0; i < this.size; i++) {
      if ((this.#bits[i >> 3]! & (1 << (i & 7))) !== 0) yield i;
    }
  }

  equals(other: SignerBitVector): boolean {
    return this.size === other.size && Buffer.compare(this.#bits, other.#bits) === 0;
  }
}

function byteLength(size: number): number {
  return Math.ceil(size / 8);
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_SIGNERS) {
    throw new BulwarkError('BITVECTOR_INVALID_SIZE', `signer count must be an integer in 1..${MAX_SIGNERS}`, { size });
  }
}

function checkIndex(size: number, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= size) {
    throw new BulwarkError('BITVECTOR_INDEX_OUT_OF_RANGE', `signer index ${i} outside 0..${size - 1}`, { size, index: i });
  }
}

function popcount8(byte: number): number {
  let n = 0;
  for (let b = byte; b !== 0; b &= b - 1) n++;
  return n;
}
