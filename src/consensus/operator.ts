/**
 * Operator commands (issue #7): the operator of the trusted setup holds an Ed25519 key whose public
 * half is in the network file. A command signed with it — today: rotate the consensus keys of some
 * replicas — reaches the replicas as an ordinary client request (any client node carries it; the
 * signature, not the carrier, authorises it) and is executed by the state machine, not the
 * application: deterministically, from the batch and the reserved pages alone.
 *
 * A rotation records, per named replica, the key epoch it must move to (its latest + 1); each named
 * replica then publishes a key for that epoch through the key exchange (`key-exchange.ts`), which
 * takes effect at an agreed checkpoint boundary like the first one. Refused: a bad signature, a
 * nonce not above the last one executed (replays), and a rotation sooner than
 * `minRotationIntervalSec` after the previous one (by block time).
 */
import { Reader, Writer } from '../codec/binary.ts';
import type { ClientRequest } from '../codec/messages.ts';
import type { ReplicaState } from './state.ts';

/** The operator's part of the reserved pages. */
export interface OperatorState {
  /** The highest command nonce executed (replays are refused). */
  readonly nonce: number;
  /** Block time (s) of the last rotation executed; 0 before the first. */
  readonly lastRotationAt: number;
  /** Per replica, the key epoch a rotation asked it to reach. */
  readonly targets: ReadonlyMap<number, number>;
}

export const NO_OPERATOR_STATE: OperatorState = { nonce: 0, lastRotationAt: 0, targets: new Map() };

export interface RotateConsensusKeys {
  readonly kind: 'rotate-consensus-keys';
  readonly replicas: readonly number[];
  /** Strictly increasing across the operator's commands (a timestamp in ms does). */
  readonly nonce: number;
}

export type OperatorCommand = RotateConsensusKeys;

const COMMAND_TAG = new TextEncoder().encode('bulwark/operator-command/v1');
const PAYLOAD_TAG = new TextEncoder().encode('bulwark/operator/v1');
const KIND_ROTATE_CONSENSUS = 1;

/** The bytes the operator signs. */
export function encodeOperatorCommand(c: OperatorCommand): Uint8Array {
  return new Writer(64).raw(COMMAND_TAG).u8(KIND_ROTATE_CONSENSUS).list(c.replicas, (w, r) => w.u32(r)).u64(c.nonce).finish();
}

function decodeOperatorCommand(bytes: Uint8Array): OperatorCommand {
  const r = new Reader(bytes);
  const tag = r.fixed(COMMAND_TAG.length, 'tag');
  if (!tag.every((b, i) => b === COMMAND_TAG[i])) throw new Error('not an operator command');
  const kind = r.u8('kind');
  if (kind !== KIND_ROTATE_CONSENSUS) throw new Error(`unknown operator command ${kind}`);
  const replicas = r.list(1024, (r) => r.u32('replica'), 'replicas');
  const nonce = r.u64('nonce');
  r.end();
  return { kind: 'rotate-consensus-keys', replicas, nonce };
}

/** A client request's payload carrying a signed command. */
export function encodeOperatorPayload(command: Uint8Array, signature: Uint8Array): Uint8Array {
  return new Writer(command.length + signature.length + 64).raw(PAYLOAD_TAG).bytes(command).bytes(signature).finish();
}

export function isOperatorPayload(payload: Uint8Array): boolean {
  return payload.length >= PAYLOAD_TAG.length && PAYLOAD_TAG.every((b, i) => payload[i] === b);
}

function decodeOperatorPayload(payload: Uint8Array): { command: OperatorCommand; bytes: Uint8Array; signature: Uint8Array } {
  const r = new Reader(payload);
  r.fixed(PAYLOAD_TAG.length, 'tag');
  const bytes = r.bytes(4096, 'command');
  const signature = r.bytes(512, 'signature');
  r.end();
  return { command: decodeOperatorCommand(bytes), bytes, signature };
}

export function encodeOperatorState(o: OperatorState): Uint8Array {
  return new Writer(64)
    .u64(o.nonce)
    .u64(o.lastRotationAt)
    .list([...o.targets].sort((a, b) => a[0] - b[0]), (w, [r, e]) => w.u32(r).u32(e))
    .finish();
}

export function decodeOperatorState(bytes: Uint8Array): OperatorState {
  const r = new Reader(bytes);
  const nonce = r.u64('nonce');
  const lastRotationAt = r.u64('lastRotationAt');
  const targets = new Map(r.list(1024, (r) => [r.u32('replica'), r.u32('epoch')] as const, 'targets'));
  r.end();
  return { nonce, lastRotationAt, targets };
}

const utf8 = new TextEncoder();

/**
 * Executes one operator command at sequence number `seq`, block time `timestamp` (s), on top of
 * `state`: the outcome (a result for the reply) and the operator state after it.
 */
export function executeOperatorCommand(
  s: ReplicaState,
  state: OperatorState,
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
  if (command.nonce <= state.nonce) return refuse(`nonce ${command.nonce} is not above the last one executed (${state.nonce})`);
  const replicas = [...new Set(command.replicas)].sort((a, b) => a - b);
  if (replicas.length === 0 || replicas.some((r) => r < 0 || r >= s.q.n)) return refuse('the command names no replica, or one that does not exist');
  if (state.lastRotationAt > 0 && timestamp - state.lastRotationAt < s.cfg.minRotationIntervalSec) {
    return refuse(`too soon: the previous rotation was ${timestamp - state.lastRotationAt} s ago, the minimum interval is ${s.cfg.minRotationIntervalSec} s`);
  }
  const targets = new Map(state.targets);
  for (const r of replicas) targets.set(r, Math.max(targets.get(r) ?? 0, s.crypto.latestKey(r).epoch) + 1);
  const next: OperatorState = { nonce: command.nonce, lastRotationAt: timestamp, targets };
  return { result: utf8.encode(`rotation: ${replicas.map((r) => `replica ${r} to key epoch ${targets.get(r)}`).join(', ')}`), state: next };
}
