/**
 * `bulwark keys rotate --dir OPERATOR_DIR (--replica N | --all | --client C) [--execution] [--tls] --rpc URL`:
 * the operator's key rotation. What rotates:
 *   --replica N[,M…] | --all      those replicas' consensus keys;
 *   --client C[,D…]               those client nodes' authentication keys;
 *   --execution                   the execution keys of the replicas named (all when none is);
 *   --tls                         the TLS certificates of the nodes named (every node when none is).
 * With --execution or --tls, the nodes named rotate only those kinds.
 *
 * The command is signed here with the operator key from the trusted setup's `operator/`
 * directory and handed to a client node (`bft_submitOperatorCommand`), which only carries it: the
 * replicas check the signature, refuse a replay or a rotation too soon after the previous one, and
 * record the epoch each named node must reach; each then generates its new key, publishes it
 * through consensus, switches at the agreed sequence number, and erases the old one.
 */
import { Option, type Command } from 'commander';
import type { CliIo } from '../io.ts';
import { loadOperator, submitOperatorCommand, type OperatorFlags } from '../operator-command.ts';
import { addNodeOptions } from '../passphrase.ts';
import { UsageError } from '../usage.ts';

interface RotateFlags extends OperatorFlags {
  replica?: string;
  all?: boolean;
  client?: string;
  execution?: boolean;
  tls?: boolean;
}

export function registerKeys(program: Command, io: CliIo): void {
  const keys = program.command('keys').description("the network's keys");
  addNodeOptions(
    keys
      .command('rotate')
      .description('rotate keys (consensus, execution, client authentication, TLS): a command signed with the operator key, carried by a client node, executed through consensus')
      .requiredOption('--dir <dir>', "the operator's directory (operator/ from bulwark init)"),
  )
    .addOption(new Option('--replica <ids>', 'comma-separated replica ids to rotate').conflicts('all'))
    .addOption(new Option('--all', 'rotate every replica'))
    .addOption(new Option('--client <ids>', "comma-separated client node ids whose authentication keys rotate"))
    .addOption(new Option('--execution', "rotate the replicas' execution keys (those named, or all)"))
    .addOption(new Option('--tls', 'rotate TLS certificates (of the nodes named, or of every node)'))
    .addOption(new Option('--rpc <url>', "a client node's JSON-RPC endpoint that carries the command").default('http://127.0.0.1:8545'))
    .addOption(new Option('--rpc-token <token>', 'bearer token, when the endpoint requires one (it must allow bft_submitOperatorCommand)'))
    .action(async (flags: RotateFlags) => {
      const { network, sign } = await loadOperator(flags);
      const allReplicas = network.replicas.map((r) => r.id);
      const allClients = network.clients.map((c) => c.id);
      const ids = (flag: string, list: string, valid: readonly number[]) => {
        const out = list.split(',').map((x) => Number(x.trim()));
        const bad = out.find((r) => !valid.includes(r));
        if (bad !== undefined) throw new UsageError(`${flag}: ${bad} is not one of ${valid.join(', ')}`);
        return out;
      };
      const replicas = flags.all === true ? allReplicas : flags.replica === undefined ? [] : ids('--replica', flags.replica, allReplicas);
      const clients = flags.client === undefined ? [] : ids('--client', flags.client, allClients);
      const other = flags.execution === true || flags.tls === true;
      if (!other && replicas.length + clients.length === 0) {
        throw new UsageError('name what to rotate: --replica N[,M…], --all, --client C[,D…], --execution or --tls');
      }
      if (flags.execution === true && clients.length > 0 && flags.tls !== true) throw new UsageError('--execution names replicas, not client nodes');
      const named = replicas.length + clients.length > 0;
      // Milliseconds since the epoch: above every earlier command's nonce from this operator.
      const payload = sign({
        kind: 'rotate-keys',
        consensus: other ? [] : replicas,
        execution: flags.execution === true ? (replicas.length > 0 ? replicas : allReplicas) : [],
        auth: other ? [] : clients,
        tls: flags.tls === true ? (named ? [...replicas, ...clients] : [...allReplicas, ...allClients]) : [],
        nonce: Date.now(),
      });
      io.out(`${await submitOperatorCommand(flags, payload, 'KEYS_ROTATION_REFUSED')}\n`);
    });
}
