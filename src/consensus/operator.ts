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
import { Reader, Writer } from '../codec/binary.ts';
import { MAX_OPERATOR_NODES, type OperatorState } from '../codec/reserved-pages.ts';

// The operator state's bytes are the reserved pages' (`codec/reserved-pages.ts`).
export { NO_OPERATOR_STATE, decodeOperatorState, encodeOperatorState, type OperatorState } from '../codec/reserved-pages.ts';

const utf8 = new TextEncoder();
import type { ClientRequest } from '../codec/messages.ts';
import type { ReplicaState } from './state.ts';
import { parseSlotName, slotName, type NodeKeyKind } from './node-keys.ts';
import { effectiveSeqFor } from './keys.ts';

export interface RotateConsensusKeys {
  readonly kind: 'rotate-consensus-keys';
  readonly replicas: readonly number[];
  /** Strictly increasing across the operator's commands (a timestamp in ms does). */
  readonly nonce: number;
}

/** Rotates any of the keys: each list names the nodes whose key of that kind moves to a new epoch. */
export interface RotateKeys {
  readonly kind: 'rotate-keys';
  /** Replicas' consensus keys. */
  readonly consensus: readonly number[];
  /** Replicas' execution keys. */
  readonly execution: readonly number[];
  /** Client nodes' authentication keys (client node ids). */
  readonly auth: readonly number[];
  /** TLS certificates of any nodes (replica or client node ids). */
  readonly tls: readonly number[];
  readonly nonce: number;
}

/**
 * Stops the network at an agreed point, for an upgrade: the first checkpoint boundary beyond the
 * command's sequence number plus the window (`effectiveSeqFor`: no replica can have been asked to
 * sign anything beyond it before it executed the command). Batches up to it are ordered as usual
 * (empty ones drive an idle network there); beyond it nothing is ordered but the operator's
 * unwedge. Once the checkpoint at the boundary is stable every replica is at the same state with
 * nothing in flight — wedged — and may be stopped, upgraded and started again.
 */
export interface Wedge {
  readonly kind: 'wedge';
  readonly nonce: number;
}

/** Ends a wedge: executed in the first batch beyond the wedge point, after which ordering resumes. */
export interface Unwedge {
  readonly kind: 'unwedge';
  readonly nonce: number;
}

export type OperatorCommand = RotateConsensusKeys | RotateKeys | Wedge | Unwedge;

/** A decoded command: the general form, and the chain id it was signed for (null: version 1, none). */
export type SignedCommand = (RotateKeys | Wedge | Unwedge) & { readonly chainId: bigint | null };

const COMMAND_TAG_V1 = new TextEncoder().encode('bulwark/operator-command/v1');
const COMMAND_TAG = new TextEncoder().encode('bulwark/operator-command/v2');
/**
 * Commands in the version without a chain id are accepted only with a nonce (signing time, ms)
 * before this instant, 2026-12-07T00:00Z: what was signed before the chain id came in. A replay from
 * another network is then also refused as soon as this network has executed any later command.
 */
export const V1_SIGNED_BEFORE_MS = Date.UTC(2026, 11, 7);
const PAYLOAD_TAG = new TextEncoder().encode('bulwark/operator/v1');
const KIND_ROTATE_CONSENSUS = 1;
const KIND_ROTATE_KEYS = 2;
const KIND_WEDGE = 3;
const KIND_UNWEDGE = 4;

/** The bytes the operator signs for the network of chain id `chainId`. */
export function encodeOperatorCommand(c: OperatorCommand, chainId: bigint): Uint8Array {
  if (chainId < 1n || chainId > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`chain id ${chainId} is out of range`);
  const w = new Writer(64).raw(COMMAND_TAG).u64(Number(chainId));
  const ids = (list: readonly number[]) => w.list(list, (w, r) => w.u32(r));
  if (c.kind === 'rotate-consensus-keys') {
    w.u8(KIND_ROTATE_CONSENSUS);
    ids(c.replicas);
  } else if (c.kind === 'rotate-keys') {
    w.u8(KIND_ROTATE_KEYS);
    for (const list of [c.consensus, c.execution, c.auth, c.tls]) ids(list);
  } else {
    w.u8(c.kind === 'wedge' ? KIND_WEDGE : KIND_UNWEDGE);
  }
  return w.u64(c.nonce).finish();
}

