/**
 * The production `ConsensusCrypto`: BLS12-381 over `@chainsafe/blst` for consensus shares,
 * certificates and checkpoints (domain-separated, keys registered only with a verified proof of
 * possession), Ed25519 for execution signatures and client requests, SHA-256 for digests.
 * Anything malformed from the network verifies as false; nothing here throws on bad input.
 */
import type { Certificate, ClientRequest } from '../codec/messages.ts';
import { requestSigningBytes } from '../codec/signing.ts';
import {
  DOMAIN_CHECKPOINT,
  DOMAIN_CONSENSUS,
  SignerBitVector,
  aggregateSerializedBlsSignatures,
  blsSign,
  blsSignatureFromBytes,
  blsSignatureToBytes,
  blsVerify,
  blsPublicKeyFromBytes,
  blsPublicKeyToBytes,
  sha256,
  signNodeAuth,
  verifyAggregate,
  verifyAggregates,
  verifyNodeAuth,
  verifyPossession,
  exportNodeAuthPublicKey,
  type BlsPublicKey,
  type BlsSecretKey,
  type BlsSignature,
  type NodeAuthPrivateKey,
  type NodeAuthPublicKey,
} from '../crypto/index.ts';
import type { AggregateCheck } from '../crypto/bls.ts';
import { nodeKeyScheme } from './node-key-scheme.ts';
import { AUTH_KEY_GRACE_SEQS, type CertificateCheck, type ReplicaCrypto, type Share, type SigningDomain } from './crypto.ts';
import { KeyBook, type KeyHistory } from './keys.ts';
import type { KeyRecord } from '../codec/reserved-pages.ts';
import { NodeKeyBook } from './node-keys.ts';
import type { NodeKeyKind } from '../codec/reserved-pages.ts';

/**
 * The node key book of a network (`node-keys.ts`), starting from the network file's keys: every
 * replica's execution key and every client node's authentication key (SPKI DER), every node's TLS
 * certificate (DER).
 */
export function nodeKeyBookFor(network: {
  replicas: readonly { id: number; executionKey: NodeAuthPublicKey; tlsCertificate?: { der: Uint8Array } }[];
  clients: readonly { id: number; authKey: NodeAuthPublicKey; tlsCertificate?: { der: Uint8Array } }[];
}): NodeKeyBook<NodeAuthPublicKey> {
  const initial: { kind: NodeKeyKind; node: number; publicKey: Uint8Array; key: NodeAuthPublicKey }[] = [];
  const tls = (node: number, der: Uint8Array | undefined) => {
    const key = der === undefined ? null : nodeKeyScheme.parse('tls', der);
    if (der !== undefined && key !== null) initial.push({ kind: 'tls', node, publicKey: der, key });
  };
  for (const r of network.replicas) {
    initial.push({ kind: 'execution', node: r.id, publicKey: exportNodeAuthPublicKey(r.executionKey), key: r.executionKey });
    tls(r.id, r.tlsCertificate?.der);
  }
  for (const c of network.clients) {
    initial.push({ kind: 'auth', node: c.id, publicKey: exportNodeAuthPublicKey(c.authKey), key: c.authKey });
    tls(c.id, c.tlsCertificate?.der);
  }
  return new NodeKeyBook(nodeKeyScheme, initial);
}

/**
 * A network's key history as the production crypto reads it (`keys.ts`, `KeyHistory`): the
 * replicas' bootstrap consensus keys (each one's proof of possession already verified) and the
 * network file's other keys (`nodeKeyBookFor`). The replica's state holds it from then on.
 */
export function blsKeyHistory(o: {
  /** Replica i's bootstrap consensus key at index i. */
  readonly consensusPublic: readonly BlsPublicKey[];
  /** The bootstrap keys' proofs of possession (kept in the key history); empty when not known. */
  readonly bootstrapProofs?: readonly Uint8Array[];
  /** Every node's execution, authentication and TLS keys from the network file. */
  readonly nodeKeys: NodeKeyBook<NodeAuthPublicKey>;
}): KeyHistory {
  const consensus = new KeyBook<BlsPublicKey>(
    o.consensusPublic.map((pk, r) => ({ publicKey: blsPublicKeyToBytes(pk), proofOfPossession: o.bootstrapProofs?.[r] ?? new Uint8Array(), key: pk })),
  );
  return { consensus, node: o.nodeKeys };
}

