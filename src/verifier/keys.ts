/**
 * The public keys a signature must be checked against, over time: network.json's, then the ones the
 * store's key tables say were published through consensus (consensus keys 0x18; execution,
 * authentication and TLS keys 0x1a), each record checked as it is read.
 */
import { nodeKeyBookFor } from '../consensus/bls-crypto.ts';
import { KeyBook } from '../consensus/keys.ts';
import { blsPublicKeyFromBytes, blsPublicKeyToBytes, blsSignatureFromBytes, verifyPossession, type BlsPublicKey, type NodeAuthPublicKey } from '../crypto/index.ts';
import type { NetworkConfig } from '../setup/network-file.ts';
import type { ReservedPages } from '../ledger/reserved-pages.ts';
import { fail, readOrFail } from './problems.ts';

/**
 * The public keys a signature must be checked against, by the sequence number (consensus) or the
 * block (execution) it was made for. Certificates are checked against the keys in effect then.
 */
export interface KeyHistory {
  consensusKeysAt(seq: number): readonly BlsPublicKey[];
  /** By the sequence number the execution signature is for (a BlockNotice's `seq`). */
  executionKeysAt(seq: number): readonly NodeAuthPublicKey[];
}

export function keyHistoryOf(network: NetworkConfig): KeyHistory {
  const bootstrap = network.replicas.map((r) => r.bootstrapKey);
  const execution = network.replicas.map((r) => r.executionKey);
  return {
    // The bootstrap keys of network.json; `keyHistoryWithPublished` adds the keys the store's
    // key table says the replicas published (`consensus/keys.ts`).
    consensusKeysAt: () => bootstrap,
    // Likewise the execution keys of network.json, until the node key table says otherwise.
    executionKeysAt: () => execution,
  };
}

/**
 * The key history with the keys the replicas published through consensus (the reserved page
 * `keyTable` of a replica's store; on a client node, the records it took from f + 1 replicas).
 * Each record must be its replica's next epoch, take effect after the previous one, and carry a
 * valid proof of possession.
 */
export async function keyHistoryWithPublished(pages: ReservedPages, network: NetworkConfig, base: KeyHistory): Promise<KeyHistory> {
  const book = new KeyBook<BlsPublicKey>(
    network.replicas.map((r) => ({ publicKey: blsPublicKeyToBytes(r.bootstrapKey), proofOfPossession: new Uint8Array(), key: r.bootstrapKey })),
  );
  let published = 0;
  await readOrFail('key-table', 'key table', async () => {
    for await (const record of pages.keyRecords()) {
      const where = `key table: replica ${record.replica} epoch ${record.epoch}`;
      let pk: BlsPublicKey;
      try {
        pk = blsPublicKeyFromBytes(record.publicKey);
        if (!verifyPossession(pk, blsSignatureFromBytes(record.proofOfPossession))) throw new Error('no possession');
      } catch {
        fail('key-table', where, 'the key or its proof of possession does not verify');
      }
      try {
        book.add(record, pk);
      } catch (err) {
        fail('key-table', where, err instanceof Error ? err.message : String(err));
      }
      published++;
    }
  }, 'a published key record does not decode');
  const nodeKeys = nodeKeyBookFor(network);
  let rotated = 0;
  await readOrFail('key-table', 'node key table', async () => {
    for await (const record of pages.nodeKeyRecords()) {
      const where = `node key table: ${record.kind} key of node ${record.node} epoch ${record.epoch}`;
      // Each record must be possessed and endorsed by the key before it, back to network.json's.
      const problem = nodeKeys.problem(record);
      if (problem !== null) fail('key-table', where, problem);
      if (!nodeKeys.add(record)) fail('key-table', where, 'does not take effect after the key before it');
      rotated++;
    }
  }, 'a published key record does not decode');
  if (published === 0 && rotated === 0) return base;
  const ids = network.replicas.map((r) => r.id);
  return {
    consensusKeysAt: (seq) => book.keysAt(seq),
    executionKeysAt: (seq) => (rotated === 0 ? base.executionKeysAt(seq) : ids.map((r) => nodeKeys.keyAt('execution', r, seq)!)),
  };
}
