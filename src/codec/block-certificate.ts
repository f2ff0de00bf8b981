/**
 * A block certificate: the f + 1 replicas' signed `BlockNotice`s naming one block, as the client
 * node's mirror stores it with the block (`client/mirror.ts`), `bft_getBlockCertificate` returns
 * it and `verify-ledger` checks it.
 */
import { Reader, Writer } from './binary.ts';
import { decodeMessage, encodeMessage } from './message-codec.ts';
import type { BlockNotice } from './messages.ts';

/** One replica's signed notice of a block: together, f + 1 of them are the block's certificate. */
export interface CertificateEntry {
  readonly replica: number;
  readonly notice: BlockNotice;
}

export function encodeCertificate(entries: readonly CertificateEntry[]): Uint8Array {
  return new Writer(256 * entries.length).list(entries, (w, e) => w.u32(e.replica).bytes(encodeMessage(e.notice))).finish();
}

/** A block certificate as the mirror stores it (prefix `blockCertificate`); `verify-ledger` reads it too. */
export function decodeCertificate(bytes: Uint8Array): CertificateEntry[] {
  const r = new Reader(bytes);
  const out = r.list(1024, (r) => ({ replica: r.u32('replica'), notice: decodeMessage(r.bytes(1 << 16, 'notice')) as BlockNotice }), 'notices');
  r.end();
  return out;
}
