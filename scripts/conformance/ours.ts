/**
 * Runs vectors through Bulwark's own path: the pre-state written into a `TrieNodeStore` over RocksDB
 * and committed, then `executeBlock` (our decoding, validation, runTx and journal commit) in the
 * vector's block, then the post-state committed too. One database serves the whole run: trie nodes
 * are content-addressed, so tests sharing nodes cannot disturb each other.
 */
import { createNodeVm } from '../../src/execution/precompiles.ts';
import type { Common } from '@ethereumjs/common';
import { hexToBytes } from '@ethereumjs/util';
import type { KvStore } from '../../src/storage/kvstore.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { environmentBlock } from '../../src/execution/assemble.ts';
import { executeBlock } from '../../src/execution/block-exec.ts';
import type { ChainConfig } from '../../src/execution/chain-config.ts';
import { openState, writeAlloc } from '../../src/execution/state.ts';
import { NodeCache, TrieNodeStore } from '../../src/execution/trie-store.ts';
import { headerData, logsHash, vectorBlockHashes, vectorChainConfig, verdict, type CaseResult } from './common.ts';
import type { VectorCase, VectorGroup } from './vectors.ts';

export interface GroupRunner {
  runGroup(group: VectorGroup): Promise<CaseResult[]>;
}

export class OurRunner implements GroupRunner {
  private readonly cache: NodeCache;

  constructor(
    private readonly kv: KvStore,
    cacheEntries = 100_000,
  ) {
    this.cache = new NodeCache(cacheEntries);
  }

  async runGroup(group: VectorGroup): Promise<CaseResult[]> {
    // A Common per test: every EVM subscribes to its Common's events, so one shared by all cases
    // would keep every case's VM (state manager, caches, journal) alive for the whole run.
    const common = buildCommon(1n);
    const config = vectorChainConfig(group.pre);
    const preRoot = await this.writePreState(common, config);
    const results: CaseResult[] = [];
    for (const c of group.cases) results.push(await this.runCase(common, group, c, config, preRoot));
    return results;
  }

  private newStore(): TrieNodeStore {
    return new TrieNodeStore({ kv: this.kv, prefix: PREFIX.stateTrie, cache: this.cache });
  }

  private async commit(store: TrieNodeStore): Promise<void> {
    await this.kv.write(store.drain());
    store.markCommitted();
  }

  /** Writes the test's pre-state as genesis and commits it to disk; returns its root. */
  private async writePreState(common: Common, config: ChainConfig): Promise<Uint8Array> {
    const store = this.newStore();
    const state = openState({ common, store });
    await writeAlloc(state, config.alloc);
    await state.checkpoint();
    await state.commit();
    const root = await state.getStateRoot();
    await this.commit(store);
    return root;
  }

  /** A fresh state at the committed pre-state root, one block with the case's transaction. */
  private async runCase(
    common: Common,
    group: VectorGroup,
    c: VectorCase,
    config: ChainConfig,
    preRoot: Uint8Array,
  ): Promise<CaseResult> {
    const store = this.newStore();
    const stateManager = openState({ common, store, root: preRoot, caches: { kind: 'per-run' } });
    const vm = await createNodeVm(common, stateManager, vectorBlockHashes);
    const env = environmentBlock(common, headerData(group.env));
    const tx = hexToBytes(c.post.txbytes as `0x${string}`);
    const result = await executeBlock({ vm, config }, env, [tx]);
    await this.commit(store);
    const logs = result.receipts.flatMap((r) => r.logs);
    const rejected = result.rejected[0];
    const rejection = rejected && { reason: rejected.reason, message: `${rejected.reason}: ${rejected.message}` };
    return verdict(c, result.stateRoot, logsHash(logs), rejection);
  }
}
