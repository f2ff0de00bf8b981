/**
 * `bulwark rpc-token --name NAME --methods 'eth_*,net_*'`: makes a bearer token for a client node's
 * JSON-RPC endpoint. The token (32 random bytes, hex) is printed once and kept nowhere; the entry
 * printed with it holds only its SHA-256 and goes into the `--rpc-auth` file's `tokens` list.
 */
import { Option, type Command } from 'commander';
import { isMethodPattern, newRpcToken } from '../../rpc/security.ts';
import type { CliIo } from '../io.ts';
import { UsageError } from '../usage.ts';

interface RpcTokenFlags {
  name: string;
  methods: string;
  json?: boolean;
}

export function registerRpcToken(program: Command, io: CliIo): void {
  program
    .command('rpc-token')
    .description("make a bearer token for a client node's JSON-RPC endpoint (--rpc-auth): prints the token once and the auth-file entry with its SHA-256")
    .requiredOption('--name <name>', 'a name for the token (shown in refusal logs)')
    .addOption(new Option('--methods <list>', 'comma-separated methods the token may call: exact names, namespace wildcards (eth_*) or * for all').default('*'))
    .option('--json', 'print {"token","entry"} as one JSON object')
    .action((flags: RpcTokenFlags) => {
      const methods = flags.methods.split(',').map((m) => m.trim()).filter((m) => m !== '');
      if (methods.length === 0) throw new UsageError('--methods lists no methods');
      const bad = methods.find((m) => !isMethodPattern(m));
      if (bad !== undefined) throw new UsageError(`--methods: "${bad}" is not a method name, a namespace wildcard (eth_*) or *`);
      if (flags.name.trim() === '') throw new UsageError('--name is empty');
      const { token, entry } = newRpcToken(flags.name.trim(), methods);
      if (flags.json === true) {
        io.out(`${JSON.stringify({ token, entry })}\n`);
        return;
      }
      io.out(`token (shown once; send it as "Authorization: Bearer <token>"):\n${token}\n\n`);
      io.out(`add this entry to the "tokens" list of the --rpc-auth file:\n${JSON.stringify(entry)}\n`);
    });
}
