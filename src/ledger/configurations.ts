/**
 * The configuration history a replica's store keeps (issue #19, reconfiguration): the network file
 * of each configuration epoch it ran in, and the first sequence number that epoch ordered. The
 * reserved pages hold only the digest of the file in effect (`OperatorState.configuration`); the
 * files themselves are kept here so that `verify-ledger` checks each batch, block and checkpoint
 * against the replicas, keys and quorums of its own epoch — not against today's network file.
 *
 *   meta "configuration/<epoch, 8 digits>" → JSON { epoch, fromSeq, network: <network file text> }
 */
import type { BatchOp, KvStore } from '../storage/kvstore.ts';
import { createRepository, type Repository } from '../storage/repository.ts';
import { jsonCodec, utf8Codec } from '../storage/codecs.ts';

export interface ConfigurationRecord {
  readonly epoch: number;
  /** The first sequence number ordered in this configuration (1 for the network as created). */
  readonly fromSeq: number;
  /** The network file's canonical text. */
  readonly network: string;
}

const PREFIX = 'configuration/';
const keyOf = (epoch: number) => `${PREFIX}${String(epoch).padStart(8, '0')}`;

export class ConfigurationHistory {
  readonly #meta: Repository<string, ConfigurationRecord>;

  constructor(kv: KvStore) {
    this.#meta = createRepository(kv, 'meta', utf8Codec, jsonCodec<ConfigurationRecord>());
  }

  async get(epoch: number): Promise<ConfigurationRecord | undefined> {
    return this.#meta.get(keyOf(epoch));
  }

  /** Every recorded epoch, oldest first. */
  async list(): Promise<ConfigurationRecord[]> {
    const out: ConfigurationRecord[] = [];
    for await (const [key, value] of this.#meta.entries({ gte: PREFIX, lt: `${PREFIX}~` })) {
      if (key.startsWith(PREFIX)) out.push(value);
    }
    return out.sort((a, b) => a.epoch - b.epoch);
  }

  putOp(record: ConfigurationRecord): BatchOp {
    return this.#meta.putOp(keyOf(record.epoch), record);
  }
}

/** The record in effect at `seq`: the newest whose `fromSeq` is at or below it (undefined: none recorded). */
export function configurationAt(history: readonly ConfigurationRecord[], seq: number): ConfigurationRecord | undefined {
  let found: ConfigurationRecord | undefined;
  for (const r of history) if (r.fromSeq <= seq && (found === undefined || r.epoch > found.epoch)) found = r;
  return found;
}
