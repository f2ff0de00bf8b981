/**
 * A block's state changes: what its execution wrote to the state tries, as the tries' own keys and
 * values. A replica records them while it executes a block and sends them with the block; a client
 * node applies them to its local state instead of executing the block again (EVM, signature checks
 * and all), and keeps them only if they lead exactly to the state root of the certified header.
 *
 * Nothing here is trusted: the changes come from one replica and are not signed. Applying them
 * hashes every trie node they touch (`bulk-trie.ts`), so what is stored is whatever the tries
 * authenticate; the checks make sure that this is the certified state:
 *  - each contract's new storage root, computed here from its slot changes, must be the one its new
 *    account record holds, and that record is a leaf of the account trie; an account record given
 *    without slot changes must keep its parent's storage root (or the empty one);
 *  - the account trie's new root must be the header's state root (certified by f + 1 replicas);
 *  - every code an updated account names must be stored here or come with the changes (each code is
 *    stored under the hash of its bytes, computed here).
 * Any mismatch refuses the changes (`STATE_CHANGES_REFUSED`) and the caller executes the block.
 *
 * Encoding (RLP): `[version, [code…], [[keccak(address), baseStorageRoot, [[keccak(slot), value]…]]…],
 * [[keccak(address), accountRlp]…]]`; an empty value deletes the key. The storage changes of a
 * contract apply to `baseStorageRoot`: the root its execution started from (the parent's, or the
 * empty root after its storage was cleared).
 */
import { RLP } from '@ethereumjs/rlp';
import { KECCAK256_NULL, KECCAK256_RLP, bytesToUnprefixedHex, concatBytes, unprefixedHexToBytes, utf8ToBytes } from '@ethereumjs/util';
import { equalBytes } from '../common/bytes.ts';
import { BulwarkError } from '../common/errors.ts';
import { keccak256 } from '../crypto/hash.ts';
import { bytesToNibbles, lookupTrie, updateTrie, type NodeIo, type TrieOp } from './bulk-trie.ts';

const VERSION = 1;
const EMPTY = new Uint8Array(0);
/** ethereumjs keys contract code by this prefix and the code hash (`prefixCodeHashes`). */
export const CODE_KEY_PREFIX = utf8ToBytes('c');

/** The key under which code with hash `codeHash` is stored in the state's node store (hex, as the store takes it). */
export function codeKey(codeHash: Uint8Array): string {
  return bytesToUnprefixedHex(concatBytes(CODE_KEY_PREFIX, codeHash));
}

interface StorageChanges {
  readonly base: Uint8Array;
  /** keccak(slot) hex → RLP value, or undefined for a deleted slot. */
  readonly slots: Map<string, Uint8Array | undefined>;
}

/**
 * Collects one block's writes as the state manager flushes them (it may flush more than once a
 * block: the last value of each key wins, and a contract's storage keeps the root it started from).
 */
export class StateChangeRecorder {
  #codes = new Map<string, Uint8Array>();
  #storage = new Map<string, StorageChanges>();
  #accounts = new Map<string, Uint8Array | undefined>();

  code(code: Uint8Array): void {
    this.#codes.set(bytesToUnprefixedHex(keccak256(code)), code);
  }

  /** Slot writes of the account whose trie key is `hashedAddress`, applied to its storage root `base`. */
  storage(hashedAddress: Uint8Array, base: Uint8Array, slots: readonly { readonly hashedSlot: Uint8Array; readonly value: Uint8Array | undefined }[]): void {
    const id = bytesToUnprefixedHex(hashedAddress);
    let entry = this.#storage.get(id);
    if (entry === undefined) {
      entry = { base, slots: new Map() };
      this.#storage.set(id, entry);
    }
    for (const s of slots) entry.slots.set(bytesToUnprefixedHex(s.hashedSlot), s.value);
  }

