/**
 * `bulwark keys rotate --dir OPERATOR_DIR (--replica N | --all) --rpc URL`: the operator's key
 * rotation. The command is signed here with the operator key from the trusted setup's `operator/`
 * directory and handed to a client node (`bft_submitOperatorCommand`), which only carries it: the
 * replicas check the signature, refuse a replay or a rotation too soon after the previous one, and
 * record the epoch each named replica must reach; each then generates a new consensus key,
 * publishes it through consensus, and erases the old one once the new one is in effect.
 */
import { Option, type Command } from 'commander';
import { BulwarkError } from '../../common/errors.ts';
import { encodeOperatorCommand, encodeOperatorPayload } from '../../consensus/operator.ts';
import { signNodeAuth } from '../../crypto/index.ts';
import { loadNodeDirectory } from '../../setup/node-directory.ts';
import type { CliIo } from '../io.ts';
import { addNodeOptions, readPassphrase, type PassphraseFlags } from '../passphrase.ts';
import { UsageError } from '../usage.ts';

interface RotateFlags extends PassphraseFlags {
  dir: string;
  replica?: string;
  all?: boolean;
  rpc: string;
  rpcToken?: string;
}

export function registerKeys(program: Command, io: CliIo): void {
  const keys = program.command('keys').description("the network's keys");
  addNodeOptions(
    keys
      .command('rotate')
      .description("rotate replicas' consensus keys: a command signed with the operator key, carried by a client node, executed through consensus")
      .requiredOption('--dir <dir>', "the operator's directory (operator/ from bulwark init)"),
  )
    .addOption(new Option('--replica <ids>', 'comma-separated replica ids to rotate').conflicts('all'))
    .addOption(new Option('--all', 'rotate every replica'))
    .addOption(new Option('--rpc <url>', "a client node's JSON-RPC endpoint that carries the command").default('http://127.0.0.1:8545'))
    .addOption(new Option('--rpc-token <token>', 'bearer token, when the endpoint requires one (it must allow bft_submitOperatorCommand)'))
    .action(async (flags: RotateFlags) => {
      const passphrase = await readPassphrase(flags);
      const material = await loadNodeDirectory(flags.dir, passphrase === undefined ? {} : { passphrase });
      if (material.role !== 'operator') throw new UsageError(`${flags.dir} holds a ${material.role}'s keys, not the operator's`);
      const n = material.network.replicas.length;
      let replicas: number[];
      if (flags.all === true) replicas = [...Array(n).keys()];
      else if (flags.replica !== undefined) {
        replicas = flags.replica.split(',').map((x) => Number(x.trim()));
        const bad = replicas.find((r) => !Number.isInteger(r) || r < 0 || r >= n);
        if (bad !== undefined) throw new UsageError(`--replica: ${bad} is not a replica id (0..${n - 1})`);
      } else throw new UsageError('name the replicas to rotate: --replica N[,M…] or --all');
      // Milliseconds since the epoch: above every earlier command's nonce from this operator.
      const command = encodeOperatorCommand({ kind: 'rotate-consensus-keys', replicas, nonce: Date.now() });
      const payload = encodeOperatorPayload(command, signNodeAuth(material.operatorKey, command));
      const res = await fetch(flags.rpc, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(flags.rpcToken === undefined ? {} : { authorization: `Bearer ${flags.rpcToken}` }) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'bft_submitOperatorCommand', params: [`0x${Buffer.from(payload).toString('hex')}`] }),
      }).catch((err: unknown) => {
        throw new BulwarkError('CLI_RPC_UNREACHABLE', `no answer from ${flags.rpc}: ${err instanceof Error ? err.message : String(err)}`);
      });
      const answer = (await res.json()) as { result?: string; error?: { code: number; message: string } };
      if (answer.error !== undefined) throw new BulwarkError('CLI_RPC_ERROR', `${flags.rpc} answered ${answer.error.code}: ${answer.error.message}`);
      const result = String(answer.result);
      if (result.startsWith('refused')) throw new BulwarkError('KEYS_ROTATION_REFUSED', `the replicas refused the rotation: ${result}`);
      io.out(`${result}\n`);
    });
}
