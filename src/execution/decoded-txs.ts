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
 * are made again by the executor. An entry is used once; beyond `capacity` the oldest go first
 * (`RecentMap`: a whole older generation at a time).
 */
import type { Common } from '@ethereumjs/common';
import type { TypedTransaction } from '@ethereumjs/tx';
import { equalBytes, toHex } from '../common/bytes.ts';
import { RecentMap } from '../common/recent-map.ts';
import { keccak256 } from '../crypto/hash.ts';

interface Entry {
  readonly raw: Uint8Array;
  readonly tx: TypedTransaction;
}

export class DecodedTxs {
  readonly #entries: RecentMap<string, Entry>;
  /** Transactions found here by the executor, and those it had to decode itself. */
  hits = 0;
  misses = 0;

  constructor(capacity: number) {
    this.#entries = new RecentMap(capacity);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** `hash` is the transaction's hash as `0x…` hex (Keccak-256 of `raw`). */
  remember(hash: string, raw: Uint8Array, tx: TypedTransaction): void {
    this.#entries.set(hash, { raw, tx });
  }

  /** The transaction decoded from exactly `raw` under `common`'s rules, removed from here; else undefined. */
  take(raw: Uint8Array, common: Common): TypedTransaction | undefined {
    if (this.#entries.size === 0) {
      this.misses++;
      return undefined;
    }
    const entry = this.#entries.take(toHex(keccak256(raw)));
    if (entry === undefined || !equalBytes(entry.raw, raw) || !sameRules(entry.tx.common, common)) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry.tx;
  }
}

function sameRules(a: Common, b: Common): boolean {
  return a === b || (a.chainId() === b.chainId() && a.hardfork() === b.hardfork());
}
