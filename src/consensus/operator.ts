/**
 * Operator commands (issue #7): the operator of the trusted setup holds an Ed25519 key whose public
 * half is in the network file. A command signed with it — rotate keys: replicas' consensus or
 * execution keys, client nodes' authentication keys, any node's TLS certificate — reaches the replicas as an ordinary client request (any client node carries it; the
 * signature, not the carrier, authorises it) and is executed by the state machine, not the
 * application: deterministically, from the batch and the reserved pages alone.
 *
 * A rotation records, per named node and kind, the key epoch it must move to (its latest + 1); each
 * named node then publishes a key for that epoch — consensus keys through the key exchange
 * (`key-exchange.ts`), the others as node keys (`node-keys.ts`) — which takes effect at an agreed
 * checkpoint boundary like the first one. Refused: a bad signature, a command signed for another
 * chain id, a nonce not above the last one executed (replays), and a rotation sooner than
 * `minRotationIntervalSec` after the previous one (by block time).
 *
 * The signed bytes name the chain id (version 2), so a command signed for one network cannot be
 * replayed on another that shares the operator's key. Version 1 named none; such commands are still
 * executed when signed before `V1_SIGNED_BEFORE_MS` (their nonce is the signing time), so that a
 * replica re-executing history decides as it did, and refused after it.
 */
import type { ClientRequest } from '../codec/messages.ts';
import { decodeOperatorPayload, isOperatorPayload, type SignedCommand } from '../codec/operator-command.ts';
import type { NodeKeyKind, OperatorState } from '../codec/reserved-pages.ts';
import { isClientId } from './config.ts';
import { effectiveSeqFor } from './keys.ts';
import { parseSlotName, slotName } from './node-keys.ts';
import type { ReplicaState } from './state.ts';

const utf8 = new TextEncoder();

/**
 * Commands in the version without a chain id are accepted only with a nonce (signing time, ms)
 * before this instant, 2026-12-07T00:00Z: what was signed before the chain id came in. A replay from
 * another network is then also refused as soon as this network has executed any later command.
 */
export const V1_SIGNED_BEFORE_MS = Date.UTC(2026, 11, 7);


/**
 * Why a well-signed command is not for this network, or null when it is: signed for another chain
 * id, or in version 1 (no chain id) and signed after `V1_SIGNED_BEFORE_MS`.
 */
export function wrongNetwork(command: SignedCommand, chainId: bigint): string | null {
  if (command.chainId === null) {
    return command.nonce < V1_SIGNED_BEFORE_MS ? null : 'the command names no chain id (version 1): sign it again with this version of bulwark keys rotate';
  }
  return command.chainId === chainId ? null : `the command was signed for chain id ${command.chainId}, this network is chain id ${chainId}`;
}

/**
 * Executes one operator command at sequence number `seq`, block time `timestamp` (s), on top of
 * `state`: the outcome (a result for the reply) and the operator state after it.
 */
