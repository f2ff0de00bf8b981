/**
 * Check 4 of `verify-ledger`, on a replica's store: every ordered batch decodes, is the batch its
 * commit certificate names, and that certificate verifies; the stable checkpoint's certificate
 * verifies and names the stored block, state root and reserved-pages digest; the execution
 * progress record agrees with the batches and the head.
 */
import type { CheckpointCertificate } from '../codec/messages.ts';
import { decodeCommitted, decodeStable } from '../codec/records.ts';
import { batchDigestBytes } from '../codec/signing.ts';
import { decodeTxPayload } from '../codec/tx-payload.ts';
import { equalBytes, toHex } from '../common/bytes.ts';
import { reservedPagesDigest } from '../consensus/reserved-pages.ts';
import { keccak256, sha256 } from '../crypto/index.ts';
import type { ExecutionProgress, KeyRecord, NodeKeyRecord, ReservedPages } from '../ledger/reserved-pages.ts';
import { readBatchesFrom } from '../ledger/retention.ts';
import { PREFIX, bytesCodec, createRepository, uint64Codec, type Codec } from '../storage/index.ts';
import { matchCheckpoint, signerList, verifyCheckpoint, verifyCommit } from './certificates.ts';
import type { CheckedBlock, Checker } from './checker.ts';
import { fail, readOrFail } from './problems.ts';

const seqCodec: Codec<number> = {
  encode: (n) => uint64Codec.encode(BigInt(n)),
  decode: (b) => Number(uint64Codec.decode(b)),
};

// ---- 4. replica ------------------------------------------------------------------------------

export async function checkReplica(c: Checker, head: CheckedBlock): Promise<void> {
  const progress = await readProgress(c.pages);
  const headTx = await firstTxHash(c, head);
  let headBatch: number | undefined;
  const batches = createRepository(c.kv, 'orderedBatches', seqCodec, bytesCodec);
  // A pruned replica keeps the batches from "batches-from" on (`replica/pruning.ts`); one installed
  // from a snapshot, those after its checkpoint (`replica/snapshot-sync.ts` records the same).
  let expected = await readBatchesFrom(c.kv);
  c.counts.orderedBatchesPruned = expected - 1;
  for await (const [seq, bytes] of batches.entries({ gte: expected })) {
    const where = `ordered batch ${seq}`;
    if (seq !== expected && expected <= progress.lastExecuted) fail('ordered-batch', `ordered batch ${expected}`, `is missing, yet execution progress is at ${progress.lastExecuted}`, `batch ${expected}`, `next stored batch ${seq}`);
    expected = seq + 1;
    let batch, commit;
    try {
      ({ batch, commit } = decodeCommitted(bytes));
    } catch (e) {
      fail('ordered-batch', where, `does not decode: ${(e as Error).message}`);
    }
    const digest = sha256(batchDigestBytes(seq, batch));
    if (!equalBytes(digest, commit.digest)) fail('ordered-batch', where, 'the batch is not the one its commit certificate names', toHex(commit.digest), toHex(digest));
    if (!verifyCommit(c, seq, commit)) {
      const q = c.epochs.quorumsAt(seq);
      const needed = commit.kind === 'fast' ? q.fast : q.slow;
      fail('commit-certificate', where, `${commit.kind}-path commit certificate (view ${commit.view}) does not verify against the consensus keys in effect`, `≥ ${needed} valid signers`, signerList(commit.cert, q.n, needed));
    }
    c.counts.orderedBatches++;
    c.counts.commitCertificates++;
    if (headTx !== undefined && headBatch === undefined && seq <= progress.lastExecuted && batchCarries(batch.requests, headTx)) headBatch = seq;
  }
  if (expected <= progress.lastExecuted) fail('execution-progress', "executionProgress 'progress'", 'names batches that are not stored', `batches up to ${progress.lastExecuted}`, `batches up to ${expected - 1}`);
  // On a pruned replica, or one installed from a snapshot, the head block's batch may be among the batches not kept.
  if (headTx !== undefined && headBatch === undefined && c.counts.orderedBatchesPruned === 0) {
    fail('execution-progress', `block ${head.header.number} (${toHex(head.hash)})`, `its first transaction is in no batch executed so far (up to ${progress.lastExecuted})`, toHex(headTx), 'none');
  }
  await checkStable(c, head, progress.lastExecuted);
}

