/** The chain config stored beside the chain, so a restart cannot silently run a different chain. */
import type { BatchOp, KvStore } from '../storage/kvstore.ts';
import { PREFIX } from '../storage/prefixes.ts';
import { prefixed } from '../ledger/keys.ts';
import { type ChainConfig, chainConfigToJson, parseChainConfig } from './chain-config.ts';

const CONFIG_KEY = prefixed(PREFIX.meta, new TextEncoder().encode('chain-config'));

export function storeConfigOp(config: ChainConfig): BatchOp {
  return { type: 'put', key: CONFIG_KEY, value: new TextEncoder().encode(JSON.stringify(chainConfigToJson(config))) };
}

export async function loadStoredConfig(kv: KvStore): Promise<ChainConfig | undefined> {
  const raw = await kv.get(CONFIG_KEY);
  return raw === undefined ? undefined : parseChainConfig(JSON.parse(new TextDecoder().decode(raw)));
}
