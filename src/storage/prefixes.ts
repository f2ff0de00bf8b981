/**
 * THE table of key prefixes for the whole node: every key in the database starts with one of these
 * bytes, so one table is all it takes to see that no two kinds of record can collide. Rules:
 * - an id is never reused: to drop a bucket, mark its entry `retired` and leave it here forever
 *   (old databases may still hold its keys, and a new meaning for them would be read as garbage);
 * - 0x10–0x1f belong to consensus and the replica's reserved pages (0x16–0x1a, read and written only
 *   through `ledger/reserved-pages.ts`, their bytes in `codec/reserved-pages.ts`); 0x1c–0x1f are still free for them;
 * - uniqueness of ids and names is checked at compile time below and again by a unit test.
 */
export interface PrefixEntry {
  readonly id: number;
  readonly name: string;
  readonly doc: string;
  /** Why and when it was retired; a retired entry cannot be used for a repository. */
  readonly retired?: string;
}

export const PREFIX_TABLE = [
  { id: 0x01, name: 'meta', doc: "node metadata: chain head, genesis and chain config, schema version, a pruned store's 'state-from' and 'batches-from' (utf8 keys)" },
  { id: 0x02, name: 'stateTrie', doc: 'Merkle-Patricia trie nodes and contract code, keyed by their keccak-256 hash' },
  { id: 0x03, name: 'blockHeaderByHash', doc: 'RLP-encoded block header, keyed by block hash' },
  { id: 0x04, name: 'canonicalHashByNumber', doc: 'canonical block hash, keyed by uint64 big-endian block number' },
  { id: 0x05, name: 'receiptsByBlockHash', doc: "the block's receipts, keyed by block hash" },
  { id: 0x06, name: 'txLocationByHash', doc: 'block hash + index of a transaction, keyed by transaction hash' },
  { id: 0x07, name: 'blockBodyByHash', doc: 'RLP list [transactions, uncles, withdrawals] of a block, keyed by block hash' },
  { id: 0x08, name: 'logsBloomByNumber', doc: "a block's 256-byte logs bloom, keyed by uint64 BE block number; only blocks with logs (meta 'logIndexSince' says from which block on the index is complete)" },
  { id: 0x10, name: 'consensusState', doc: "consensus singletons (utf8 keys): 'view', 'stable', 'viewChange', 'newView'" },
  { id: 0x11, name: 'consensusVotes', doc: "this replica's latest vote (view, digest, batch) per sequence number (uint64 BE)" },
  { id: 0x12, name: 'consensusPrepared', doc: 'highest prepare certificate per sequence number (uint64 BE)' },
  { id: 0x13, name: 'consensusCommitVotes', doc: "this replica's slow-path commit vote per sequence number (uint64 BE)" },
  { id: 0x14, name: 'orderedBatches', doc: 'committed batch and its commit certificate per sequence number (uint64 BE); served to peers catching up; pruned only with --prune (below meta "batches-from")' },
  { id: 0x15, name: 'replyCache', doc: 'last reply per client id (uint32 BE), so a retransmitted request is answered again' },
  { id: 0x16, name: 'executionProgress', doc: "reserved page: utf8 'progress' → last executed sequence number u64 ‖ its block timestamp u64, written with the block" },
  { id: 0x17, name: 'clientTable', doc: 'reserved page: highest executed request sequence per client id (uint32 BE), written with the block' },
  { id: 0x18, name: 'keyTable', doc: 'reserved page: every published consensus key (replica, epoch, public key, effective and publishing sequence numbers, proof of possession), keyed by uint32 BE replica ‖ uint32 BE epoch, written with the block; never deleted' },
  { id: 0x19, name: 'operatorState', doc: "reserved page: utf8 'state' → the operator's last command nonce, last rotation time and per-replica key epoch targets, written with the block" },
  { id: 0x1a, name: 'nodeKeyTable', doc: 'reserved page: every published execution, authentication and TLS key (kind, node, epoch, key or certificate, effective and publishing sequence numbers, possession and endorsement signatures), keyed by uint8 kind ‖ uint32 BE node ‖ uint32 BE epoch, written with the block; never deleted' },
  { id: 0x1b, name: 'checkpointImage', doc: "the reserved pages as they stood at each of the last three checkpoints executed (codec/snapshot.ts), keyed by uint64 BE sequence number, written with the checkpoint's batch: what this replica serves a joining one" },
  { id: 0x20, name: 'blockCertificate', doc: "client node's mirror: the f + 1 replicas' signed BlockNotices that certified a block, keyed by uint64 BE block number" },
  { id: 0x21, name: 'checkpointCertificate', doc: "client node: a stable checkpoint and its verified BLS certificate (codec's CheckpointCertificate), keyed by uint64 BE sequence number" },
  { id: 0x22, name: 'clientNodeState', doc: "client node singletons (utf8 keys): 'requestSeq' → uint64 BE request sequence number below which every number may have been used (reserved ahead in blocks)" },
  { id: 0x23, name: 'txPoolJournal', doc: "client node's pool journal: the raw signed transaction, keyed by its 32-byte hash, for each transaction the pool holds; restored into the pool at start" },
] as const satisfies readonly PrefixEntry[];

