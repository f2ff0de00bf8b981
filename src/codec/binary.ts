/**
 * The canonical binary layout every wire message and consensus record is written in: big-endian
 * fixed-width integers, length-prefixed byte strings and lists. One value has exactly one encoding
 * (no optional padding, no alternative integer widths), so the bytes that are signed are the bytes
 * that are sent, and a decoder that accepts a message accepts only its canonical form: trailing
 * bytes, short reads and over-limit lengths are `CODEC_*` errors, never exceptions of another kind.
 */
import { BulwarkError } from '../common/errors.ts';

export type CodecErrorCode =
  | 'CODEC_TRUNCATED'
  | 'CODEC_TRAILING_BYTES'
  | 'CODEC_LIMIT'
  | 'CODEC_BAD_VALUE'
  | 'CODEC_UNKNOWN_TYPE';

export function codecError(code: CodecErrorCode, message: string, details: Record<string, unknown> = {}) {
  return new BulwarkError(code, message, details);
}

export class Writer {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  constructor(initial = 256) {
    this.#buf = new Uint8Array(initial);
    this.#view = new DataView(this.#buf.buffer);
  }

  #reserve(extra: number): void {
    const need = this.#len + extra;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.#reserve(1);
    this.#buf[this.#len++] = v;
    return this;
  }

  u16(v: number): this {
    this.#reserve(2);
    this.#view.setUint16(this.#len, v);
    this.#len += 2;
    return this;
  }

  u32(v: number): this {
    this.#reserve(4);
    this.#view.setUint32(this.#len, v);
    this.#len += 4;
    return this;
  }

  /** A safe integer (< 2^53) as 8 bytes: sequence numbers, views, timestamps. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw codecError('CODEC_BAD_VALUE', `not a u64 in safe range: ${v}`);
    this.#reserve(8);
    this.#view.setUint32(this.#len, Math.floor(v / 2 ** 32));
    this.#view.setUint32(this.#len + 4, v >>> 0);
    this.#len += 8;
    return this;
  }

  /** Bytes of a length both sides know (hashes, signatures): no prefix. */
  fixed(b: Uint8Array, length: number): this {
    if (b.length !== length) throw codecError('CODEC_BAD_VALUE', `expected ${length} bytes, got ${b.length}`);
    return this.raw(b);
  }

  /** Length-prefixed (u32) bytes. */
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    return this.raw(b);
  }

  raw(b: Uint8Array): this {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  list<T>(items: readonly T[], write: (w: this, item: T) => void): this {
    this.u32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  /** The written bytes: a view over the writer's buffer (no copy); the writer must not be reused. */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

export class Reader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  #pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  #need(n: number, what: string): void {
    if (this.#pos + n > this.#buf.length) {
      throw codecError('CODEC_TRUNCATED', `truncated reading ${what}`, { at: this.#pos, need: n });
    }
  }

  u8(what = 'u8'): number {
    this.#need(1, what);
    return this.#buf[this.#pos++]!;
  }

  u16(what = 'u16'): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.#pos);
    this.#pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }

  u64(what = 'u64'): number {
    this.#need(8, what);
    const hi = this.#view.getUint32(this.#pos);
    const lo = this.#view.getUint32(this.#pos + 4);
    if (hi >= 2 ** 21) throw codecError('CODEC_LIMIT', `${what} beyond 2^53`, { at: this.#pos });
    this.#pos += 8;
    return hi * 2 ** 32 + lo;
  }

  fixed(length: number, what = 'bytes'): Uint8Array {
    this.#need(length, what);
    const out = this.#buf.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return out;
  }

  /** Length-prefixed bytes, refusing a declared length above `max` before reading it. */
  bytes(max: number, what = 'bytes'): Uint8Array {
    const len = this.u32(`${what} length`);
    if (len > max) throw codecError('CODEC_LIMIT', `${what} is ${len} bytes, limit ${max}`, { length: len, max });
    return this.fixed(len, what);
  }

  list<T>(max: number, read: (r: this) => T, what = 'list'): T[] {
    const count = this.u32(`${what} count`);
    if (count > max) throw codecError('CODEC_LIMIT', `${what} has ${count} entries, limit ${max}`, { count, max });
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(read(this));
    return out;
  }

  bool(what = 'bool'): boolean {
    const v = this.u8(what);
    if (v > 1) throw codecError('CODEC_BAD_VALUE', `${what} must be 0 or 1`, { value: v });
    return v === 1;
  }

  /** Whether every byte was read (for a trailing part older encodings lack). */
  get done(): boolean {
    return this.#pos === this.#buf.length;
  }

  end(): void {
    if (this.#pos !== this.#buf.length) {
      throw codecError('CODEC_TRAILING_BYTES', `${this.#buf.length - this.#pos} bytes after the message`, {
        at: this.#pos,
      });
    }
  }
}
