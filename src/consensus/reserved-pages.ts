/**
 * The digest of the reserved pages: the state the protocol keeps beside the application's (client
 * table, published keys, operator state, node keys), named in every checkpoint. Pure: computed by
 * the replica's application and by the offline ledger check alike.
 */
import { Writer } from '../codec/binary.ts';
import { sha256 } from '../crypto/index.ts';
import {
  NO_OPERATOR_STATE,
  encodeKeyRecord,
  encodeNodeKeyRecord,
  encodeOperatorState,
  nodeKeyRecordId,
  type KeyRecord,
  type NodeKeyRecord,
  type OperatorState,
} from '../codec/reserved-pages.ts';

/**
 * The reserved pages' digest (in every checkpoint): every client's last executed request, in
 * client order, then every published key, in (replica, epoch) order — the key part absent until
 * the first key is published — then the operator state, once the operator issued a command, then
 * every published execution, authentication and TLS key, once one is. `EthereumApp`
 * (`replica/ethereum-app.ts`) keeps it; `verify-ledger` recomputes it from a store.
 */
export function reservedPagesDigest(
  clients: ReadonlyMap<number, number>,
  keys: readonly KeyRecord[],
  operator: OperatorState = NO_OPERATOR_STATE,
  nodeKeys: readonly NodeKeyRecord[] = [],
): Uint8Array {
  const w = new Writer(16 + clients.size * 12).raw(new TextEncoder().encode('bulwark/reserved/v1'));
  for (const [c, s] of [...clients].sort((a, b) => a[0] - b[0])) w.u32(c).u64(s);
  const sorted = [...keys].sort((a, b) => a.replica - b.replica || a.epoch - b.epoch);
  if (sorted.length > 0) {
    w.raw(new TextEncoder().encode('keys'));
    for (const k of sorted) w.bytes(encodeKeyRecord(k));
  }
  // Likewise absent until the operator's first command.
  if (operator.nonce > 0) w.raw(new TextEncoder().encode('operator')).bytes(encodeOperatorState(operator));
  if (nodeKeys.length > 0) {
    w.raw(new TextEncoder().encode('node-keys'));
    const id = (k: NodeKeyRecord) => Buffer.from(nodeKeyRecordId(k)).toString('hex');
    for (const k of [...nodeKeys].sort((a, b) => (id(a) < id(b) ? -1 : 1))) w.bytes(encodeNodeKeyRecord(k));
  }
  return sha256(w.finish());
}