/** Ids that no entry above may take: their owner defines them. */
export const RESERVED_PREFIX_RANGES = [{ from: 0x1c, to: 0x1f, owner: 'consensus' }] as const;

type Table = typeof PREFIX_TABLE;
type Entry = Table[number];
export type PrefixName = Exclude<Entry, { retired: string }>['name'];

// Compile-time uniqueness: a duplicate id or name makes `Duplicates<...>` a non-never type and the
// assignments below fail to compile, naming the offending value.
type Duplicates<T extends readonly unknown[], F extends 'id' | 'name'> = T extends readonly [
  infer H extends Entry,
  ...infer R extends readonly Entry[],
]
  ? (H[F] extends R[number][F] ? H[F] : never) | Duplicates<R, F>
  : never;
const _uniqueIds: [Duplicates<Table, 'id'>] extends [never] ? true : Duplicates<Table, 'id'> = true;
const _uniqueNames: [Duplicates<Table, 'name'>] extends [never] ? true : Duplicates<Table, 'name'> = true;

/** Returns the problems with a table (duplicates, out-of-byte ids, reserved ids); empty when sound. */
export function checkPrefixTable(table: readonly PrefixEntry[] = PREFIX_TABLE): string[] {
  const problems: string[] = [];
  const ids = new Set<number>();
  const names = new Set<string>();
  for (const e of table) {
    if (!Number.isInteger(e.id) || e.id < 0 || e.id > 0xff) problems.push(`${e.name}: id ${e.id} is not a byte`);
    if (ids.has(e.id)) problems.push(`${e.name}: id 0x${e.id.toString(16)} is used twice`);
    if (names.has(e.name)) problems.push(`${e.name}: name is used twice`);
    const reserved = RESERVED_PREFIX_RANGES.find((r) => e.id >= r.from && e.id <= r.to);
    if (reserved !== undefined) problems.push(`${e.name}: id 0x${e.id.toString(16)} is reserved for ${reserved.owner}`);
    ids.add(e.id);
    names.add(e.name);
  }
  return problems;
}

const BY_NAME = new Map<string, PrefixEntry>(PREFIX_TABLE.map((e: PrefixEntry) => [e.name, e]));

/** Live bucket ids by name (`PREFIX.meta === 0x01`), like Lodestar's `Bucket` enum. */
export const PREFIX = Object.freeze(
  Object.fromEntries(PREFIX_TABLE.filter((e: PrefixEntry) => e.retired === undefined).map((e) => [e.name, e.id])),
) as { readonly [N in PrefixName]: Extract<Entry, { name: N }>['id'] };

/** The one-byte key prefix of a live bucket. */
export function prefixOf(name: PrefixName): Uint8Array {
  const entry = BY_NAME.get(name);
  // Unreachable for typed callers; guards casts and JS callers from writing into a retired bucket.
  if (entry === undefined || entry.retired !== undefined) throw new Error(`no live key prefix named ${name}`);
  return Uint8Array.of(entry.id);
}
