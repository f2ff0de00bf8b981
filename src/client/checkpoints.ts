/**
 * The stable checkpoints this client node has seen, for `bft_getCheckpoint`. Replicas attach their
 * latest stable checkpoint to each status answer; its certificate — ⌈(n + f + 1) / 2⌉ BLS signatures over
 * (sequence number, block, state root, reserved-pages digest) in the checkpoint domain — is checked
 * here against the replicas' consensus keys in effect at its sequence number, and only then kept
 * (in the mirror's store, by sequence number).
 *
 * The keys: the bootstrap keys from `network.json`, then each key the replicas published through
 * consensus (`consensus/keys.ts`), learnt from their status answers — a record is taken when f + 1
 * replicas report it identically (so at least one honest one) and its proof of possession verifies.
 */
import { RetryingWriter } from './retrying-writer.ts';
import { Reader, Writer } from '../codec/binary.ts';
import { BulwarkError } from '../common/errors.ts';
import { readCheckpointCert, writeCheckpointCert } from '../codec/message-codec.ts';
import type { CheckpointCertificate, Message } from '../codec/messages.ts';
import { checkpointBytes } from '../codec/signing.ts';
import { takeReportedRecords } from './reported-records.ts';
import { KeyBook } from '../consensus/keys.ts';
import { decodeKeyRecord, type KeyRecord } from '../codec/reserved-pages.ts';
import {
  DOMAIN_CHECKPOINT,
  SignerBitVector,
  blsPublicKeyFromBytes,
  blsPublicKeyToBytes,
  blsSignatureFromBytes,
  verifyAggregate,
  verifyPossession,
  type BlsPublicKey,
} from '../crypto/index.ts';
import { ReservedPages } from '../ledger/reserved-pages.ts';
import { bytesCodec, createRepository, uint64Codec, type KvStore, type Repository } from '../storage/index.ts';

export class CheckpointKeeper {
  readonly #book: KeyBook<BlsPublicKey>;
  readonly #f: number;
  /** Each replica's latest report of the published key records (encoded, hex). */
  readonly #reports = new Map<number, Set<string>>();
  readonly #quorum: number;
  readonly #store: Repository<bigint, Uint8Array>;
  /** The key table (`ledger/reserved-pages.ts`): the records taken, as a replica's reserved pages hold them. */
  readonly #pages: ReservedPages;
  /** Records kept for restarts: a failed write (a full disk) is reported and tried again, not thrown. */
  readonly #writer: RetryingWriter;
  /** A write of a kept record failed (it is tried again). */
  onStoreError: (err: unknown) => void = () => undefined;

  /** Writes of kept records that failed (each tried again). */
  get storeFailures(): number {
    return this.#writer.failures;
  }
  #latest: CheckpointCertificate | null = null;
  /** Certificates that did not verify. */
  invalid = 0;

  private constructor(kv: KvStore, keys: readonly BlsPublicKey[], f: number, quorum: number, store: Repository<bigint, Uint8Array>) {
    this.#writer = new RetryingWriter(kv, (err) => this.onStoreError(err));
    this.#pages = new ReservedPages(kv);
    this.#book = new KeyBook(keys.map((key) => ({ publicKey: blsPublicKeyToBytes(key), proofOfPossession: new Uint8Array(), key })));
    this.#f = f;
    this.#quorum = quorum;
    this.#store = store;
  }

  /** `consensusKeys`: the bootstrap keys; `quorum`: the signers a checkpoint certificate needs (⌈(n + f + 1) / 2⌉). */
  static async open(kv: KvStore, consensusKeys: readonly BlsPublicKey[], f: number, quorum: number): Promise<CheckpointKeeper> {
    const store = createRepository(kv, 'checkpointCertificate', uint64Codec, bytesCodec);
    const keeper = new CheckpointKeeper(kv, consensusKeys, f, quorum, store);
    for await (const [, bytes] of store.entries({ reverse: true, limit: 1 })) keeper.#latest = decode(bytes);
    // The keys learnt before a restart (each checked when it was taken).
    try {
      for await (const record of keeper.#pages.keyRecords()) {
        // A replica a reconfiguration removed: its records stay, it is no replica of this network file.
        if (record.replica >= keeper.#book.n) continue;
        keeper.#book.add(record, blsPublicKeyFromBytes(record.publicKey));
      }
    } catch (cause) {
      throw new BulwarkError('LEDGER_CORRUPT', `the client node's key table holds a record that does not decode or follow the previous one`, { location: kv.location }, { cause });
    }
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

  /** The consensus key replica `r` signs sequence number `seq` with, as far as this node knows. */
  keyAt(r: number, seq: number): KeyRecord {
    return this.#book.recordAt(r, seq);
  }

  /** Looks at replica `from`'s status answer: keys reported by f + 1, then a newer stable checkpoint that verifies. */
  onMessage(from: number, m: Message): void {
    if (m.type !== 'NodeStatus') return;
    this.#learnKeys(from, m.keys);
    if (m.stable === null) return;
    const cert = m.stable;
    if (this.#latest !== null && cert.seq <= this.#latest.seq) return;
    if (!this.verify(cert)) {
      this.invalid++;
      return;
    }
    this.#latest = cert;
    this.#writer.write([this.#store.putOp(BigInt(cert.seq), encode(cert))]);
  }

  #learnKeys(from: number, keys: readonly Uint8Array[]): void {
    if (from < 0 || from >= this.#book.n) return;
    // Each replica's latest report replaces its previous one: a replica that floods records
    // holds at most one report's worth, and cannot crowd out the others'.
    this.#reports.set(from, new Set(keys.map((k) => Buffer.from(k).toString('hex'))));
    takeReportedRecords(this.#reports.values(), this.#f, (bytes) => {
      let record: KeyRecord;
      let pk: BlsPublicKey;
      try {
        record = decodeKeyRecord(bytes);
        if (record.replica >= this.#book.n || record.epoch <= this.#book.latest(record.replica).epoch) return 'drop';
        if (record.epoch !== this.#book.latest(record.replica).epoch + 1) return 'wait';
        pk = blsPublicKeyFromBytes(record.publicKey);
        if (!verifyPossession(pk, blsSignatureFromBytes(record.proofOfPossession))) return 'drop';
        this.#book.add(record, pk);
      } catch {
        return 'drop';
      }
      // Kept with the checkpoints, so the key history survives a restart and `verify-ledger` can use it.
      this.#writer.write([this.#pages.keyRecordOp(record)]);
      return 'taken';
    });
  }

  /** Whether ⌈(n + f + 1) / 2⌉ replicas signed this checkpoint, with their keys in effect at its sequence number. */
  verify(cert: CheckpointCertificate): boolean {
    try {
      const signers = SignerBitVector.decode(this.#book.n, cert.cert.signers);
      if (signers.count() < this.#quorum) return false;
      const signature = blsSignatureFromBytes(cert.cert.signature);
      return verifyAggregate(DOMAIN_CHECKPOINT, checkpointBytes(cert.seq, cert.summary), signature, signers, this.#book.keysAt(cert.seq), this.#quorum);
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
