/** A minimal ABI encoder for static arguments (uint256, address, bytes32), enough for fixtures. */
import { keccak256 } from '../../src/crypto/hash.ts';
import contracts from '../fixtures/contracts.json' with { type: 'json' };

export type Word = bigint | string | Uint8Array;

function word(v: Word): Uint8Array {
  const out = new Uint8Array(32);
  if (typeof v === 'bigint') {
    out.set(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));
  } else {
    const bytes = typeof v === 'string' ? Buffer.from(v.replace(/^0x/, ''), 'hex') : v;
    if (bytes.length > 32) throw new Error('ABI word longer than 32 bytes');
    // Addresses right-align like integers; bytes32 values are exactly 32 bytes.
    out.set(bytes, 32 - bytes.length);
  }
  return out;
}

export function selector(signature: string): Uint8Array {
  return keccak256(new TextEncoder().encode(signature)).slice(0, 4);
}

export function encodeCall(signature: string, ...args: Word[]): Uint8Array {
  return Buffer.concat([selector(signature), ...args.map(word)]);
}

export function bytecode(name: keyof typeof contracts.contracts, ...ctorArgs: Word[]): Uint8Array {
  const code = Buffer.from(contracts.contracts[name].bytecode.slice(2), 'hex');
  return Buffer.concat([code, ...ctorArgs.map(word)]);
}

export function eventTopic(signature: string): Uint8Array {
  return keccak256(new TextEncoder().encode(signature));
}
