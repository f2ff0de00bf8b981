/**
 * The reference: plain in-memory ethereumjs (`MerkleStateManager` on its own map, `runTx`, Mainnet
 * Cancun `Common` with our native crypto, KZG included), as ethereumjs' own state-test
 * runner does it.
 * Establishes which cases ethereumjs itself fails, so ours can be held to every case it passes.
 */
import { createBlock } from '@ethereumjs/block';
import { Common, Hardfork, Mainnet } from '@ethereumjs/common';
import { MerkleStateManager } from '@ethereumjs/statemanager';
import { createTxFromRLP } from '@ethereumjs/tx';
import { hexToBytes } from '@ethereumjs/util';
import { createVM, runTx } from '@ethereumjs/vm';
import { nativeCrypto } from '../../src/execution/common.ts';
import { writeAlloc } from '../../src/execution/state.ts';
import type { LogEntry } from '../../src/ledger/receipt.ts';
import { headerData, logsHash, vectorBlockHashes, vectorChainConfig, verdict, type CaseResult, type Rejection } from './common.ts';
import type { GroupRunner } from './ours.ts';
import type { VectorCase, VectorGroup } from './vectors.ts';

export class BaselineRunner implements GroupRunner {
  async runGroup(group: VectorGroup): Promise<CaseResult[]> {
    const results: CaseResult[] = [];
    for (const c of group.cases) results.push(await runBaselineCase(group, c));
    return results;
  }
}

async function runBaselineCase(group: VectorGroup, c: VectorCase): Promise<CaseResult> {
  const common = new Common({ chain: Mainnet, hardfork: Hardfork.Cancun, customCrypto: nativeCrypto() });
  const stateManager = new MerkleStateManager({ common });
  await writeAlloc(stateManager, vectorChainConfig(group.pre).alloc);
  await stateManager.checkpoint();
  await stateManager.commit();
  const vm = await createVM({ common, stateManager, blockchain: vectorBlockHashes });
  const block = createBlock({ header: headerData(group.env) }, { common });
  let logs: readonly LogEntry[] = [];
  let rejection: Rejection | undefined;
  try {
    const tx = createTxFromRLP(hexToBytes(c.post.txbytes as `0x${string}`), { common });
    if (!tx.isValid()) throw new Error(`invalid transaction: ${tx.getValidationErrors().join(', ')}`);
    const r = await runTx(vm, { tx, block });
    logs = r.receipt.logs;
  } catch (e) {
    rejection = { message: (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '' };
  }
  return verdict(c, await stateManager.getStateRoot(), logsHash(logs), rejection);
}
