/**
 * The stable checkpoints this client node has seen, for `bft_getCheckpoint`. Replicas attach their
 * latest stable checkpoint to each status answer; its certificate — 2f + c + 1 BLS signatures over
 * (sequence number, block, state root, reserved-pages digest) in the checkpoint domain — is checked
 * here against the replicas' consensus keys, and only then kept (in the mirror's store, by
 * sequence number). Anyone can check it again from `network.json`, which is the point.
 */
import { Reader, Writer } from '../codec/binary.ts';
import { readCheckpointCert, writeCheckpointCert } from '../codec/message-codec.ts';
import type { CheckpointCertificate, Message } from '../codec/messages.ts';
import { checkpointBytes } from '../codec/signing.ts';
import { DOMAIN_CHECKPOINT, SignerBitVector, blsSignatureFromBytes, verifyAggregate, type BlsPublicKey } from '../crypto/index.ts';
import { bytesCodec, createRepository, uint64Codec, type KvStore, type Repository } from '../storage/index.ts';

export class CheckpointKeeper {
  readonly #keys: readonly BlsPublicKey[];
  readonly #quorum: number;
  readonly #store: Repository<bigint, Uint8Array>;
  readonly #kv: KvStore;
  #latest: CheckpointCertificate | null = null;
  /** Certificates that did not verify. */
  invalid = 0;

  private constructor(kv: KvStore, keys: readonly BlsPublicKey[], quorum: number, store: Repository<bigint, Uint8Array>) {
    this.#kv = kv;
    this.#keys = keys;
    this.#quorum = quorum;
    this.#store = store;
  }

  /** `quorum`: the signers a checkpoint certificate needs (2f + c + 1). */
  static async open(kv: KvStore, consensusKeys: readonly BlsPublicKey[], quorum: number): Promise<CheckpointKeeper> {
    const store = createRepository(kv, 'checkpointCertificate', uint64Codec, bytesCodec);
    const keeper = new CheckpointKeeper(kv, consensusKeys, quorum, store);
    for await (const [, bytes] of store.entries({ reverse: true, limit: 1 })) keeper.#latest = decode(bytes);
    return keeper;
  }

  /** The latest stable checkpoint seen and verified, or null before the first. */
  get latest(): CheckpointCertificate | null {
    return this.#latest;
  }

  async get(seq: number): Promise<CheckpointCertificate | undefined> {
    const bytes = await this.#store.get(BigInt(seq));
    return bytes === undefined ? undefined : decode(bytes);
  }

  /** Looks at a replica's status answer: a newer stable checkpoint that verifies is kept. */
  onMessage(m: Message): void {
    if (m.type !== 'NodeStatus' || m.stable === null) return;
    const cert = m.stable;
    if (this.#latest !== null && cert.seq <= this.#latest.seq) return;
    if (!this.verify(cert)) {
      this.invalid++;
      return;
    }
    this.#latest = cert;
    void this.#kv.write([this.#store.putOp(BigInt(cert.seq), encode(cert))]);
  }

  /** Whether 2f + c + 1 replicas' consensus keys signed this checkpoint. */
  verify(cert: CheckpointCertificate): boolean {
    try {
      const signers = SignerBitVector.decode(this.#keys.length, cert.cert.signers);
      if (signers.count() < this.#quorum) return false;
      const signature = blsSignatureFromBytes(cert.cert.signature);
      return verifyAggregate(DOMAIN_CHECKPOINT, checkpointBytes(cert.seq, cert.summary), signature, signers, this.#keys, this.#quorum);
    } catch {
      return false;
    }
  }
}

function encode(cert: CheckpointCertificate): Uint8Array {
  const w = new Writer(512);
  writeCheckpointCert(w, cert);
  return w.finish();
}

function decode(bytes: Uint8Array): CheckpointCertificate {
  const r = new Reader(bytes);
  const cert = readCheckpointCert(r);
  r.end();
  return cert;
}