/** The execution progress record; before the first executed sequence number, none executed. */
async function readProgress(pages: ReservedPages): Promise<ExecutionProgress> {
  return (await readOrFail('execution-progress', "executionProgress 'progress'", () => pages.progress())) ?? { lastExecuted: 0, lastTimestamp: 0 };
}

async function firstTxHash(c: Checker, head: CheckedBlock): Promise<Uint8Array | undefined> {
  if (head.header.number === 0n) return undefined;
  return (await c.blocks.txHashes(head.hash))?.[0];
}

function batchCarries(requests: readonly { payload: Uint8Array }[], txHash: Uint8Array): boolean {
  for (const r of requests) {
    let txs: Uint8Array[];
    try {
      txs = decodeTxPayload(r.payload);
    } catch {
      continue; // a malformed payload executes as such: it carries no transaction
    }
    if (txs.some((tx) => equalBytes(keccak256(tx), txHash))) return true;
  }
  return false;
}

async function checkStable(c: Checker, head: CheckedBlock, executed: number): Promise<void> {
  const raw = await c.kv.get(Uint8Array.of(PREFIX.consensusState, ...new TextEncoder().encode('stable')));
  if (raw === undefined) return;
  let cert: CheckpointCertificate;
  try {
    cert = decodeStable(raw);
  } catch (e) {
    fail('stable-checkpoint', "consensusState 'stable'", `does not decode: ${(e as Error).message}`);
  }
  const where = `stable checkpoint ${cert.seq} (block ${cert.summary.blockNumber})`;
  if (!verifyCheckpoint(c, cert)) {
    const q = c.epochs.quorumsAt(cert.seq);
    fail('stable-checkpoint', where, 'its certificate does not verify against the consensus keys in effect', `≥ ${q.checkpoint} valid signers`, signerList(cert.cert, q.n, q.checkpoint));
  }
  c.counts.stableCheckpoint = cert.seq;
  if (BigInt(cert.summary.blockNumber) > head.header.number) {
    // A lagging replica adopts its peers' stable checkpoint before it has executed that far.
    if (executed >= cert.seq) fail('stable-checkpoint', where, `is above the head block ${head.header.number}, yet batch ${cert.seq} is executed`);
    return;
  }
  await matchCheckpoint(c, where, cert, 'stable-checkpoint');
  if (executed === cert.seq) {
    if (BigInt(cert.summary.blockNumber) !== head.header.number) fail('execution-progress', where, `is where execution stands, so its block must be the head`, String(head.header.number), String(cert.summary.blockNumber));
    const digest = await storedReservedDigest(c.pages);
    if (!equalBytes(digest, cert.summary.reservedDigest)) fail('stable-checkpoint', where, "names another reserved-pages digest than the stored client table's", toHex(digest), toHex(cert.summary.reservedDigest));
  }
}

/**
 * The reserved-pages digest (`consensus/reserved-pages.ts`) of what the store's reserved pages hold
 * (`ledger/reserved-pages.ts`, which the replica's application writes them with), a record that
 * does not decode being the problem.
 */
export async function storedReservedDigest(pages: ReservedPages): Promise<Uint8Array> {
  const clients = await readOrFail('execution-progress', 'client table', () => pages.clientTable());
  const keys: KeyRecord[] = [];
  await readOrFail('key-table', 'key table', async () => {
    for await (const k of pages.keyRecords()) keys.push(k);
  });
  const operator = await readOrFail('execution-progress', "operatorState 'state'", () => pages.operatorState());
  const nodeKeys: NodeKeyRecord[] = [];
  await readOrFail('key-table', 'node key table', async () => {
    for await (const k of pages.nodeKeyRecords()) nodeKeys.push(k);
  });
  return reservedPagesDigest(clients, keys, operator, nodeKeys);
}
