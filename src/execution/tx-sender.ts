/**
 * A transaction's sender, derived once per transaction object and with the native Keccak.
 *
 * ethereumjs' `getSenderAddress()` caches the recovered public key but not the address: every call
 * hashes the key again with `@noble/hashes`' Keccak (a pure-JS permutation), whatever Keccak the
 * transaction's Common carries. The executor asks three times per transaction (the prefetch, the
 * state checks, `runTx`) and the pool more, so that hashing was ~3 % of every node's CPU time under
 * load (CPU profiles, bench/RESULTS.md). Here each transaction class answers from its own `cache`
 * object, the same place ethereumjs keeps the public key and the hash, and on the same condition:
 * only a frozen transaction (the default) caches, since an unfrozen one may still change. The
 * address is the last 20 bytes of Keccak-256 of the 64-byte key, exactly as `publicToAddress`
 * computes it.
 */
import { AccessList2930Tx, Blob4844Tx, EOACode7702Tx, FeeMarket1559Tx, LegacyTx } from '@ethereumjs/tx';
import { Address } from '@ethereumjs/util';
import { keccak256 } from '../crypto/hash.ts';

interface SenderCache {
  senderAddress?: Address;
}

interface SenderCapable {
  readonly cache: SenderCache;
  getSenderPublicKey(): Uint8Array;
  getSenderAddress(): Address;
}

function addressOf(publicKey: Uint8Array): Address {
  return new Address(keccak256(publicKey).slice(12));
}

function memoisedSender(this: SenderCapable): Address {
  if (!Object.isFrozen(this)) return addressOf(this.getSenderPublicKey());
  return (this.cache.senderAddress ??= addressOf(this.getSenderPublicKey()));
}

for (const cls of [LegacyTx, AccessList2930Tx, FeeMarket1559Tx, Blob4844Tx, EOACode7702Tx]) {
  (cls.prototype as unknown as SenderCapable).getSenderAddress = memoisedSender;
}

/** Imported for its effect; this export lets a test check that the effect is in place. */
export const SENDER_MEMO = memoisedSender;
