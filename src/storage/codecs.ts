import { storageError } from './errors.ts';

/**
 * Codecs turn typed keys and values into bytes. A key codec must preserve order (if a < b then
 * encode(a) < encode(b) bytewise) for range queries over it to mean anything; the value codecs
 * here have no such duty.
 */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** Raw bytes, passed through; stores copy on write, so no copy is made here. */
export const bytesCodec: Codec<Uint8Array> = {
  encode: (value) => value,
  decode: (bytes) => bytes,
};

/** Fixed-length bytes (e.g. 32-byte hashes): a wrong length is a bug or corruption, so it throws. */
export function fixedBytesCodec(length: number): Codec<Uint8Array> {
  const check = (b: Uint8Array, what: string) => {
    if (b.length !== length) throw codecError(`${what} is ${b.length} bytes, expected ${length}`);
    return b;
  };
  return { encode: (v) => check(v, 'value to encode'), decode: (b) => check(b, 'stored value') };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text. Byte order equals code-point order, so it is also an order-preserving key codec. */
export const utf8Codec: Codec<string> = {
  encode: (value) => encoder.encode(value),
  decode: (bytes) => {
    try {
      return decoder.decode(bytes);
    } catch (err) {
      throw codecError('stored bytes are not valid UTF-8', err);
    }
  },
};

const UINT64_MAX = (1n << 64n) - 1n;

/** Unsigned 64-bit big-endian, so numeric order is byte order (block numbers, sequence numbers). */
export const uint64Codec: Codec<bigint> = {
  encode: (value) => {
    if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) throw codecError(`${value} is not a uint64`);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, value, false);
    return out;
  },
  decode: (bytes) => {
    if (bytes.length !== 8) throw codecError(`a uint64 takes 8 bytes, got ${bytes.length}`);
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, false);
  },
};

/** JSON as UTF-8, for small records (config, head pointers). Not canonical: never hash or sign it. */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode: (value) => {
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch (err) {
        throw codecError('value cannot be encoded as JSON (a bigint or a cycle?)', err);
      }
      // JSON.stringify(undefined) is undefined: storing that would read back as garbage.
      if (text === undefined) throw codecError('value has no JSON form');
      return encoder.encode(text);
    },
    decode: (bytes) => {
      try {
        return JSON.parse(utf8Codec.decode(bytes)) as T;
      } catch (err) {
        throw codecError('stored bytes are not valid JSON', err);
      }
    },
  };
}

function codecError(message: string, cause?: unknown) {
  return storageError('STORAGE_CODEC', message, {}, cause);
}
