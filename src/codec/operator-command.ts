/**
 * Operator commands' bytes (`consensus/operator.ts` for what they do): the command the operator
 * signs — rotate keys, wedge, unwedge, reconfigure — naming the chain id it is for (version 2; version 1 named
 * none), and the client request payload that carries it with its signature.
 */
import { Reader, Writer } from './binary.ts';
import { MAX_OPERATOR_NODES } from './reserved-pages.ts';

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

/**
 * Changes the replica set (Concord-BFT's add/remove with wedge): wedges the network as `Wedge` does,
 * and names the network file every node is to run with from the wedge point on, by the SHA-256 of
 * its canonical text (`NetworkConfig.digest`). The file lists the new members, their keys and TLS
 * certificates, and n, f, c; its digest in the reserved pages (covered by every checkpoint after) is
 * what the nodes check the file they are restarted with against.
 */
export interface Reconfigure {
  readonly kind: 'reconfigure';
  /** SHA-256 of the new network file's canonical text. */
  readonly network: Uint8Array;
  readonly nonce: number;
}

export type OperatorCommand = RotateConsensusKeys | RotateKeys | Wedge | Unwedge | Reconfigure;

/** A decoded command: the general form, and the chain id it was signed for (null: version 1, none). */
export type SignedCommand = (RotateKeys | Wedge | Unwedge | Reconfigure) & { readonly chainId: bigint | null };

export const NETWORK_DIGEST_LENGTH = 32;

const COMMAND_TAG_V1 = new TextEncoder().encode('bulwark/operator-command/v1');
const COMMAND_TAG = new TextEncoder().encode('bulwark/operator-command/v2');
const PAYLOAD_TAG = new TextEncoder().encode('bulwark/operator/v1');
const KIND_ROTATE_CONSENSUS = 1;
const KIND_ROTATE_KEYS = 2;
const KIND_WEDGE = 3;
const KIND_UNWEDGE = 4;
const KIND_RECONFIGURE = 5;

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
  } else if (c.kind === 'reconfigure') {
    w.u8(KIND_RECONFIGURE).fixed(c.network, NETWORK_DIGEST_LENGTH);
  } else {
    w.u8(c.kind === 'wedge' ? KIND_WEDGE : KIND_UNWEDGE);
  }
  return w.u64(c.nonce).finish();
}

/** A command in the general form (a consensus-only rotation is one with the other lists empty). */
export function decodeOperatorCommand(bytes: Uint8Array): SignedCommand {
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
  let c: Omit<RotateKeys, 'nonce'> | Omit<Wedge, 'nonce'> | Omit<Unwedge, 'nonce'> | Omit<Reconfigure, 'nonce'>;
  if (kind === KIND_ROTATE_CONSENSUS) c = { kind: 'rotate-keys', consensus: ids('replicas'), execution: [], auth: [], tls: [] };
  else if (kind === KIND_ROTATE_KEYS) c = { kind: 'rotate-keys', consensus: ids('consensus'), execution: ids('execution'), auth: ids('auth'), tls: ids('tls') };
  else if (kind === KIND_WEDGE && chainId !== null) c = { kind: 'wedge' };
  else if (kind === KIND_UNWEDGE && chainId !== null) c = { kind: 'unwedge' };
  else if (kind === KIND_RECONFIGURE && chainId !== null) c = { kind: 'reconfigure', network: r.fixed(NETWORK_DIGEST_LENGTH, 'network') };
  else throw new Error(`unknown operator command ${kind}`);
  const nonce = r.u64('nonce');
  r.end();
  return { ...c, nonce, chainId };
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
