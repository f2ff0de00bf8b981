/**
 * The replica sets a ledger was ordered by (issue #19, reconfiguration). A replica's store keeps the
 * network file of every configuration epoch it ran in (`ledger/configurations.ts`), and its reserved
 * pages name the epoch in effect, its file's digest and its first sequence number. Certificates are
 * checked against the replicas, keys and quorums of their own sequence number's epoch: a commit
 * certificate of epoch 0 has four signer bits, one of epoch 1 five.
 *
 * A store without a history (a client node's mirror, a replica never reconfigured) has one epoch:
 * the network.json given.
 */
import { toHex } from '../common/bytes.ts';
import { quorumsOf, type Quorums } from '../consensus/config.ts';
import { sha256 } from '../crypto/index.ts';
import { ConfigurationHistory, configurationAt } from '../ledger/configurations.ts';
import type { OperatorState } from '../ledger/reserved-pages.ts';
import { parseNetworkFile, type NetworkConfig, type ReplicaInfo } from '../setup/network-file.ts';
import type { KvStore } from '../storage/index.ts';
import { fail } from './problems.ts';

export interface Epochs {
  /** How many epochs the store records (1 without a history). */
  readonly count: number;
  networkAt(seq: number): NetworkConfig;
  quorumsAt(seq: number): Quorums;
  /**
   * Every replica any epoch named, by id (the newest entry of each): what the key history is built
   * over; the keys in effect at a sequence number are its first `networkAt(seq).n`.
   */
  readonly union: NetworkConfig;
}

export function singleEpoch(network: NetworkConfig): Epochs {
  const q = quorumsOf(network);
  return { count: 1, networkAt: () => network, quorumsAt: () => q, union: network };
}

/**
 * The store's epochs, checked: each recorded file parses and is of its epoch, the epochs run in
 * order, and the configuration the reserved pages name is the newest recorded one, by digest and
 * first sequence number.
 */
export async function readEpochs(kv: KvStore, network: NetworkConfig, operator: OperatorState): Promise<Epochs> {
  const records = await new ConfigurationHistory(kv).list();
  if (records.length === 0) return singleEpoch(network);
  const parsed = records.map((r) => {
    const where = `configuration epoch ${r.epoch}`;
    let config: NetworkConfig;
    try {
      config = parseNetworkFile(JSON.parse(r.network), where);
    } catch (err) {
      fail('configuration', where, `its network file does not load: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (config.epoch !== r.epoch) fail('configuration', where, 'its network file is of another epoch', String(r.epoch), String(config.epoch));
    return { ...r, config };
  });
  for (let i = 1; i < parsed.length; i++) {
    if (parsed[i]!.fromSeq <= parsed[i - 1]!.fromSeq) {
      fail('configuration', `configuration epoch ${parsed[i]!.epoch}`, 'begins no later than the epoch before it', `after ${parsed[i - 1]!.fromSeq}`, String(parsed[i]!.fromSeq));
    }
  }
  const current = operator.configuration;
  if (current.epoch > 0) {
    const where = `configuration epoch ${current.epoch} (the reserved pages' operator state)`;
    const recorded = parsed.find((r) => r.epoch === current.epoch);
    if (recorded === undefined) fail('configuration', where, 'has no network file recorded in the store');
    const digest = sha256(new TextEncoder().encode(recorded.network));
    if (toHex(digest) !== toHex(current.network!)) fail('configuration', where, 'names another network file than the one recorded', toHex(current.network!), toHex(digest));
    // A store installed from a snapshot records its epoch from where it begins, at or after the change.
    if (recorded.fromSeq < current.fromSeq) fail('configuration', where, 'is recorded as beginning before the sequence number the reserved pages name', String(current.fromSeq), String(recorded.fromSeq));
  }
  const byId = new Map<number, ReplicaInfo>();
  for (const r of parsed) for (const replica of r.config.replicas) byId.set(replica.id, replica);
  const replicas = [...byId.values()].sort((a, b) => a.id - b.id);
  const newest = parsed[parsed.length - 1]!.config;
  const union: NetworkConfig = { ...newest, n: replicas.length, replicas };
  const quorums = new Map(parsed.map((r) => [r.epoch, quorumsOf(r.config)]));
  const recordAt = (seq: number) => configurationAt(records, seq) ?? records[0]!;
  const configOf = (seq: number) => parsed.find((r) => r.epoch === recordAt(seq).epoch)!;
  return {
    count: parsed.length,
    networkAt: (seq) => configOf(seq).config,
    quorumsAt: (seq) => quorums.get(configOf(seq).epoch)!,
    union,
  };
}
