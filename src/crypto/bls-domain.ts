/**
 * Domain separation for BLS signatures. blst's hash-to-curve DST is fixed (the Ethereum
 * `..._POP_` suite), so each use of a key signs `len(tag) || tag || message` instead. The one-byte
 * length makes the framing prefix-free: the first byte fixes how much of the input is the tag, so
 * `frame(A, m1) === frame(B, m2)` forces `A === B` and `m1 === m2`, and a signature made for one
 * domain can never verify in another, whatever the messages.
 */
import { BulwarkError } from '../common/errors.ts';

const registered = new Set<string>();

export class BlsDomain {
  readonly tag: string;
  readonly #prefix: Uint8Array;

  private constructor(tag: string) {
    this.tag = tag;
    const body = Buffer.from(tag, 'ascii');
    this.#prefix = Uint8Array.of(body.length, ...body);
  }

  /** Tags are printable ASCII, 1..255 bytes, and unique in the process (two uses, two tags). */
  static define(tag: string): BlsDomain {
    if (!/^[\x21-\x7e]{1,255}$/.test(tag)) {
      throw new BulwarkError('BLS_INVALID_DOMAIN', 'domain tag must be 1..255 printable ASCII characters', { tag });
    }
    if (registered.has(tag)) {
      throw new BulwarkError('BLS_DUPLICATE_DOMAIN', `domain tag ${tag} is already defined`, { tag });
    }
    registered.add(tag);
    return new BlsDomain(tag);
  }

  /** The bytes actually signed for `message` in this domain. */
  frame(message: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.#prefix.length + message.length);
    out.set(this.#prefix, 0);
    out.set(message, this.#prefix.length);
    return out;
  }
}

/** SBFT shares and certificates: (view, seq, digest) on the fast and slow paths. */
export const DOMAIN_CONSENSUS = BlsDomain.define('BULWARK-V1/CONSENSUS');
/** A replica's signature over an execution outcome (block hash) in its replies. */
export const DOMAIN_EXECUTION = BlsDomain.define('BULWARK-V1/EXECUTION');
/** Checkpoint messages: {seq, block number, block hash, state root, reserved-pages digest}. */
export const DOMAIN_CHECKPOINT = BlsDomain.define('BULWARK-V1/CHECKPOINT');
/** Proofs of possession: a key signing its own public key. Nothing else may use it. */
export const DOMAIN_POP = BlsDomain.define('BULWARK-V1/POP');
