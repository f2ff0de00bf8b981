/** What every check of `verify-ledger` works on: the context and the open store. */
import type { Common } from '@ethereumjs/common';
import type { BlockHeader } from '@ethereumjs/block';
import type { BlockStore } from '../ledger/block-store.ts';
import type { ReservedPages } from '../ledger/reserved-pages.ts';
import type { NetworkConfig } from '../setup/network-file.ts';
import type { KvStore } from '../storage/index.ts';
import type { Epochs } from './configurations.ts';
import type { KeyHistory } from './keys.ts';
import type { LedgerCounts, LedgerRole } from './problems.ts';

export interface LedgerContext {
  readonly role: LedgerRole;
  readonly network: NetworkConfig;
  readonly keys: KeyHistory;
  readonly state: boolean;
}

export interface Checker {
  readonly kv: KvStore;
  /** The context, its key history completed from the store's key table once read. */
  ctx: LedgerContext;
  readonly common: Common;
  /** The replica sets the ledger was ordered by, and their quorums, by sequence number. */
  epochs: Epochs;
  readonly blocks: BlockStore;
  /** The reserved pages (client table, execution progress, key tables, operator state), read only. */
  readonly pages: ReservedPages;
  readonly counts: LedgerCounts;
}

/** A block that passed its checks (the head, once `checkBlocks` is done). */
export interface CheckedBlock {
  readonly hash: Uint8Array;
  readonly header: BlockHeader;
}
