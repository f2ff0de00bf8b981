/**
 * Which configuration a replica's store is in, against the network file it was started with
 * (issue #19, reconfiguration). Replicas change Concord-BFT's way: the operator's `reconfigure`
 * wedges the network and names the new network file by its digest; the operator restarts every node
 * with that file at the wedge point; new members join by snapshot. At start a replica finds one of:
 *
 * - `current`: the file is the configuration its store is in (a reconfiguration may be under way,
 *   whose file it was not yet restarted with: it runs on, wedged, in the old one);
 * - `take-up`: its store is at the wedge point of the reconfiguration that names this file: the next
 *   configuration epoch begins after it (`takeUpReconfiguration`, the same at every replica);
 * - `behind`: the file is for a later configuration than its store is in (a new member's empty
 *   store, or one that was down through a reconfiguration). The batches before the change are
 *   certified by the old replica set, which this file does not name: the replica fetches a snapshot
 *   at or after the change from its peers instead of replaying them.
 *
 * A file older than the store's configuration, or another file of the same epoch, is refused.
 */
import { BulwarkError } from '../common/errors.ts';
import { takeUpReconfiguration } from '../consensus/operator.ts';
import { ConfigurationHistory } from '../ledger/configurations.ts';
import { ReservedPages, type OperatorState } from '../ledger/reserved-pages.ts';
import { blsPublicKeyToBytes } from '../crypto/index.ts';
import { parseNetworkFile, serializeNetworkFile, type NetworkConfig } from '../setup/network-file.ts';
import type { KvStore } from '../storage/kvstore.ts';

export type ConfigurationCheck =
  | { readonly kind: 'current' }
  | { readonly kind: 'take-up'; readonly state: OperatorState; readonly fromSeq: number }
  | { readonly kind: 'behind'; readonly storeEpoch: number };

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export async function checkConfiguration(kv: KvStore, network: NetworkConfig): Promise<ConfigurationCheck> {
  const pages = new ReservedPages(kv);
  const state = await pages.operatorState();
  const lastExecuted = (await pages.progress())?.lastExecuted ?? 0;
  const storeEpoch = state.configuration.epoch;
  const mismatch = (why: string) =>
    new BulwarkError('NETWORK_FILE_MISMATCH', `network.json (configuration epoch ${network.epoch}, sha256 ${network.digest}) ${why}`, {
      fileEpoch: network.epoch,
      storeEpoch,
      digest: network.digest,
    });
  const named = state.reconfiguration !== null && hex(state.reconfiguration) === network.digest;
  if (named) {
    if (network.epoch !== storeEpoch + 1) throw mismatch(`is named by the operator's reconfiguration, but says epoch ${network.epoch}, not ${storeEpoch + 1}`);
    if (lastExecuted < state.wedgeAt) return { kind: 'behind', storeEpoch };
    await refuseReusedIds(kv, network);
    const next = takeUpReconfiguration(state, Buffer.from(network.digest, 'hex'))!;
    return { kind: 'take-up', state: next, fromSeq: state.wedgeAt + 1 };
  }
  if (network.epoch > storeEpoch) return { kind: 'behind', storeEpoch };
  if (network.epoch < storeEpoch) {
    throw mismatch(`is older than the configuration this replica's store is in (epoch ${storeEpoch}, sha256 ${hex(state.configuration.network!)}): start it with that network file`);
  }
  if (storeEpoch > 0 && hex(state.configuration.network!) !== network.digest) {
    throw mismatch(`is not the file of configuration epoch ${storeEpoch} (sha256 ${hex(state.configuration.network!)}) this replica's store is in`);
  }
  return { kind: 'current' };
}

/**
 * A replica id is never given to another replica: the key records of the one removed stay in the
 * reserved pages (the ledger's history is checked with them), and a newcomer under its id would
 * inherit them. Checked against every network file the store recorded.
 */
async function refuseReusedIds(kv: KvStore, network: NetworkConfig): Promise<void> {
  for (const record of await new ConfigurationHistory(kv).list()) {
    let earlier: NetworkConfig;
    try {
      earlier = parseNetworkFile(JSON.parse(record.network), `configuration epoch ${record.epoch}`);
    } catch {
      continue; // verify-ledger names a damaged record; it decides nothing here
    }
    for (const r of network.replicas) {
      const before = earlier.replicas.find((e) => e.id === r.id);
      if (before !== undefined && Buffer.compare(blsPublicKeyToBytes(before.bootstrapKey), blsPublicKeyToBytes(r.bootstrapKey)) !== 0) {
        throw new BulwarkError(
          'NETWORK_FILE_MISMATCH',
          `network.json gives replica id ${r.id} to another replica than configuration epoch ${record.epoch} did: a removed replica's id is not given again (the new replica takes the next unused id)`,
          { id: r.id, epoch: record.epoch },
        );
      }
    }
  }
}

/**
 * Takes up the reconfiguration (`take-up`), or records the file of the configuration in effect
 * when the store holds none for it yet: one synced batch.
 */
export async function recordConfiguration(kv: KvStore, network: NetworkConfig, check: ConfigurationCheck): Promise<void> {
  const history = new ConfigurationHistory(kv);
  const text = serializeNetworkFile(network.json);
  if (check.kind === 'take-up') {
    const pages = new ReservedPages(kv);
    await kv.write([pages.operatorStateOp(check.state), history.putOp({ epoch: network.epoch, fromSeq: check.fromSeq, network: text })], { sync: true });
    return;
  }
  if ((await history.get(network.epoch)) !== undefined) return;
  // First opened in this epoch: from genesis for the network as created; else it holds from where
  // this store stands (a store installed from a snapshot has nothing of the epoch before that).
  const lastExecuted = (await new ReservedPages(kv).progress())?.lastExecuted ?? 0;
  const fromSeq = network.epoch === 0 ? 1 : lastExecuted + 1;
  await kv.write([history.putOp({ epoch: network.epoch, fromSeq, network: text })], { sync: true });
}

/**
 * A client node's record of the configuration it runs in (`verify-ledger` checks its certificates
 * by epoch): the network as created from the first sequence number; a later epoch once f + 1
 * replicas report where it began (`start`, undefined until then). Written once per epoch; returns
 * whether the record is there.
 */
export async function recordClientConfiguration(kv: KvStore, network: NetworkConfig, start: number | undefined): Promise<boolean> {
  const history = new ConfigurationHistory(kv);
  if ((await history.get(network.epoch)) !== undefined) return true;
  const fromSeq = network.epoch === 0 ? 1 : start;
  if (fromSeq === undefined) return false;
  await kv.write([history.putOp({ epoch: network.epoch, fromSeq, network: serializeNetworkFile(network.json) })], { sync: true });
  return true;
}
