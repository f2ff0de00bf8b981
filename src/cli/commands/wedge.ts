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
import type { CliIo } from '../io.ts';
import { loadOperator, submitOperatorCommand, waitWedged, type OperatorFlags } from '../operator-command.ts';
import { addNodeOptions } from '../passphrase.ts';

interface WedgeFlags extends OperatorFlags {
  wait?: string | boolean;
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
      const { sign } = await loadOperator(flags);
      io.out(`${await submitOperatorCommand(flags, sign({ kind: 'wedge', nonce: Date.now() }), 'WEDGE_REFUSED')}\n`);
      if (flags.wait !== undefined) io.out(`${await waitWedged(flags, flags.wait)}\n`);
    });
  addCommon(program.command('unwedge').description('resume a wedged network (an operator command, ordered right after the wedge point)')).action(async (flags: OperatorFlags) => {
    const { sign } = await loadOperator(flags);
    io.out(`${await submitOperatorCommand(flags, sign({ kind: 'unwedge', nonce: Date.now() }), 'UNWEDGE_REFUSED')}\n`);
  });
}
