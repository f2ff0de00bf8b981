/**
 * `bulwark wedge --dir OPERATOR_DIR [--rpc URL] [--wait]` and `bulwark unwedge …`: stopping the
 * network at an agreed point for an upgrade, and resuming it (issue #19). The wedge is an operator
 * command executed through consensus: nothing is ordered after the first checkpoint boundary beyond
 * its sequence number plus the window but the operator's unwedge; once the checkpoint there is
 * stable every replica is at the same state with nothing in flight, and `bft_status` says
 * `wedge: { at, wedged: true }`. Then stop the replicas, upgrade, start them (still wedged, from
 * their stores), and unwedge. Transactions sent meanwhile wait in the client nodes and the replicas,
 * and are ordered after the unwedge.
 */
import { Option, type Command } from 'commander';
import { BulwarkError } from '../../common/errors.ts';
import type { CliIo } from '../io.ts';
import { loadOperator, rpcCall, submitOperatorCommand, type OperatorFlags } from '../operator-command.ts';
import { addNodeOptions } from '../passphrase.ts';
import { UsageError } from '../usage.ts';

interface WedgeFlags extends OperatorFlags {
  wait?: string | boolean;
}

interface WedgeStatus {
  readonly stableCheckpoint: number;
  readonly wedge: { readonly at: number; readonly wedged: boolean } | null;
  readonly nodes: readonly { readonly replica: number; readonly answered: boolean; readonly stableCheckpoint?: number; readonly lastExecuted?: number }[];
}

function addCommon(c: Command): Command {
  return addNodeOptions(c.requiredOption('--dir <dir>', "the operator's directory (operator/ from bulwark init)"))
    .addOption(new Option('--rpc <url>', "a client node's JSON-RPC endpoint that carries the command").default('http://127.0.0.1:8545'))
    .addOption(new Option('--rpc-token <token>', 'bearer token, when the endpoint requires one (it must allow bft_submitOperatorCommand and bft_status)'));
}

export function registerWedge(program: Command, io: CliIo): void {
  addCommon(program.command('wedge').description('stop the network at the next agreed checkpoint, for an upgrade (an operator command, executed through consensus)'))
    .addOption(new Option('--wait [seconds]', 'wait until every replica that answers is wedged (default 120 s)'))
    .action(async (flags: WedgeFlags) => {
      const wait = flags.wait === undefined ? null : flags.wait === true ? 120 : Number(flags.wait);
      if (wait !== null && !(Number.isFinite(wait) && wait > 0)) throw new UsageError(`--wait: ${String(flags.wait)} is not a number of seconds`);
      const { sign } = await loadOperator(flags);
      io.out(`${await submitOperatorCommand(flags, sign({ kind: 'wedge', nonce: Date.now() }), 'WEDGE_REFUSED')}\n`);
      if (wait === null) return;
      const until = Date.now() + wait * 1000;
      for (;;) {
        const status = await rpcCall<WedgeStatus>(flags, 'bft_status', []);
        const at = status.wedge?.at ?? 0;
        const replicas = status.nodes.filter((n) => n.answered);
        if (at > 0 && replicas.length > 0 && replicas.every((n) => n.stableCheckpoint === at && n.lastExecuted === at)) {
          io.out(`wedged: ${replicas.length} of ${status.nodes.length} replicas at sequence number ${at}, stable, nothing in flight\n`);
          return;
        }
        if (Date.now() > until) {
          const where = replicas.map((n) => `replica ${n.replica}: executed ${n.lastExecuted}, stable ${n.stableCheckpoint}`).join('; ');
          throw new BulwarkError('WEDGE_TIMEOUT', `not wedged after ${wait} s (wedge point ${at}; ${where})`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    });
  addCommon(program.command('unwedge').description('resume a wedged network (an operator command, ordered right after the wedge point)')).action(async (flags: OperatorFlags) => {
    const { sign } = await loadOperator(flags);
    io.out(`${await submitOperatorCommand(flags, sign({ kind: 'unwedge', nonce: Date.now() }), 'UNWEDGE_REFUSED')}\n`);
  });
}
