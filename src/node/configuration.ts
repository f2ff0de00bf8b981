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
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { encodeMessage } from '../codec/message-codec.ts';
import type { Message } from '../codec/messages.ts';
import { BulwarkError } from '../common/errors.ts';
import { takeUpReconfiguration } from '../consensus/operator.ts';
import { ConfigurationHistory } from '../ledger/configurations.ts';
import { ReservedPages, type OperatorState } from '../ledger/reserved-pages.ts';
import { blsPublicKeyToBytes } from '../crypto/index.ts';
import { parseNetworkFile, serializeNetworkFile, type NetworkConfig } from '../setup/network-file.ts';
import { NETWORK_FILE } from '../setup/layout.ts';
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

/**
 * A client node following a reconfiguration without its operator: once f + 1 replicas report a
 * later configuration (its epoch and network file digest, from their operator states), it asks the
 * replicas it knows for that network file, takes the first answer whose digest is the agreed one
 * and that lists this node as it is, writes it as its `network.json`, and asks to be restarted on it
 * (`onReconfigured`). An answer is never trusted for more than its digest.
 */
export interface ConfigurationFollowerOptions {
  /** The node directory, whose `network.json` is replaced. */
  readonly dir: string;
  readonly network: NetworkConfig;
  /** This client node's id. */
  readonly self: number;
  readonly log: Logger;
  readonly send: (to: number, frame: Uint8Array) => void;
  readonly onReconfigured: () => void;
}

export class ConfigurationFollower {
  readonly #o: ConfigurationFollowerOptions;
  #asked: { readonly epoch: number; readonly network: string; readonly id: number; readonly at: number } | null = null;
  #done = false;

  constructor(o: ConfigurationFollowerOptions) {
    this.#o = o;
  }

  /** `agreed`: the newest configuration f + 1 replicas report alike. Asks again every 5 s until answered. */
  consider(agreed: { epoch: number; network: string } | undefined, now = Date.now()): void {
    if (this.#done || agreed === undefined || agreed.epoch <= this.#o.network.epoch) return;
    if (this.#asked !== null && this.#asked.epoch === agreed.epoch && now - this.#asked.at < 5_000) return;
    const id = Math.floor(Math.random() * 2 ** 48);
    this.#asked = { ...agreed, id, at: now };
    this.#o.log.warn({ fileEpoch: this.#o.network.epoch, replicasEpoch: agreed.epoch }, 'the replicas run a later configuration: fetching its network file from them');
    const frame = encodeMessage({ type: 'ConfigurationRequest', id, epoch: agreed.epoch });
    for (const r of this.#o.network.replicas) this.#o.send(r.id, frame);
  }

  onMessage(from: number, m: Message): void {
    const asked = this.#asked;
    if (m.type !== 'ConfigurationFile' || asked === null || this.#done || m.id !== asked.id || m.epoch !== asked.epoch || m.network.length === 0) return;
    let next: NetworkConfig;
    try {
      next = parseNetworkFile(JSON.parse(new TextDecoder().decode(m.network)), `replica ${from}'s network file of epoch ${m.epoch}`);
    } catch (err) {
      this.#o.log.warn({ from, err }, 'a replica sent a network file that does not load');
      return;
    }
    if (next.digest !== asked.network || next.epoch !== asked.epoch) {
      this.#o.log.warn({ from, epoch: m.epoch }, 'a replica sent another network file than the one f + 1 replicas name');
      return;
    }
    const mine = (n: NetworkConfig) => JSON.stringify(n.json.clients.find((c) => c.id === this.#o.self) ?? null);
    if (mine(next) !== mine(this.#o.network)) {
      this.#done = true;
      this.#o.log.error({ epoch: m.epoch }, 'the network file of the replicas\' configuration does not list this client node as it is: restart it with that file by hand');
      return;
    }
    this.#done = true;
    const path = join(this.#o.dir, NETWORK_FILE);
    const text = serializeNetworkFile(next.json);
    writeFile(`${path}.next`, text, { mode: 0o644 })
      .then(() => rename(`${path}.next`, path))
      .then(() => {
        this.#o.log.warn({ epoch: next.epoch, digest: next.digest }, 'reconfigured: network.json replaced by the configuration the replicas run; restarting on it');
        this.#o.onReconfigured();
      })
      .catch((err: unknown) => {
        this.#done = false;
        this.#o.log.error({ err }, 'cannot write the new network file');
      });
  }
}
