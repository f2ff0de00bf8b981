/**
 * Parameter validation at the boundary: each JSON-RPC parameter kind as a parser from JSON to a
 * typed value, failing with go-ethereum's wording (`invalid argument N: …`, code -32602). After
 * this, handlers never see an unchecked value.
 */
import { invalidParams } from './errors.ts';

export type Param<T> = (value: unknown, index: number) => T;

const HEX = /^0x[0-9a-fA-F]*$/;

/** A quantity: 0x-prefixed hex, no leading zeros ("0x0" for zero), at most 256 bits. */
export const quantity: Param<bigint> = (v, i) => {
  if (typeof v !== 'string') throw invalidParams(i, 'json: cannot unmarshal non-string into Go value of type *hexutil.Big');
  if (!v.startsWith('0x')) throw invalidParams(i, 'hex string without 0x prefix');
  if (v === '0x') throw invalidParams(i, 'hex string "0x"');
  if (!HEX.test(v)) throw invalidParams(i, 'invalid hex string');
  if (v.length > 3 && v[2] === '0') throw invalidParams(i, 'hex number with leading zero digits');
  if (v.length > 66) throw invalidParams(i, 'hex number > 256 bits');
  return BigInt(v);
};

/** Arbitrary bytes: 0x-prefixed hex of even length. */
export function data(maxBytes = 1 << 20): Param<Uint8Array> {
  return (v, i) => {
    if (typeof v !== 'string') throw invalidParams(i, 'json: cannot unmarshal non-string into Go value of type hexutil.Bytes');
    if (!v.startsWith('0x')) throw invalidParams(i, 'hex string without 0x prefix');
    if (!HEX.test(v)) throw invalidParams(i, 'invalid hex string');
    if (v.length % 2 !== 0) throw invalidParams(i, 'hex string of odd length');
    if ((v.length - 2) / 2 > maxBytes) throw invalidParams(i, `data longer than ${maxBytes} bytes`);
    return new Uint8Array(Buffer.from(v.slice(2), 'hex'));
  };
}

/**
 * A fixed-size value (`common.Address`, `common.Hash`) as go-ethereum's `hexutil.UnmarshalFixedJSON`
 * reads it, checks in its order and with its wording: prefix (0x or 0X), odd length, then the
 * length, then the digits.
 */
function fixedHex(length: number, goType: string): Param<string> {
  return (v, i) => {
    const wrapped = (why: string) => invalidParams(i, `json: cannot unmarshal ${why} into Go value of type ${goType}`);
    if (typeof v !== 'string') throw wrapped('non-string');
    const digits = v === '' ? '' : /^0[xX]/.test(v) ? v.slice(2) : null;
    if (digits === null) throw wrapped('hex string without 0x prefix');
    if (digits.length % 2 !== 0) throw wrapped('hex string of odd length');
    if (digits.length !== 2 * length) throw invalidParams(i, `hex string has length ${digits.length}, want ${2 * length} for ${goType}`);
    if (!/^[0-9a-fA-F]*$/.test(digits)) throw wrapped('invalid hex string');
    return `0x${digits.toLowerCase()}`;
  };
}

export const address = fixedHex(20, 'common.Address');
export const hash32 = fixedHex(32, 'common.Hash');

export type BlockTag = 'latest' | 'earliest' | 'pending' | 'safe' | 'finalized';
export type BlockRef = { readonly tag: BlockTag } | { readonly number: bigint } | { readonly hash: string; readonly requireCanonical: boolean };

const TAGS = new Set<string>(['latest', 'earliest', 'pending', 'safe', 'finalized']);

/**
 * A block number: a quantity of at most 63 bits, as go-ethereum's `hexutil.DecodeUint64` reads it
 * (its other refusals — prefix, leading zeros, digits — have the same wording as a quantity's).
 */
const blockNumber: Param<bigint> = (v, i) => {
  if (typeof v === 'string' && HEX.test(v) && v.length > 18 && v[2] !== '0') throw invalidParams(i, 'hex number > 64 bits');
  const n = quantity(v, i);
  // go-ethereum's rpc.BlockNumber (eth_getBlockByNumber) words it so; its BlockNumberOrHash (state
  // queries) says "blocknumber too high": one wording here for both.
  if (n > 0x7fff_ffff_ffff_ffffn) throw invalidParams(i, 'block number larger than int64');
  return n;
};

/** go-ethereum's `rpc.BlockNumber`: a tag or a block number (no hash, no EIP-1898 object). */
export const blockNumberOrTag: Param<{ readonly tag: BlockTag } | { readonly number: bigint }> = (v, i) => {
  if (typeof v !== 'string') throw invalidParams(i, 'invalid block number or tag');
  return TAGS.has(v) ? { tag: v as BlockTag } : { number: blockNumber(v, i) };
};

/**
 * A block number, a tag, a block hash, or an EIP-1898 object ({blockNumber} or {blockHash,
 * requireCanonical}). As go-ethereum's `BlockNumberOrHash` reads a string: 66 characters (0x and
 * 32 bytes) is a hash, anything else a number or a tag.
 */
export const blockRef: Param<BlockRef> = (v, i) => {
  if (typeof v === 'string') return v.length === 66 ? { hash: hash32(v, i), requireCanonical: false } : blockNumberOrTag(v, i);
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if ('blockHash' in o && 'blockNumber' in o) throw invalidParams(i, 'cannot specify both BlockHash and BlockNumber, choose one or the other');
    if ('blockHash' in o) {
      const rc = o.requireCanonical;
      if (rc !== undefined && typeof rc !== 'boolean') throw invalidParams(i, 'requireCanonical must be a boolean');
      return { hash: hash32(o.blockHash, i), requireCanonical: rc === true };
    }
    if ('blockNumber' in o) return blockRef(o.blockNumber, i);
  }
  throw invalidParams(i, 'invalid block number or tag');
};

/**
 * A storage slot as go-ethereum's `decodeHash` reads it (eth_getStorageAt, eth_getProof,
 * eth_getStorageValues): 0x and up to 32 bytes of hex, leading zeros allowed (a 32-byte slot is
 * usually given zero-padded), an odd digit count read as if led by a zero; left-padded to 32 bytes.
 */
export const storageKey: Param<Uint8Array> = (v, i) => {
  if (typeof v !== 'string') throw invalidParams(i, 'json: cannot unmarshal non-string into Go value of type string');
  const digits = /^0[xX]/.test(v) ? v.slice(2) : v;
  if (!/^[0-9a-fA-F]*$/.test(digits)) throw invalidParams(i, 'unable to decode storage key: hex string invalid');
  if (digits.length > 64) throw invalidParams(i, 'unable to decode storage key: hex string too long, want at most 32 bytes');
  return new Uint8Array(Buffer.from(digits.padStart(64, '0'), 'hex'));
};

export const bool: Param<boolean> = (v, i) => {
  if (typeof v !== 'boolean') throw invalidParams(i, `json: cannot unmarshal ${jsonType(v)} into Go value of type bool`);
  return v;
};

/** The JSON type of a value as Go's encoding/json names it in its errors. */
function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  return v === null ? 'null' : typeof v === 'object' ? 'object' : typeof v;
}
