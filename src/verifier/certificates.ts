/**
 * Certificates as `verify-ledger` checks them: BLS aggregates against the consensus keys in effect
 * at their sequence number, with the quorum each needs, as consensus checks them at run time.
 */
import type { Certificate, CheckpointCertificate, CommitCertificate } from '../codec/messages.ts';
import { checkpointBytes, commitShareBytes, slowCommitBytes } from '../codec/signing.ts';
import { equalBytes, toHex } from '../common/bytes.ts';
import { DOMAIN_CHECKPOINT, DOMAIN_CONSENSUS, SignerBitVector, blsSignatureFromBytes, verifyAggregate, type BlsDomain, type BlsPublicKey } from '../crypto/index.ts';
import type { Checker } from './checker.ts';
import { fail, type InconsistencyKind } from './problems.ts';

/** `bls-crypto.ts`'s `verifyCertificate`: well-formed, at least `minSigners` signers, aggregate valid. */
function verifyBlsCertificate(domain: BlsDomain, message: Uint8Array, cert: Certificate, keys: readonly BlsPublicKey[], minSigners: number): boolean {
  try {
    const signers = SignerBitVector.decode(keys.length, cert.signers);
    if (signers.count() < minSigners) return false;
    return verifyAggregate(domain, message, blsSignatureFromBytes(cert.signature), signers, keys, minSigners);
  } catch {
    return false;
  }
}

/** `consensus/ordering.ts`'s `verifyCommit`: fast path n − c shares, slow path ⌈(n + f + 1) / 2⌉ commit votes. */
export function verifyCommit(c: Checker, seq: number, commit: CommitCertificate): boolean {
  const keys = c.ctx.keys.consensusKeysAt(seq);
  if (commit.kind === 'fast') return verifyBlsCertificate(DOMAIN_CONSENSUS, commitShareBytes(commit.view, seq, commit.digest), commit.cert, keys, c.epochs.quorumsAt(seq).fast);
  return verifyBlsCertificate(DOMAIN_CONSENSUS, slowCommitBytes(commit.view, seq, commit.digest), commit.cert, keys, c.epochs.quorumsAt(seq).slow);
}

/** `consensus/execution.ts`'s `verifyStable` (without the checkpoint-interval rule: that is run-time configuration). */
export function verifyCheckpoint(c: Checker, cert: CheckpointCertificate): boolean {
  return verifyBlsCertificate(DOMAIN_CHECKPOINT, checkpointBytes(cert.seq, cert.summary), cert.cert, c.ctx.keys.consensusKeysAt(cert.seq), c.epochs.quorumsAt(cert.seq).checkpoint);
}

/** A checkpoint names a block: it must be the stored one, with its state root. */
export async function matchCheckpoint(c: Checker, where: string, cert: CheckpointCertificate, kind: InconsistencyKind): Promise<void> {
  const number = BigInt(cert.summary.blockNumber);
  const hash = await c.blocks.canonicalHash(number);
  if (hash === undefined) fail(kind, where, `names block ${number}, which is not stored`);
  if (!equalBytes(hash, cert.summary.blockHash)) fail(kind, where, `names another hash for block ${number}`, toHex(hash), toHex(cert.summary.blockHash));
  const header = (await c.blocks.header(hash))!;
  if (!equalBytes(header.stateRoot, cert.summary.stateRoot)) {
    fail(kind, where, `names another state root for block ${number}`, toHex(header.stateRoot), toHex(cert.summary.stateRoot));
  }
}

/** Why a certificate failed, as "found": too few signers, or enough whose aggregate is not valid. */
export function signerList(cert: Certificate, n: number, quorum: number): string {
  try {
    const signers = [...SignerBitVector.decode(n, cert.signers).indices()];
    const who = `signers [${signers.join(', ')}]`;
    return signers.length < quorum ? `only ${signers.length} ${who}` : `${who} with an aggregate signature that does not verify`;
  } catch {
    return 'an unreadable signer list';
  }
}
