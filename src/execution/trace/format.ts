/**
 * How the tracers write numbers and bytes: quantities, 32-byte words, memory, addresses from stack
 * words, in go-ethereum's and the execution-apis specification's JSON forms. Shared by the struct
 * logger, the callTracer and revert decoding.
 */
import { bigIntToBytes, setLengthLeft } from '@ethereumjs/util';

/** No bytes (a frame's return data before any sub-call returned; a SELFDESTRUCT frame's input). */
export const EMPTY = new Uint8Array(0);

/** A 0x-quantity: minimal hex, "0x0" for zero (go-ethereum's uint256 `Hex()` and hexutil). */
export function quantity(v: bigint): string {
  return `0x${v.toString(16)}`;
}

export function word32(v: bigint): Uint8Array {
  return setLengthLeft(bigIntToBytes(v), 32);
}

/**
 * Memory words and storage keys and values as the execution-apis specification has them
 * (`StructLog`: 0x-prefixed 32-byte words). go-ethereum's legacy logger prints them without 0x;
 * the specification, which tools are written against, is explicit, so this follows it.
 */
export function word(b: Uint8Array): string {
  return `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`;
}

export function words(memory: Uint8Array): string[] {
  const hex = Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength).toString('hex');
  const out: string[] = [];
  for (let i = 0; i + 64 <= hex.length; i += 64) out.push(`0x${hex.slice(i, i + 64)}`);
  return out;
}

/** An address from a stack word (its low 20 bytes, as the EVM reads it). */
export function addressHex(v: bigint): string {
  return `0x${(v & ((1n << 160n) - 1n)).toString(16).padStart(40, '0')}`;
}