  account(hashedAddress: Uint8Array, rlp: Uint8Array | undefined): void {
    this.#accounts.set(bytesToUnprefixedHex(hashedAddress), rlp);
  }

  /** Forgets what was recorded (a new block starts, or the last one was rolled back). */
  reset(): void {
    this.#codes = new Map();
    this.#storage = new Map();
    this.#accounts = new Map();
  }

  /** The block's changes, encoded. */
  encode(): Uint8Array {
    const hex = (h: string) => unprefixedHexToBytes(h);
    return RLP.encode([
      VERSION,
      [...this.#codes.values()],
      [...this.#storage].map(([a, s]) => [hex(a), s.base, [...s.slots].map(([k, v]) => [hex(k), v ?? EMPTY])]),
      [...this.#accounts].map(([a, v]) => [hex(a), v ?? EMPTY]),
    ]);
  }
}

export interface StateChanges {
  readonly codes: readonly Uint8Array[];
  readonly storage: readonly { readonly hashedAddress: Uint8Array; readonly base: Uint8Array; readonly slots: readonly { readonly hashedSlot: Uint8Array; readonly value: Uint8Array }[] }[];
  readonly accounts: readonly { readonly hashedAddress: Uint8Array; readonly rlp: Uint8Array }[];
}

function refuse(message: string, cause?: unknown): never {
  throw new BulwarkError('STATE_CHANGES_REFUSED', message, {}, cause === undefined ? undefined : { cause });
}

function bytesAt(item: unknown, what: string, length?: number): Uint8Array {
  if (!(item instanceof Uint8Array) || (length !== undefined && item.length !== length)) refuse(`${what} is not ${length ?? 'a byte string'}${length === undefined ? '' : ' bytes'}`);
  return item;
}

function listAt(item: unknown, what: string): unknown[] {
  if (!Array.isArray(item)) refuse(`${what} is not a list`);
  return item;
}

export function decodeStateChanges(bytes: Uint8Array): StateChanges {
  let top: unknown;
  try {
    top = RLP.decode(bytes);
  } catch (cause) {
    refuse('state changes are not RLP', cause);
  }
  const [version, codes, storage, accounts] = listAt(top, 'state changes');
  const v = bytesAt(version, 'the version');
  if (v.length !== 1 || v[0] !== VERSION) refuse(`state changes of an unknown version`);
  return {
    codes: listAt(codes, 'codes').map((c) => bytesAt(c, 'a code')),
    storage: listAt(storage, 'storage changes').map((entry) => {
      const [a, base, slots] = listAt(entry, 'a contract\'s storage changes');
      return {
        hashedAddress: bytesAt(a, 'an account key', 32),
        base: bytesAt(base, 'a base storage root', 32),
        slots: listAt(slots, 'slot changes').map((s) => {
          const [k, value] = listAt(s, 'a slot change');
          return { hashedSlot: bytesAt(k, 'a slot key', 32), value: bytesAt(value, 'a slot value') };
        }),
      };
    }),
    accounts: listAt(accounts, 'account changes').map((entry) => {
      const [a, rlp] = listAt(entry, 'an account change');
      return { hashedAddress: bytesAt(a, 'an account key', 32), rlp: bytesAt(rlp, 'an account record') };
    }),
  };
}

/** The storage root and code hash an account record (RLP `[nonce, balance, storageRoot, codeHash]`) holds. */
function accountRoots(rlp: Uint8Array): { storageRoot: Uint8Array; codeHash: Uint8Array } {
  let fields: unknown;
  try {
    fields = RLP.decode(rlp);
  } catch (cause) {
    refuse('an account record is not RLP', cause);
  }
  const f = listAt(fields, 'an account record');
  if (f.length !== 4) refuse(`an account record has ${f.length} fields`);
  return { storageRoot: bytesAt(f[2], 'a storage root', 32), codeHash: bytesAt(f[3], 'a code hash', 32) };
}

export interface ChangesTarget {
  /** The state's trie nodes (and codes, under `codeKey`), written to the block's pending batch. */
  readonly io: NodeIo;
  /** Whether code with this hash is stored already. */
  hasCode(codeHash: Uint8Array): Promise<boolean>;
  /** Stores `code` under `codeKey(keccak(code))`. */
  putCode(codeHash: Uint8Array, code: Uint8Array): void;
}

/**
 * Applies `changes` to the state with root `parentRoot` and returns the new root, which is
 * `expectedRoot` or the changes are refused (`STATE_CHANGES_REFUSED`; a node they need that is
 * not stored here throws `TRIE_MISSING_NODE`). The nodes written meanwhile are the caller's to keep
 * or discard.
 */
export async function applyStateChanges(target: ChangesTarget, parentRoot: Uint8Array, changes: StateChanges, expectedRoot: Uint8Array): Promise<void> {
  const codes = new Set<string>();
  for (const code of changes.codes) {
    const hash = keccak256(code);
    codes.add(bytesToUnprefixedHex(hash));
    target.putCode(hash, code);
  }
  const storageRoots = new Map<string, Uint8Array>();
  for (const s of changes.storage) {
    const id = bytesToUnprefixedHex(s.hashedAddress);
    if (storageRoots.has(id)) refuse('one contract\'s storage changes appear twice');
    const ops = uniqueOps(s.slots.map((slot) => ({ key: slot.hashedSlot, value: slot.value })), 'a slot');
    storageRoots.set(id, await updateTrie(target.io, s.base, KECCAK256_RLP, ops));
  }
  for (const a of changes.accounts) {
    const id = bytesToUnprefixedHex(a.hashedAddress);
    const computed = storageRoots.get(id);
    if (a.rlp.length === 0) {
      if (computed !== undefined) refuse('storage changes for an account that is deleted');
      continue;
    }
    const { storageRoot, codeHash } = accountRoots(a.rlp);
    if (computed !== undefined) {
      if (!equalBytes(computed, storageRoot)) refuse(`the storage changes of account key 0x${id} do not lead to its storage root`);
    } else if (!equalBytes(storageRoot, KECCAK256_RLP)) {
      // No storage changes given: the storage must be the parent's, whose nodes are stored here.
      const before = await lookupTrie(target.io, parentRoot, KECCAK256_RLP, bytesToNibbles(a.hashedAddress));
      if (before === null || !equalBytes(accountRoots(before).storageRoot, storageRoot)) refuse(`account key 0x${id} has a new storage root without its storage changes`);
    }
    storageRoots.delete(id);
    if (!equalBytes(codeHash, KECCAK256_NULL) && !codes.has(bytesToUnprefixedHex(codeHash)) && !(await target.hasCode(codeHash))) {
      refuse(`account key 0x${id} names code 0x${bytesToUnprefixedHex(codeHash)} that is neither stored nor given`);
    }
  }
  if (storageRoots.size > 0) refuse('storage changes for an account whose record does not change');
  const root = await updateTrie(target.io, parentRoot, KECCAK256_RLP, uniqueOps(changes.accounts.map((a) => ({ key: a.hashedAddress, value: a.rlp })), 'an account'));
  if (!equalBytes(root, expectedRoot)) refuse(`the changes lead to state root 0x${bytesToUnprefixedHex(root)}, not the certified 0x${bytesToUnprefixedHex(expectedRoot)}`);
}

/** Trie operations from hashed keys; a key given twice refuses the changes (the trie update requires distinct keys). */
function uniqueOps(entries: readonly { key: Uint8Array; value: Uint8Array }[], what: string): TrieOp[] {
  const seen = new Set<string>();
  return entries.map(({ key, value }) => {
    const id = bytesToUnprefixedHex(key);
    if (seen.has(id)) refuse(`${what} changes twice`);
    seen.add(id);
    return { key: bytesToNibbles(key), value: value.length === 0 ? undefined : value };
  });
}