/** A command in the general form (a consensus-only rotation is one with the other lists empty). */
function decodeOperatorCommand(bytes: Uint8Array): SignedCommand {
  const r = new Reader(bytes);
  const tagOf = (tag: Uint8Array) => bytes.length >= tag.length && tag.every((b, i) => b === bytes[i]);
  let chainId: bigint | null;
  if (tagOf(COMMAND_TAG)) {
    r.fixed(COMMAND_TAG.length, 'tag');
    chainId = BigInt(r.u64('chainId'));
  } else if (tagOf(COMMAND_TAG_V1)) {
    r.fixed(COMMAND_TAG_V1.length, 'tag');
    chainId = null;
  } else {
    throw new Error('not an operator command');
  }
  const kind = r.u8('kind');
  const ids = (what: string) => r.list(MAX_OPERATOR_NODES, (r) => r.u32('node'), what);
  let c: Omit<RotateKeys, 'nonce'> | Omit<Wedge, 'nonce'> | Omit<Unwedge, 'nonce'>;
  if (kind === KIND_ROTATE_CONSENSUS) c = { kind: 'rotate-keys', consensus: ids('replicas'), execution: [], auth: [], tls: [] };
  else if (kind === KIND_ROTATE_KEYS) c = { kind: 'rotate-keys', consensus: ids('consensus'), execution: ids('execution'), auth: ids('auth'), tls: ids('tls') };
  else if (kind === KIND_WEDGE && chainId !== null) c = { kind: 'wedge' };
  else if (kind === KIND_UNWEDGE && chainId !== null) c = { kind: 'unwedge' };
  else throw new Error(`unknown operator command ${kind}`);
  const nonce = r.u64('nonce');
  r.end();
  return { ...c, nonce, chainId };
}

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

/** A client request's payload carrying a signed command. */
export function encodeOperatorPayload(command: Uint8Array, signature: Uint8Array): Uint8Array {
  return new Writer(command.length + signature.length + 64).raw(PAYLOAD_TAG).bytes(command).bytes(signature).finish();
}

export function isOperatorPayload(payload: Uint8Array): boolean {
  return payload.length >= PAYLOAD_TAG.length && PAYLOAD_TAG.every((b, i) => payload[i] === b);
}

export function decodeOperatorPayload(payload: Uint8Array): { command: SignedCommand; bytes: Uint8Array; signature: Uint8Array } {
  const r = new Reader(payload);
  r.fixed(PAYLOAD_TAG.length, 'tag');
  const bytes = r.bytes(4096, 'command');
  const signature = r.bytes(512, 'signature');
  r.end();
  return { command: decodeOperatorCommand(bytes), bytes, signature };
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
  if (command.kind === 'unwedge') {
    if (state.wedgeAt === 0) return refuse('the network is not wedged');
    // Executed only beyond the wedge point (nothing else is ordered there): at a stable checkpoint.
    return { result: utf8.encode(`unwedge: ordering resumes after sequence number ${state.wedgeAt}`), state: { ...state, nonce: command.nonce, wedgeAt: 0 } };
  }
  // A rotation needs key publications ordered after it: none while the network is wedged.
  if (state.wedgeAt > 0) return refuse(`the network is wedged at sequence number ${state.wedgeAt}: unwedge it first`);
  const unique = (list: readonly number[]) => [...new Set(list)].sort((a, b) => a - b);
  const consensus = unique(command.consensus);
  const isReplica = (id: number) => id >= 0 && id < s.q.n;
  const isClient = (id: number) => id >= s.q.n && id < s.q.n + s.cfg.clients;
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
    targets.set(r, Math.max(targets.get(r) ?? 0, s.crypto.latestKey(r).epoch) + 1);
    done.push(`replica ${r} to consensus key epoch ${targets.get(r)}`);
  }
  const nodeTargets = new Map(state.nodeTargets);
  for (const kind of ['execution', 'auth', 'tls'] as const) {
    for (const id of node[kind]) {
      const slot = slotName(kind, id);
      const latest = s.crypto.nodeKeys.latest(kind, id)?.epoch ?? 0;
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
