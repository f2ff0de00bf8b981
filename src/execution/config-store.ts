/** The chain config stored beside the chain, so a restart cannot silently run a different chain. */
import type { BatchOp, KvStore } from '../storage/kvstore.ts';
import { utf8Codec } from '../storage/codecs.ts';
import { createRepository } from '../storage/repository.ts';
import { type ChainConfig, chainConfigToJson, parseChainConfig } from './chain-config.ts';
import { BulwarkError } from '../common/errors.ts';

const KEY = 'chain-config';

function repo(kv: KvStore) {
  return createRepository(kv, 'meta', utf8Codec, utf8Codec);
}

export function storeConfigOp(kv: KvStore, config: ChainConfig): BatchOp {
  return repo(kv).putOp(KEY, JSON.stringify(chainConfigToJson(config)));
}

export async function loadStoredConfig(kv: KvStore): Promise<ChainConfig | undefined> {
  const json = await repo(kv).get(KEY);
  if (json === undefined) return undefined;
  try {
    return parseChainConfig(JSON.parse(json));
  } catch (cause) {
    throw new BulwarkError('LEDGER_CORRUPT', `the chain config stored in ${kv.location ?? 'memory'} is unreadable`, {}, { cause });
  }
}
