/**
 * The `bft_` namespace: what is ours. `bft_status` tells where the replicas stand — each one's own
 * signed account (view, view change under way, last executed and stable sequence numbers, head
 * block), its link from this node, and the figures at least f + 1 of them report reaching.
 */
import type { Block } from '@ethereumjs/block';
import type { CertificateEntry } from '../../codec/block-certificate.ts';
import type { CheckpointCertificate } from '../../codec/messages.ts';
import { reachedByFPlusOne } from '../../consensus/config.ts';
import type { KeyRecord, NodeKeyRecord } from '../../codec/reserved-pages.ts';
import { checkpointBytes, replyBytes } from '../../codec/signing.ts';
import { SignerBitVector } from '../../crypto/index.ts';
import type { ChainReader } from '../../execution/reader.ts';
import { RPC_CODES, RpcError } from '../errors.ts';
import { hexD, hexQ } from '../format.ts';
import { method, type MethodDef } from '../method.ts';
import { blockRef, data, quantity, type Param } from '../params.ts';
import type { NodeStatusPort } from '../ports.ts';
import { wrongNetwork } from '../../consensus/operator.ts';
import { decodeOperatorPayload, isOperatorPayload } from '../../codec/operator-command.ts';
import { decodeOperatorState } from '../../codec/reserved-pages.ts';
import { invalidParams } from '../errors.ts';
import { hexToBytes } from '../../crypto/hex.ts';

export interface BftBackend {
  readonly clientId: number;
  readonly f: number;
  readonly status: NodeStatusPort;
  readonly reader: ChainReader;
  /** The notices that certified a block in the mirror (`LedgerMirror.certificate`). */
  certificate(number: bigint): Promise<readonly CertificateEntry[] | undefined>;
  /** Stable checkpoints seen and verified (`CheckpointKeeper`). */
  readonly checkpoints: {
    readonly latest: CheckpointCertificate | null;
    get(seq: number): Promise<CheckpointCertificate | undefined>;
    keyAt(replica: number, seq: number): KeyRecord;
  };
  /** Checkpoint certificates need this many signers (⌈(n + f + 1) / 2⌉). */
  readonly checkpointQuorum: number;
  /** Submits an operator command (a client request carrying it); resolves to its result as the replicas executed it. */
  submitOperatorCommand(payload: Uint8Array): Promise<string>;
  /** Whether `signature` over `command` is the operator's (its key is in network.json). */
  verifyOperator(command: Uint8Array, signature: Uint8Array): boolean;
  /** The network's chain id: operator commands signed for another are refused here already. */
  readonly chainId: bigint;
  /** The last operator command nonce f + 1 replicas report executed, when known. */
  operatorNonce?(): number;
  /** Link state per replica id. */
  links(): readonly { readonly peer: number; readonly connected: boolean }[];
  /** The epoch of a node's execution, authentication or TLS key in effect at `seq`, as this node knows the history. */
  nodeKeyEpoch?(kind: 'execution' | 'tls', node: number, seq: number): number;
  head(): Block;
  /**
   * Each replica's execution keys, oldest first: epoch 0 from network.json, then every published
   * record (possession and endorsement signatures included), as this node's key book holds them.
   */
  executionKeyHistory?(): readonly (readonly NodeKeyRecord[])[];
}

/** `latest` or a sequence number. */
const checkpointRef: Param<'latest' | bigint> = (v, i) => {
  if (v === 'latest') return 'latest';
  const n = quantity(v, i);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidParams(i, 'sequence number too large');
  return n;
};

