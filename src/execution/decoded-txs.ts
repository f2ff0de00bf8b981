/**
 * Transactions this process has already decoded and checked, waiting for the block that orders them.
 *
 * A client node admits a transaction to its pool with `decodeAndCheck` (decoding, the stateless
 * checks and the sender's recovery, ~60 µs of native secp256k1), then executes the certified block
 * that carries it again in its local state. Without this the second pass repeated all of it: CPU
 * profiles under load put the executor's decoding at ~9 % of the client node's time. The pool
 * remembers each transaction it admits; the executor takes it back by the hash of the bytes it is
 * given, and decodes only what it does not find.
 *
 * Taking is exact: the entry's bytes must equal the block's (not only their hash), its Common must
 * follow the executor's hardfork and chain, and the checks that depend on the block (its gas limit)
 * are made again by the executor. An entry is used once; the oldest go first beyond `capacity`.
 */
import type { Common } from '@ethereumjs/common';
import type { TypedTransaction } from '@ethereumjs/tx';
import { equalBytes, toHex } from '../common/bytes.ts';
import { keccak256 } from '../crypto/hash.ts';

interface Entry {
  readonly raw: Uint8Array;
  readonly tx: TypedTransaction;
}

export class DecodedTxs {
  readonly #entries = new Map<string, Entry>();
  readonly #capacity: number;
  /** Transactions found here by the executor, and those it had to decode itself. */
  hits = 0;
  misses = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** `hash` is the transaction's hash as `0x…` hex (Keccak-256 of `raw`). */
  remember(hash: string, raw: Uint8Array, tx: TypedTransaction): void {
    this.#entries.delete(hash);
    this.#entries.set(hash, { raw, tx });
    while (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /** The transaction decoded from exactly `raw` under `common`'s rules, removed from here; else undefined. */
  take(raw: Uint8Array, common: Common): TypedTransaction | undefined {
    if (this.#entries.size === 0) {
      this.misses++;
      return undefined;
    }
    const hash = toHex(keccak256(raw));
    const entry = this.#entries.get(hash);
    if (entry === undefined || !equalBytes(entry.raw, raw) || !sameRules(entry.tx.common, common)) {
      this.misses++;
      return undefined;
    }
    this.#entries.delete(hash);
    this.hits++;
    return entry.tx;
  }
}

function sameRules(a: Common, b: Common): boolean {
  return a === b || (a.chainId() === b.chainId() && a.hardfork() === b.hardfork());
}
