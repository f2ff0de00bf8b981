/**
 * State reads a client node asks of the replicas (balance, nonce, code, storage, call, gas
 * estimate) at a given block, and what is signed in each answer: the client node accepts a result
 * only when f + 1 replicas sign the same answers to the same queries at the same block.
 */
import { sha256 } from '../crypto/hash.ts';
import { Reader, Writer, codecError } from './binary.ts';
import type { ReadAnswer } from './messages.ts';

export interface CallQuery {
  readonly from?: Uint8Array;
  readonly to?: Uint8Array;
  readonly data?: Uint8Array;
  readonly value?: bigint;
  readonly gas?: bigint;
  readonly gasPrice?: bigint;
}

export type ReadQuery =
  | { readonly kind: 'balance' | 'nonce' | 'code'; readonly address: Uint8Array }
  | { readonly kind: 'storage'; readonly address: Uint8Array; readonly slot: Uint8Array }
  | { readonly kind: 'call' | 'estimateGas'; readonly call: CallQuery }
  /** EIP-1186: the account's and the slots' Merkle proofs against the block's state root (eth_getProof). */
  | { readonly kind: 'proof'; readonly address: Uint8Array; readonly slots: readonly Uint8Array[] };

/** A read's outcome, as f + 1 replicas signed it (or as the client node's own state gave it), at the block it names. */
export interface ReadResult {
  readonly ok: boolean;
  readonly result: Uint8Array;
  readonly blockHash: Uint8Array;
}

const KINDS = ['balance', 'nonce', 'code', 'storage', 'call', 'estimateGas', 'proof'] as const;

/** Storage slots one proof query may name. */
export const MAX_PROOF_SLOTS = 256;

function bigToBytes(v: bigint): Uint8Array {
  if (v < 0n) throw codecError('CODEC_BAD_VALUE', 'negative quantity');
  if (v === 0n) return new Uint8Array(0);
  const hex = v.toString(16);
  return new Uint8Array(Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex'));
}

function bytesToBig(b: Uint8Array): bigint {
  if (b.length > 32) throw codecError('CODEC_LIMIT', 'quantity longer than 32 bytes');
  if (b.length > 0 && b[0] === 0) throw codecError('CODEC_BAD_VALUE', 'quantity with a leading zero byte');
  return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`);
}

export function writeReadQuery(w: Writer, q: ReadQuery): void {
  w.u8(KINDS.indexOf(q.kind));
  if ('call' in q) {
    const c = q.call;
    const opt = (b: Uint8Array | undefined) => {
      w.u8(b === undefined ? 0 : 1);
      if (b !== undefined) w.bytes(b);
    };
    opt(c.from);
    opt(c.to);
    opt(c.data);
    opt(c.value === undefined ? undefined : bigToBytes(c.value));
    opt(c.gas === undefined ? undefined : bigToBytes(c.gas));
    opt(c.gasPrice === undefined ? undefined : bigToBytes(c.gasPrice));
  } else {
    w.fixed(q.address, 20);
    if ('slot' in q) w.fixed(q.slot, 32);
    if ('slots' in q) w.list(q.slots, (w, s) => w.fixed(s, 32));
  }
}

export function readReadQuery(r: Reader, maxData: number): ReadQuery {
  const kind = KINDS[r.u8('read kind')];
  if (kind === undefined) throw codecError('CODEC_BAD_VALUE', 'unknown read kind');
  if (kind === 'call' || kind === 'estimateGas') {
    const opt = (len: number | null, what: string) => {
      if (!r.bool(what)) return undefined;
      const b = r.bytes(len ?? maxData, what);
      if (len !== null && len === 20 && b.length !== 20) throw codecError('CODEC_BAD_VALUE', `${what} must be 20 bytes`);
      return b;
    };
    const from = opt(20, 'from');
    const to = opt(20, 'to');
    const data = opt(null, 'data');
    const num = (what: string) => {
      const b = opt(32, what);
      return b === undefined ? undefined : bytesToBig(b);
    };
    const value = num('value');
    const gas = num('gas');
    const gasPrice = num('gasPrice');
    const call: CallQuery = {
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      ...(data === undefined ? {} : { data }),
      ...(value === undefined ? {} : { value }),
      ...(gas === undefined ? {} : { gas }),
      ...(gasPrice === undefined ? {} : { gasPrice }),
    };
    return { kind, call };
  }
  const address = r.fixed(20, 'address');
  if (kind === 'storage') return { kind, address, slot: r.fixed(32, 'slot') };
  if (kind === 'proof') return { kind, address, slots: r.list(MAX_PROOF_SLOTS, (r) => r.fixed(32, 'slot'), 'slots') };
  return { kind, address };
}

export function encodeReadQuery(q: ReadQuery): Uint8Array {
  const w = new Writer(64);
  writeReadQuery(w, q);
  return w.finish();
}

/** A call's outcome as replicas sign it. */
export interface CallOutcome {
  readonly success: boolean;
  readonly returnData: Uint8Array;
  readonly gasUsed: bigint;
}

export function encodeCallOutcome(o: CallOutcome): Uint8Array {
  return new Writer(o.returnData.length + 48).u8(o.success ? 1 : 0).bytes(o.returnData).bytes(bigToBytes(o.gasUsed)).finish();
}

export function decodeCallOutcome(b: Uint8Array): CallOutcome {
  const r = new Reader(b);
  const o = { success: r.bool('success'), returnData: r.bytes(b.length, 'returnData'), gasUsed: bytesToBig(r.bytes(32, 'gasUsed')) };
  r.end();
  return o;
}

export const quantityBytes = bigToBytes;
export const quantityOf = bytesToBig;

/** Queries one read request may carry. */
export const MAX_READ_QUERIES = 256;

export function writeReadAnswers(w: Writer, answers: readonly ReadAnswer[]): void {
  w.list(answers, (w, a) => w.u8(a.ok ? 1 : 0).bytes(a.result));
}

export function readReadAnswers(r: Reader, maxResultBytes: number): ReadAnswer[] {
  return r.list(MAX_READ_QUERIES, (r) => ({ ok: r.bool('ok'), result: r.bytes(maxResultBytes, 'result') }), 'answers');
}

/** The digest of a request's queries, as a reply's signature covers them. */
export function readQueriesDigest(queries: readonly ReadQuery[]): Uint8Array {
  const w = new Writer(64 * queries.length + 8);
  w.list(queries, writeReadQuery);
  return sha256(w.finish());
}

export function readAnswersDigest(answers: readonly ReadAnswer[]): Uint8Array {
  const w = new Writer(64 * answers.length + 8);
  writeReadAnswers(w, answers);
  return sha256(w.finish());
}

const TAG_READ = new TextEncoder().encode('bulwark/read/v2');

/** What a replica signs for a read: who asked, what, at which block, and the answers' digest. */
export function readReplyBytes(
  clientId: number,
  id: number,
  queriesDigest: Uint8Array,
  blockNumber: number,
  blockHash: Uint8Array,
  answersDigest: Uint8Array,
): Uint8Array {
  return new Writer(160)
    .raw(TAG_READ)
    .u32(clientId)
    .u64(id)
    .fixed(queriesDigest, 32)
    .u64(blockNumber)
    .fixed(blockHash, 32)
    .fixed(answersDigest, 32)
    .finish();
}
