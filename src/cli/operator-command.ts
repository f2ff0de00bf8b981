/**
 * What every operator command of the command line does once it has decided what to ask: load the
 * operator's key from the trusted setup's `operator/` directory, sign the command for this
 * network's chain id, and hand it to a client node (`bft_submitOperatorCommand`), which only
 * carries it — the replicas check it again and execute it through consensus. Resolves to their
 * result; a refusal is an error naming why.
 */
import { BulwarkError } from '../common/errors.ts';
import { encodeOperatorCommand, encodeOperatorPayload, type OperatorCommand } from '../codec/operator-command.ts';
import { signNodeAuth } from '../crypto/index.ts';
import { loadNodeDirectory } from '../setup/node-directory.ts';
import type { NetworkConfig } from '../setup/network-file.ts';
import { readPassphrase, type PassphraseFlags } from './passphrase.ts';
import { UsageError } from './usage.ts';

export interface OperatorFlags extends PassphraseFlags {
  /** The operator's directory (`operator/` from `bulwark init`). */
  dir: string;
  /** A client node's JSON-RPC endpoint. */
  rpc: string;
  rpcToken?: string;
}

/** The operator's key and the network it signs for. */
export async function loadOperator(flags: OperatorFlags): Promise<{ network: NetworkConfig; sign: (command: OperatorCommand) => Uint8Array }> {
  const passphrase = await readPassphrase(flags);
  const material = await loadNodeDirectory(flags.dir, passphrase === undefined ? {} : { passphrase });
  if (material.role !== 'operator') throw new UsageError(`${flags.dir} holds a ${material.role}'s keys, not the operator's`);
  const network = material.network;
  return {
    network,
    sign: (command) => {
      const bytes = encodeOperatorCommand(command, network.chainId);
      return encodeOperatorPayload(bytes, signNodeAuth(material.operatorKey, bytes));
    },
  };
}

/** One JSON-RPC call to the client node; its result, or a typed error. */
export async function rpcCall<T>(flags: Pick<OperatorFlags, 'rpc' | 'rpcToken'>, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(flags.rpc, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(flags.rpcToken === undefined ? {} : { authorization: `Bearer ${flags.rpcToken}` }) },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  }).catch((err: unknown) => {
    throw new BulwarkError('CLI_RPC_UNREACHABLE', `no answer from ${flags.rpc}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const answer = (await res.json()) as { result?: T; error?: { code: number; message: string } };
  if (answer.error !== undefined) throw new BulwarkError('CLI_RPC_ERROR', `${flags.rpc} answered ${answer.error.code}: ${answer.error.message}`);
  return answer.result as T;
}

/** Submits a signed command through the client node; the replicas' result ("refused: …" is thrown as `refusedCode`). */
export async function submitOperatorCommand(flags: OperatorFlags, payload: Uint8Array, refusedCode: string): Promise<string> {
  const result = String(await rpcCall<string>(flags, 'bft_submitOperatorCommand', [`0x${Buffer.from(payload).toString('hex')}`]));
  if (result.startsWith('refused')) throw new BulwarkError(refusedCode, `the replicas refused the command: ${result}`);
  return result;
}

interface WedgeStatus {
  readonly wedge: { readonly at: number; readonly wedged: boolean } | null;
  readonly nodes: readonly { readonly replica: number; readonly answered: boolean; readonly stableCheckpoint?: number; readonly lastExecuted?: number }[];
}

/**
 * Polls `bft_status` until every replica that answers has executed to the wedge point and holds a
 * stable checkpoint there (`--wait [seconds]`, default 120): the line to print, or WEDGE_TIMEOUT.
 */
export async function waitWedged(flags: OperatorFlags, wait: string | boolean): Promise<string> {
  const seconds = wait === true ? 120 : Number(wait);
  if (!(Number.isFinite(seconds) && seconds > 0)) throw new UsageError(`--wait: ${String(wait)} is not a number of seconds`);
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const status = await rpcCall<WedgeStatus>(flags, 'bft_status', []);
    const at = status.wedge?.at ?? 0;
    const replicas = status.nodes.filter((n) => n.answered);
    if (at > 0 && replicas.length > 0 && replicas.every((n) => n.stableCheckpoint === at && n.lastExecuted === at)) {
      return `wedged: ${replicas.length} of ${status.nodes.length} replicas at sequence number ${at}, stable, nothing in flight`;
    }
    if (Date.now() > until) {
      const where = replicas.map((n) => `replica ${n.replica}: executed ${n.lastExecuted}, stable ${n.stableCheckpoint}`).join('; ');
      throw new BulwarkError('WEDGE_TIMEOUT', `not wedged after ${seconds} s (wedge point ${at}; ${where})`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
