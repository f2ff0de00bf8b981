/**
 * How a node judges a peer's TLS introduction (`net/tls-transport.ts`) against what it knows from
 * consensus: its `NodeKeyBook`, which holds every TLS record this node executed (a replica) or took
 * from f + 1 replicas (a client node). The endorsement chain alone is not enough: a rotation does
 * not revoke the retired key, so whoever stole it could endorse a certificate of their own for the
 * next epoch and have it pinned by a node that knows better. Hence, cheapest first:
 *
 *  1. at most `maxRecords` records, decoded without any signature check;
 *  2. the shape: the node's TLS records, consecutive epochs, the newest the certificate presented;
 *  3. the book: a certificate older than the newest this node knows for the peer is refused (its
 *     rotation superseded it); a record of an epoch the book holds must be exactly the book's;
 *  4. only the records after the book's newest are verified — the first endorsed by the book's
 *     newest certificate, each next one by the one before — at most two P-384 verifications each,
 *     and an attacker without the current key fails at the first.
 */
import type { NodeKeyBook } from '../consensus/node-keys.ts';
import type { NodeKeyRecord } from '../codec/reserved-pages.ts';
import { encodeNodeKeyRecord } from '../codec/reserved-pages.ts';
import type { NodeAuthPublicKey } from '../crypto/node-auth.ts';
import { decodeTlsIntroduction, tlsIntroductionShapeProblem, tlsRecordStepProblem } from '../consensus/node-key-scheme.ts';

/** Why `node`'s introduction of the certificate `presented` is refused, or null to accept it. */
export function tlsIntroductionProblem(
  book: NodeKeyBook<NodeAuthPublicKey>,
  node: number,
  presented: Uint8Array,
  introduction: Uint8Array,
  maxRecords: number,
): string | null {
  const records = decodeTlsIntroduction(introduction, maxRecords);
  if (records === null) return `malformed, or more than ${maxRecords} records`;
  const shape = tlsIntroductionShapeProblem(node, presented, records);
  if (shape !== null) return shape;
  const known = book.latest('tls', node);
  if (known === undefined) return `node ${node} has no TLS key`;
  const newest = records[records.length - 1]!;
  if (newest.epoch < known.epoch) return `epoch ${newest.epoch} is older than epoch ${known.epoch}, which this node knows`;
  const history = book.history('tls', node);
  for (const r of records) {
    if (r.epoch > known.epoch) break;
    if (!sameRecord(r, history[r.epoch - 1])) return `its epoch ${r.epoch} record is not the one this node has from consensus`;
  }
  if (newest.epoch === known.epoch) return null; // the newest certificate this node knows; its pin follows
  const first = records.findIndex((r) => r.epoch === known.epoch + 1);
  if (first < 0) return `its records start after epoch ${known.epoch + 1}, the first this node does not know`;
  let previous = known.publicKey;
  for (const r of records.slice(first)) {
    const why = tlsRecordStepProblem(r, previous);
    if (why !== null) return `epoch ${r.epoch}: ${why}`;
    previous = r.publicKey;
  }
  return null;
}

function sameRecord(a: NodeKeyRecord, b: NodeKeyRecord | undefined): boolean {
  return b !== undefined && Buffer.compare(encodeNodeKeyRecord(a), encodeNodeKeyRecord(b)) === 0;
}
