/**
 * The payloads of the requests that publish keys, as every replica decodes them in execution: a
 * replica's consensus key exchange (`consensus/keys.ts` for the rules) and any node's publication of
 * an execution, authentication or TLS key (`consensus/node-keys.ts`), with the statement both of the
 * latter's signatures cover. The records they become are the reserved pages' (`reserved-pages.ts`).
 */
import { Reader, Writer } from './binary.ts';
import { MAX_NODE_KEY_SIGNATURE, MAX_NODE_PUBLIC_KEY, NODE_KEY_KIND_CODE, nodeKeyKindOf, type NodeKeyRecord } from './reserved-pages.ts';

/** The payload of a replica's key-exchange request (client id = the replica's id). */
export interface KeyExchange {
  readonly epoch: number;
  readonly publicKey: Uint8Array;
  readonly proofOfPossession: Uint8Array;
}

const TAG = new TextEncoder().encode('bulwark/key-exchange/v1');

export function encodeKeyExchange(k: KeyExchange): Uint8Array {
  return new Writer(256).raw(TAG).u32(k.epoch).bytes(k.publicKey).bytes(k.proofOfPossession).finish();
}

/** The key exchange a payload carries, or null if it is not one. */
export function decodeKeyExchange(payload: Uint8Array): KeyExchange | null {
  try {
    const r = new Reader(payload);
    const tag = r.fixed(TAG.length, 'tag');
    if (!tag.every((b, i) => b === TAG[i])) return null;
    const k = { epoch: r.u32('epoch'), publicKey: r.bytes(256, 'publicKey'), proofOfPossession: r.bytes(256, 'proofOfPossession') };
    r.end();
    return k;
  } catch {
    return null;
  }
}

/** What a node publishes (the payload of its request). */
export type NodeKeyPublication = Omit<NodeKeyRecord, 'effectiveSeq' | 'publishedSeq'>;

const PAYLOAD_TAG = new TextEncoder().encode('bulwark/node-key/v1');
const STATEMENT_TAG = new TextEncoder().encode('bulwark/node-key-statement/v1');
export const POSSESSION_DOMAIN = new TextEncoder().encode('possession');
export const ENDORSEMENT_DOMAIN = new TextEncoder().encode('endorsement');

/** The statement both signatures are over: the key, whose it is, and its epoch. */
export function nodeKeyStatement(k: Pick<NodeKeyRecord, 'kind' | 'node' | 'epoch' | 'publicKey'>): Uint8Array {
  return new Writer(k.publicKey.length + 64).raw(STATEMENT_TAG).u8(NODE_KEY_KIND_CODE[k.kind]).u32(k.node).u32(k.epoch).bytes(k.publicKey).finish();
}

/** The bytes signed for `domain` (possession or endorsement) over a statement. */
export function nodeKeySigningBytes(domain: Uint8Array, statement: Uint8Array): Uint8Array {
  return new Writer(statement.length + 32).bytes(domain).raw(statement).finish();
}

export function encodeNodeKeyPublication(p: NodeKeyPublication): Uint8Array {
  return new Writer(p.publicKey.length + 256)
    .raw(PAYLOAD_TAG)
    .u8(NODE_KEY_KIND_CODE[p.kind])
    .u32(p.node)
    .u32(p.epoch)
    .bytes(p.publicKey)
    .bytes(p.possession)
    .bytes(p.endorsement)
    .finish();
}

export function isNodeKeyPayload(payload: Uint8Array): boolean {
  return payload.length >= PAYLOAD_TAG.length && PAYLOAD_TAG.every((b, i) => payload[i] === b);
}

/** The publication a payload carries, or null if it is not a well-formed one. */
export function decodeNodeKeyPublication(payload: Uint8Array): NodeKeyPublication | null {
  try {
    const r = new Reader(payload);
    const tag = r.fixed(PAYLOAD_TAG.length, 'tag');
    if (!tag.every((b, i) => b === PAYLOAD_TAG[i])) return null;
    const kind = nodeKeyKindOf(r.u8('kind'));
    const p = {
      node: r.u32('node'),
      epoch: r.u32('epoch'),
      publicKey: r.bytes(MAX_NODE_PUBLIC_KEY, 'publicKey'),
      possession: r.bytes(MAX_NODE_KEY_SIGNATURE, 'possession'),
      endorsement: r.bytes(MAX_NODE_KEY_SIGNATURE, 'endorsement'),
    };
    r.end();
    return kind === undefined ? null : { kind, ...p };
  } catch {
    return null;
  }
}