export function bftMethods(b: BftBackend): Map<string, MethodDef> {
  return new Map<string, MethodDef>([
    [
      'bft_submitOperatorCommand',
      // A command signed with the operator's key (`bulwark keys rotate` makes one). The replicas
      // check it again and execute it; this node checks the signature, chain id and nonce first, so
      // that nobody without the operator's key gets anything ordered through here. The answer is
      // the replicas' result, e.g. "rotation: replica 1 to consensus key epoch 2" or "refused: …".
      method([data(4096)], [], async ([payload]) => {
        if (!isOperatorPayload(payload)) throw invalidParams(0, 'not an operator command (bulwark keys rotate makes one)');
        let command: ReturnType<typeof decodeOperatorPayload>;
        try {
          command = decodeOperatorPayload(payload);
        } catch (err) {
          throw invalidParams(0, `not a valid operator command (${err instanceof Error ? err.message : 'malformed'})`);
        }
        if (!b.verifyOperator(command.bytes, command.signature)) {
          throw new RpcError(RPC_CODES.server, 'operator command refused: not signed with the operator key of network.json');
        }
        const elsewhere = wrongNetwork(command.command, b.chainId);
        if (elsewhere !== null) throw new RpcError(RPC_CODES.server, `operator command refused: ${elsewhere}`);
        const last = b.operatorNonce?.() ?? 0;
        if (command.command.nonce <= last) {
          throw new RpcError(RPC_CODES.server, `operator command refused: nonce ${command.command.nonce} is not above the last one executed (${last})`);
        }
        return b.submitOperatorCommand(payload);
      }),
    ],
    [
      'bft_getCheckpoint',
      // A stable checkpoint (the latest, or the one at a sequence number) with its BLS certificate:
      // anyone can check the aggregate signature against the signers' consensus keys in
      // network.json, over `signedMessage`, in the checkpoint domain. Null for one not seen here.
      method([], [checkpointRef], async ([ref]) => {
        const cert = ref === undefined || ref === 'latest' ? b.checkpoints.latest : await b.checkpoints.get(Number(ref));
        if (cert === null || cert === undefined) return null;
        const signers = SignerBitVector.decode(b.links().length, cert.cert.signers);
        return {
          seq: hexQ(cert.seq),
          blockNumber: hexQ(cert.summary.blockNumber),
          blockHash: hexD(cert.summary.blockHash),
          stateRoot: hexD(cert.summary.stateRoot),
          reservedDigest: hexD(cert.summary.reservedDigest),
          signers: [...signers.indices()],
          // Each signer's consensus key at that sequence number: its bootstrap key (epoch 0, in
          // network.json) or one it published through consensus.
          signerKeys: [...signers.indices()].map((r) => {
            const k = b.checkpoints.keyAt(r, cert.seq);
            return { replica: r, epoch: k.epoch, publicKey: hexD(k.publicKey) };
          }),
          quorum: b.checkpointQuorum,
          signature: hexD(cert.cert.signature),
          signedMessage: hexD(checkpointBytes(cert.seq, cert.summary)),
          domain: 'BULWARK-V1/CHECKPOINT',
        };
      }),
    ],
    [
      'bft_getBlockCertificate',
      // What anyone can check against the replicas' execution keys in network.json: f + 1
      // Ed25519 signatures over the same message, which names the block's hash and state root.
      method([blockRef], [], async ([ref]) => {
        const head = b.head().header.number;
        let number: bigint;
        if ('tag' in ref) number = ref.tag === 'earliest' ? 0n : head;
        else if ('number' in ref) number = ref.number;
        else {
          try {
            number = (await b.reader.block(hexToBytes(ref.hash))).header.number;
          } catch {
            return null;
          }
        }
        if (number > head) return null;
        const notices = await b.certificate(number);
        if (notices === undefined || notices.length === 0) {
          throw new RpcError(RPC_CODES.server, `no certificate kept for block ${number}: it was stored as the ancestor of a certified block, and is covered by that block's certificate through parent hashes`);
        }
        const n = notices[0]!.notice;
        return {
          blockNumber: hexQ(BigInt(n.summary.blockNumber)),
          blockHash: hexD(n.summary.blockHash),
          stateRoot: hexD(n.summary.stateRoot),
          reservedDigest: hexD(n.summary.reservedDigest),
          seq: hexQ(n.seq),
          resultsRoot: hexD(n.resultsRoot),
          signedMessage: hexD(replyBytes(n.seq, n.summary, n.resultsRoot)),
          signatures: notices.map((e) => ({ replica: e.replica, signature: hexD(e.notice.signature) })),
        };
      }),
    ],
    [
      'bft_getExecutionKeys',
      // Every replica's execution keys over time, for checking block certificates elsewhere (the
      // explorer does it in the browser). Epoch 0 is the network file's key: the anchor. Each later
      // key carries its possession signature (by itself) and endorsement (by the key before it)
      // over the statement `node-keys.ts` defines, so the chain back to network.json can be checked
      // without trusting this node; `effectiveSeq` is the first sequence number it signs.
      method([], [], async () => {
        const history = b.executionKeyHistory?.() ?? [];
        return {
          f: b.f,
          replicas: history.map((records, replica) => ({
            replica,
            keys: records.map((r) => ({
              epoch: r.epoch,
              algorithm: 'ed25519',
              publicKey: hexD(r.publicKey),
              effectiveSeq: r.effectiveSeq,
              publishedSeq: r.publishedSeq,
              ...(r.epoch === 0 ? { source: 'network.json' } : { possession: hexD(r.possession), endorsement: hexD(r.endorsement) }),
            })),
          })),
        };
      }),
    ],
    [
      'bft_status',
      method([], [], async () => {
        const round = await b.status.query();
        const answered = round.replicas.filter((r) => r !== null);
        const view = reachedByFPlusOne(answered.map((r) => r.view), b.f);
        const links = new Map(b.links().map((l) => [l.peer, l.connected]));
        const head = b.head();
        // Each replica's operator state (an undecodable one counts as none).
        const operatorOf = (operator: Uint8Array) => {
          try {
            return decodeOperatorState(operator);
          } catch {
            return null;
          }
        };
        // The configuration epoch f + 1 replicas reached, and the network file a reconfiguration
        // under way names, when f + 1 replicas name the same one.
        // By replica (null: no answer, or an undecodable state), each decoded once.
        const stateOf = round.replicas.map((r) => (r === null ? null : operatorOf(r.operator)));
        const states = stateOf.filter((_, id) => round.replicas[id] !== null);
        const configurationEpoch = reachedByFPlusOne(states.map((s) => s?.configuration.epoch ?? 0), b.f);
        const pending = new Map<string, number>();
        for (const s of states) if (s?.reconfiguration) pending.set(hexD(s.reconfiguration), (pending.get(hexD(s.reconfiguration)) ?? 0) + 1);
        const reconfiguration = [...pending].find(([, count]) => count > b.f)?.[0] ?? null;
        const stableCheckpoint = reachedByFPlusOne(answered.map((r) => r.lastStable), b.f);
        const wedgeAt = reachedByFPlusOne(states.map((s) => s?.wedgeAt ?? 0), b.f);
        return {
          client: b.clientId,
          replicas: round.replicas.length,
          f: b.f,
          view,
          primary: view % round.replicas.length,
          lastExecuted: reachedByFPlusOne(answered.map((r) => r.lastExecuted), b.f),
          stableCheckpoint,
          // Being wedged (`bulwark wedge`): nothing is ordered after `at` but an unwedge; `wedged`
          // once f + 1 replicas have a stable checkpoint there — every replica at the same state.
          wedge: wedgeAt === 0 ? null : { at: wedgeAt, wedged: stableCheckpoint >= wedgeAt },
          // `bulwark reconfigure`: the configuration epoch in effect, and the network file (sha256)
          // to restart every node with at the wedge point while a change is under way.
          configuration: { epoch: configurationEpoch, reconfiguringTo: reconfiguration },
          mirror: { block: Number(head.header.number), hash: hexD(head.hash()) },
          nodes: round.replicas.map((r, id) => ({
            replica: id,
            link: links.get(id) === true ? 'up' : 'down',
            ...(r === null
              ? { answered: false }
              : {
                  answered: true,
                  view: r.view,
                  viewChange: !r.active,
                  lastExecuted: r.lastExecuted,
                  stableCheckpoint: r.lastStable,
                  wedgeAt: stateOf[id]?.wedgeAt || null,
                  keyEpoch: r.keyEpoch,
                  ...(b.nodeKeyEpoch === undefined
                    ? {}
                    : { executionKeyEpoch: b.nodeKeyEpoch('execution', id, r.lastExecuted + 1), tlsKeyEpoch: b.nodeKeyEpoch('tls', id, r.lastExecuted + 1) }),
                  block: r.blockNumber,
                  blockHash: hexD(r.blockHash),
                }),
          })),
        };
      }),
    ],
  ]);
}