export interface ConsensusKeys {
  /** This replica's id (its own keys are looked up under it). */
  readonly self: number;
  /** This replica's consensus secrets by epoch (the bootstrap key is epoch 0); more come with `addSecret`. */
  readonly consensusSecrets: ReadonlyMap<number, BlsSecretKey>;
  /** The key history to verify against (`blsKeyHistory`), which the replica's state also holds and alone changes. */
  readonly history: KeyHistory;
  /** This replica's execution secrets by epoch (epoch 0: the network file's); more come with `addExecutionSecret`. */
  readonly executionSecrets: ReadonlyMap<number, NodeAuthPrivateKey>;
  /** The operator's key (operator commands); none: every command is refused. */
  readonly operatorPublic?: NodeAuthPublicKey;
}

/** The production crypto, with the shell's handle on this replica's own secrets (BLS consensus secrets). */
export type BlsConsensusCrypto = ReplicaCrypto<BlsSecretKey>;

function domainOf(d: SigningDomain) {
  return d === 'consensus' ? DOMAIN_CONSENSUS : DOMAIN_CHECKPOINT;
}

function decodeSig(bytes: Uint8Array): BlsSignature | null {
  try {
    return blsSignatureFromBytes(bytes);
  } catch {
    return null;
  }
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const checkKey = (domain: SigningDomain, keySet: string, message: Uint8Array, cert: Certificate, minSigners: number) =>
  `${domain}:${keySet}:${minSigners}:${hex(cert.signers)}:${hex(cert.signature)}:${hex(message)}`;
/** Certificates verified ahead of time, remembered until looked up (bounded). */
const PREVERIFIED_MAX = 4096;

export function createBlsConsensusCrypto(keys: ConsensusKeys): BlsConsensusCrypto {
  // The books hold what this crypto parsed (`possessedKey`, `nodeKeyScheme`): BLS and Ed25519 keys.
  const book = keys.history.consensus as KeyBook<BlsPublicKey>;
  const nodeKeys = keys.history.node as NodeKeyBook<NodeAuthPublicKey>;
  const n = book.n;
  const preverified = new Set<string>();
  /** The key set in effect at `seq`, named so that a certificate checked under it is not taken under another. */
  const keySet = (seq: number) => `${book.version}/${book.keySetId(seq)}`;
  const secrets = new Map(keys.consensusSecrets);
  const executionSecrets = new Map(keys.executionSecrets);
  const signers = (cert: Certificate): SignerBitVector | null => {
    try {
      return SignerBitVector.decode(n, cert.signers);
    } catch {
      return null;
    }
  };
  /** The record's public key if it is well-formed and its proof of possession verifies. */
  const possessed = (record: KeyRecord): BlsPublicKey | null => {
    try {
      const pk = blsPublicKeyFromBytes(record.publicKey);
      return verifyPossession(pk, blsSignatureFromBytes(record.proofOfPossession)) ? pk : null;
    } catch {
      return null;
    }
  };
  const secretAt = (seq: number): BlsSecretKey => {
    const epoch = book.recordAt(keys.self, seq).epoch;
    const sk = secrets.get(epoch);
    // Signing with a key this replica no longer (or never) held is a wiring bug, never an input.
    if (sk === undefined) throw new Error(`replica ${keys.self} holds no secret for key epoch ${epoch} (sequence ${seq})`);
    return sk;
  };
  return {
    digest: sha256,
    sign: (domain, message, seq) => blsSignatureToBytes(blsSign(domainOf(domain), secretAt(seq), message)),
    verifyShare(domain, replica, message, signature, seq) {
      const pk = book.keyAt(replica, seq);
      const sig = decodeSig(signature);
      return pk !== undefined && sig !== null && blsVerify(domainOf(domain), pk, message, sig);
    },
    combine(shares: readonly Share[]): Certificate {
      const signers = SignerBitVector.fromIndices(n, shares.map((sh) => sh.replica)).encode();
      const sum = shares.length === 0 ? null : aggregateSerializedBlsSignatures(shares.map((sh) => sh.signature));
      // A share that is not even a curve point spoils the aggregate, which then fails its check
      // and sends the collector to per-share verification.
      return { signers, signature: sum ?? new Uint8Array(96) };
    },
    preverify(checks: readonly CertificateCheck[]) {
      // One combined check per key set: certificates signed under different keys cannot share one.
      const bySet = new Map<string, { seq: number; entries: { key: string; check: AggregateCheck }[] }>();
      for (const c of checks) {
        const bv = signers(c.cert);
        const sig = decodeSig(c.cert.signature);
        if (bv === null || sig === null || bv.count() < c.minSigners) continue;
        const set = keySet(c.seq);
        const key = checkKey(c.domain, set, c.message, c.cert, c.minSigners);
        if (preverified.has(key)) continue;
        let group = bySet.get(set);
        if (group === undefined) bySet.set(set, (group = { seq: c.seq, entries: [] }));
        group.entries.push({ key, check: { domain: domainOf(c.domain), message: c.message, signature: sig, signers: bv, minSigners: c.minSigners } });
      }
      for (const { seq, entries } of bySet.values()) {
        if (entries.length < 2 || !verifyAggregates(entries.map((g) => g.check), book.keysAt(seq))) continue;
        if (preverified.size + entries.length > PREVERIFIED_MAX) preverified.clear();
        for (const g of entries) preverified.add(g.key);
      }
    },
    verifyCertificate(domain, message, cert, minSigners, seq) {
      if (preverified.size > 0) {
        const key = checkKey(domain, keySet(seq), message, cert, minSigners);
        if (preverified.delete(key)) return true;
      }
      const bv = signers(cert);
      const sig = decodeSig(cert.signature);
      if (bv === null || sig === null || bv.count() < minSigners) return false;
      try {
        return verifyAggregate(domainOf(domain), message, sig, bv, book.keysAt(seq), minSigners);
      } catch {
        return false;
      }
    },
    signExecution(message, seq) {
      const epoch = nodeKeys.recordAt('execution', keys.self, seq)?.epoch ?? 0;
      // Missing only if the secret was retired, which waits until no reply can need it.
      const secret = executionSecrets.get(epoch) ?? [...executionSecrets.values()].at(-1);
      if (secret === undefined) throw new Error(`replica ${keys.self} holds no execution key`);
      return signNodeAuth(secret, message);
    },
    verifyExecution(replica, message, signature, seq) {
      const pk = nodeKeys.keyAt('execution', replica, seq);
      return pk !== undefined && verifyNodeAuth(pk, message, signature);
    },
    verifyRequest(request: ClientRequest, seq: number) {
      if (request.clientId < n) {
        // A replica's own request (a key exchange), signed with its consensus key in effect.
        const pk = book.keyAt(request.clientId, seq);
        const sig = decodeSig(request.signature);
        return pk !== undefined && sig !== null && blsVerify(DOMAIN_CONSENSUS, pk, requestSigningBytes(request), sig);
      }
      const bytes = requestSigningBytes(request);
      return nodeKeys.keysFor('auth', request.clientId, seq, AUTH_KEY_GRACE_SEQS).some((pk) => verifyNodeAuth(pk, bytes, request.signature));
    },
    signRequest: (bytes, seq) => blsSignatureToBytes(blsSign(DOMAIN_CONSENSUS, secretAt(seq), bytes)),
    possessedKey: (record) => possessed(record),
    verifyOperator: (message, signature) => keys.operatorPublic !== undefined && verifyNodeAuth(keys.operatorPublic, message, signature),
    canSign: (seq) => secrets.has(book.recordAt(keys.self, seq).epoch),
    addSecret: (epoch, secret) => void secrets.set(epoch, secret),
    forgetSecret: (epoch) => void secrets.delete(epoch),
    secretEpochs: () => [...secrets.keys()].sort((a, b) => a - b),
    addExecutionSecret: (epoch, secret) => void executionSecrets.set(epoch, secret),
    forgetExecutionSecret: (epoch) => void executionSecrets.delete(epoch),
  };
}
