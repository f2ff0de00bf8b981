/**
 * Check 5 of `verify-ledger`, on a client node's mirror: each stored block certificate holds f + 1
 * valid notices from distinct replicas naming exactly the stored block; each kept checkpoint
 * certificate verifies and, when its block is stored, matches it.
 */
import { Reader } from '../codec/binary.ts';
import { decodeCertificate } from '../codec/block-certificate.ts';
import { readCheckpointCert } from '../codec/message-codec.ts';
import type { CheckpointCertificate } from '../codec/messages.ts';
import { replyBytes } from '../codec/signing.ts';
import { equalBytes, toHex } from '../common/bytes.ts';
import { verifyNodeAuth } from '../crypto/index.ts';
import { bytesCodec, createRepository, uint64Codec } from '../storage/index.ts';
import { matchCheckpoint, signerList, verifyCheckpoint } from './certificates.ts';
import type { CheckedBlock, Checker } from './checker.ts';
import { fail } from './problems.ts';

// ---- 5. client node ------------------------------------------------------------------------------

export async function checkClient(c: Checker, head: CheckedBlock): Promise<void> {
  const certificates = createRepository(c.kv, 'blockCertificate', uint64Codec, bytesCodec);
  for await (const [number, bytes] of certificates.entries()) await checkBlockCertificate(c, number, bytes, head);
  const checkpoints = createRepository(c.kv, 'checkpointCertificate', uint64Codec, bytesCodec);
  for await (const [seq, bytes] of checkpoints.entries()) {
    const where = `checkpoint certificate ${seq}`;
    let cert: CheckpointCertificate;
    try {
      const r = new Reader(bytes);
      cert = readCheckpointCert(r);
      r.end();
    } catch (e) {
      fail('checkpoint-certificate', where, `does not decode: ${(e as Error).message}`);
    }
    if (BigInt(cert.seq) !== seq) fail('checkpoint-certificate', where, 'is stored under another sequence number', String(seq), String(cert.seq));
    if (!verifyCheckpoint(c, cert)) {
      const q = c.epochs.quorumsAt(cert.seq);
      fail('checkpoint-certificate', where, 'does not verify against the consensus keys in effect', `≥ ${q.checkpoint} valid signers`, signerList(cert.cert, q.n, q.checkpoint));
    }
    c.counts.checkpointCertificates++;
    // Kept when a replica reported it, which may be before the mirror fetched its block.
    if (BigInt(cert.summary.blockNumber) > head.header.number) c.counts.checkpointsAhead++;
    else await matchCheckpoint(c, `${where} (block ${cert.summary.blockNumber})`, cert, 'checkpoint-certificate');
  }
}

async function checkBlockCertificate(c: Checker, number: bigint, bytes: Uint8Array, head: CheckedBlock): Promise<void> {
  const where = `block certificate ${number}`;
  if (number > head.header.number) fail('block-certificate', where, `certifies a block above the head ${head.header.number}`);
  let entries;
  try {
    entries = decodeCertificate(bytes);
  } catch (e) {
    fail('block-certificate', where, `does not decode: ${(e as Error).message}`);
  }
  const hash = (await c.blocks.canonicalHash(number))!;
  const header = (await c.blocks.header(hash))!;
  const seen = new Set<number>();
  let f = c.ctx.network.f;
  for (const { replica, notice } of entries) {
    f = c.epochs.networkAt(notice.seq).f;
    const keys = c.ctx.keys.executionKeysAt(notice.seq);
    const at = `${where}: replica ${replica}'s notice`;
    if (notice.type !== 'BlockNotice') fail('block-certificate', at, 'is not a BlockNotice', 'BlockNotice', String((notice as { type: string }).type));
    if (seen.has(replica)) fail('block-certificate', at, 'appears twice');
    seen.add(replica);
    const pk = keys[replica];
    if (pk === undefined) fail('block-certificate', at, 'comes from no replica of network.json', `0..${keys.length - 1}`, String(replica));
    if (!verifyNodeAuth(pk, replyBytes(notice.seq, notice.summary, notice.resultsRoot), notice.signature)) {
      fail('block-certificate', at, "signature does not verify under the replica's execution key");
    }
    if (BigInt(notice.summary.blockNumber) !== number) fail('block-certificate', at, 'names another block number', String(number), String(notice.summary.blockNumber));
    if (!equalBytes(notice.summary.blockHash, hash)) fail('block-certificate', at, 'names another hash than the stored block', toHex(hash), toHex(notice.summary.blockHash));
    if (!equalBytes(notice.summary.stateRoot, header.stateRoot)) fail('block-certificate', at, "names another state root than the stored block's", toHex(header.stateRoot), toHex(notice.summary.stateRoot));
  }
  if (seen.size < f + 1) fail('block-certificate', where, 'has too few notices from distinct replicas', `≥ ${f + 1}`, String(seen.size));
  c.counts.blockCertificates++;
}