export function executeOperatorCommand(
  s: ReplicaState,
  state: OperatorState,
  seq: number,
  timestamp: number,
  request: ClientRequest,
): { result: Uint8Array; state: OperatorState } {
  const refuse = (why: string) => ({ result: utf8.encode(`refused: ${why}`), state });
  let decoded: ReturnType<typeof decodeOperatorPayload>;
  try {
    decoded = decodeOperatorPayload(request.payload);
  } catch (err) {
    return refuse(`not a valid operator command (${err instanceof Error ? err.message : 'malformed'})`);
  }
  const { command, bytes, signature } = decoded;
  if (!s.crypto.verifyOperator(bytes, signature)) return refuse('not signed with the operator key');
  const elsewhere = wrongNetwork(command, BigInt(s.cfg.chainId));
  if (elsewhere !== null) return refuse(elsewhere);
  if (command.nonce <= state.nonce) return refuse(`nonce ${command.nonce} is not above the last one executed (${state.nonce})`);
  if (command.kind === 'wedge') {
    if (state.wedgeAt > 0) return refuse(`the network is already wedged at sequence number ${state.wedgeAt}`);
    const wedgeAt = effectiveSeqFor(seq, s.cfg) - 1;
    return { result: utf8.encode(`wedge: nothing is ordered after sequence number ${wedgeAt} until unwedged`), state: { ...state, nonce: command.nonce, wedgeAt } };
  }
  if (command.kind === 'reconfigure') {
    if (state.wedgeAt > 0) return refuse(`the network is already wedged at sequence number ${state.wedgeAt}: unwedge it first`);
    const wedgeAt = effectiveSeqFor(seq, s.cfg) - 1;
    const digest = Buffer.from(command.network).toString('hex');
    return {
      result: utf8.encode(
        `reconfigure: nothing is ordered after sequence number ${wedgeAt}; restart every node there with the network file of sha256 ${digest} (configuration epoch ${state.configuration.epoch + 1})`,
      ),
      state: { ...state, nonce: command.nonce, wedgeAt, reconfiguration: command.network },
    };
  }
  if (command.kind === 'unwedge') {
    if (state.wedgeAt === 0) return refuse('the network is not wedged');
    // Executed only beyond the wedge point (nothing else is ordered there): at a stable checkpoint.
    // A reconfiguration not yet taken up (the nodes were not restarted with its file) is called off.
    const cancelled = state.reconfiguration === null ? '' : ` (the reconfiguration to network file sha256 ${Buffer.from(state.reconfiguration).toString('hex')} is called off)`;
    return {
      result: utf8.encode(`unwedge: ordering resumes after sequence number ${state.wedgeAt}${cancelled}`),
      state: { ...state, nonce: command.nonce, wedgeAt: 0, reconfiguration: null },
    };
  }
  // A rotation needs key publications ordered after it: none while the network is wedged.
  if (state.wedgeAt > 0) return refuse(`the network is wedged at sequence number ${state.wedgeAt}: unwedge it first`);
  const unique = (list: readonly number[]) => [...new Set(list)].sort((a, b) => a - b);
  const consensus = unique(command.consensus);
  // As `isReplica` / `isClient` in state.ts, which imports this module.
  const isReplica = (id: number) => id >= 0 && id < s.q.n;
  const isClient = (id: number) => isClientId(s.cfg, s.q.n, id);
  const node: Record<NodeKeyKind, readonly number[]> = { execution: unique(command.execution), auth: unique(command.auth), tls: unique(command.tls) };
  if (consensus.length + node.execution.length + node.auth.length + node.tls.length === 0) return refuse('the command names no key to rotate');
  if (!consensus.every(isReplica) || !node.execution.every(isReplica)) return refuse('the command names a replica that does not exist');
  if (!node.auth.every(isClient)) return refuse('the command names a client node that does not exist');
  if (!node.tls.every((id) => isReplica(id) || isClient(id))) return refuse('the command names a node that does not exist');
  if (state.lastRotationAt > 0 && timestamp - state.lastRotationAt < s.cfg.minRotationIntervalSec) {
    return refuse(`too soon: the previous rotation was ${timestamp - state.lastRotationAt} s ago, the minimum interval is ${s.cfg.minRotationIntervalSec} s`);
  }
  const targets = new Map(state.targets);
  const done: string[] = [];
  for (const r of consensus) {
    targets.set(r, Math.max(targets.get(r) ?? 0, s.keys.consensus.latest(r).epoch) + 1);
    done.push(`replica ${r} to consensus key epoch ${targets.get(r)}`);
  }
  const nodeTargets = new Map(state.nodeTargets);
  for (const kind of ['execution', 'auth', 'tls'] as const) {
    for (const id of node[kind]) {
      const slot = slotName(kind, id);
      const latest = s.keys.node.latest(kind, id)?.epoch ?? 0;
      nodeTargets.set(slot, Math.max(nodeTargets.get(slot) ?? 0, latest) + 1);
      done.push(`${isReplica(id) ? 'replica' : 'client node'} ${id} to ${kind} key epoch ${nodeTargets.get(slot)}`);
    }
  }
  const next: OperatorState = { ...state, nonce: command.nonce, lastRotationAt: timestamp, targets, nodeTargets };
  return { result: utf8.encode(`rotation: ${done.join(', ')}`), state: next };
}

/**
 * Whether a request may be ordered beyond the wedge point: a well-formed unwedge for this network,
 * signed with the operator key, with a nonce above the last executed. Checked by the primary when it
 * fills such a batch and by every backup before it votes for one, so that nothing else — not even a
 * Byzantine primary's — runs while the network is wedged.
 */
export function isValidUnwedge(s: ReplicaState, request: ClientRequest): boolean {
  if (!isOperatorPayload(request.payload)) return false;
  try {
    const { command, bytes, signature } = decodeOperatorPayload(request.payload);
    return (
      command.kind === 'unwedge' &&
      command.nonce > s.operator.nonce &&
      wrongNetwork(command, BigInt(s.cfg.chainId)) === null &&
      s.crypto.verifyOperator(bytes, signature)
    );
  } catch {
    return false;
  }
}

/** Whether the network is wedged at `seq`: beyond the wedge point, where only an unwedge is ordered. */
export function wedgedAt(s: ReplicaState, seq: number): boolean {
  return s.operator.wedgeAt > 0 && seq > s.operator.wedgeAt;
}

/** The node key epochs a rotation asked `node` to reach, by kind, that it has not published yet. */
export function nodeKeysDue(
  state: OperatorState,
  node: number,
  latest: (kind: NodeKeyKind) => number,
): { kind: NodeKeyKind; epoch: number }[] {
  const due: { kind: NodeKeyKind; epoch: number }[] = [];
  for (const [slot, target] of state.nodeTargets) {
    const { kind, node: id } = parseSlotName(slot);
    if (id === node && latest(kind) < target) due.push({ kind, epoch: latest(kind) + 1 });
  }
  return due;
}

/**
 * The operator state once the replicas run with the network file `network` (its SHA-256) at the
 * wedge point of a reconfiguration that named it: the next configuration epoch in effect, the wedge
 * over. Null when no reconfiguration names that file. Every replica takes it up alike when it is
 * restarted with the file there (`node/configuration.ts`), so the reserved pages, and the
 * checkpoints over them, agree.
 */
export function takeUpReconfiguration(state: OperatorState, network: Uint8Array): OperatorState | null {
  if (state.reconfiguration === null || Buffer.compare(state.reconfiguration, network) !== 0) return null;
  const configuration = { epoch: state.configuration.epoch + 1, network: state.reconfiguration, fromSeq: state.wedgeAt + 1 };
  return { ...state, wedgeAt: 0, reconfiguration: null, configuration };
}
