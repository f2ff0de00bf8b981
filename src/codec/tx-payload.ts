/**
 * What a client node's request carries and what each replica answers for it: a list of raw
 * Ethereum transactions, and per transaction its hash and outcome (included at an index of the
 * block, or rejected with the executor's reason code). One request holds many transactions, so one
 * client signature and one reply entry cover them all.
 */
import { Reader, Writer, codecError } from './binary.ts';

export const MAX_TXS_PER_REQUEST = 10_000;
/** Above the executor's 128 KiB transaction limit, so its own check gives the precise reason. */
const MAX_RAW_TX_BYTES = 1 << 20;

export function encodeTxPayload(rawTxs: readonly Uint8Array[]): Uint8Array {
  const w = new Writer(rawTxs.reduce((n, t) => n + t.length + 4, 8));
  w.list(rawTxs, (w, t) => w.bytes(t));
  return w.finish();
}

/** Throws a `CODEC_*` error on anything but a canonical list of byte strings. */
export function decodeTxPayload(payload: Uint8Array): Uint8Array[] {
  const r = new Reader(payload);
  const txs = r.list(MAX_TXS_PER_REQUEST, (r) => r.bytes(MAX_RAW_TX_BYTES, 'transaction'), 'transactions');
  r.end();
  return txs;
}

export type TxOutcome =
  | { readonly hash: Uint8Array; readonly included: true; readonly index: number }
  | { readonly hash: Uint8Array; readonly included: false; readonly reason: string };

/** A request's result: its transactions' outcomes, or `malformed` if the payload did not decode. */
export type RequestResult = { readonly malformed: true } | { readonly malformed: false; readonly txs: readonly TxOutcome[] };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function encodeRequestResult(r: RequestResult): Uint8Array {
  if (r.malformed) return Uint8Array.of(1);
  const w = new Writer(8 + r.txs.length * 48).u8(0);
  w.list(r.txs, (w, t) => {
    w.fixed(t.hash, 32).u8(t.included ? 0 : 1);
    if (t.included) w.u32(t.index);
    else w.bytes(enc.encode(t.reason));
  });
  return w.finish();
}

export function decodeRequestResult(b: Uint8Array): RequestResult {
  const r = new Reader(b);
  const malformed = r.bool('malformed');
  if (malformed) {
    r.end();
    return { malformed };
  }
  const txs = r.list(MAX_TXS_PER_REQUEST, (r): TxOutcome => {
    const hash = r.fixed(32, 'hash');
    if (!r.bool('rejected')) return { hash, included: true, index: r.u32('index') };
    try {
      return { hash, included: false, reason: dec.decode(r.bytes(256, 'reason')) };
    } catch (err) {
      throw codecError('CODEC_BAD_VALUE', `reason is not UTF-8: ${String(err)}`);
    }
  });
  r.end();
  return { malformed: false, txs };
}
