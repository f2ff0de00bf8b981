/**
 * The `bulwark` command line. Each subcommand lives in its own file under `commands/` and registers
 * itself here; this file only assembles them and decides how failures look and what exit code they
 * give (1: the command failed, 2: it was called wrongly).
 */
import { Command, CommanderError } from 'commander';
import { isBulwarkError } from '../common/errors.ts';
import { registerInit } from './commands/init.ts';
import { registerReplica } from './commands/replica.ts';
import { registerClient } from './commands/client.ts';
import { registerDev } from './commands/dev.ts';
import { registerRpcToken } from './commands/rpc-token.ts';
import { registerVerifyLedger } from './commands/verify-ledger.ts';
import { registerKeys } from './commands/keys.ts';
import { registerWedge } from './commands/wedge.ts';
import { registerBackup } from './commands/backup.ts';
import { registerRestore } from './commands/restore.ts';
import { registerMember } from './commands/member.ts';
import { registerReconfigure } from './commands/reconfigure.ts';
import { UsageError } from './usage.ts';

import { processIo, type CliIo } from './io.ts';

/** Subcommands, in the order `bulwark --help` lists them. */
const COMMANDS: ReadonlyArray<(program: Command, io: CliIo) => void> = [
  registerDev,
  registerInit,
  registerReplica,
  registerClient,
  registerRpcToken,
  registerVerifyLedger,
  registerKeys,
  registerWedge,
  registerMember,
  registerReconfigure,
  registerBackup,
  registerRestore,
];

export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command('bulwark')
    .description('Bulwark: a permissioned Ethereum ledger with SBFT consensus')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  for (const register of COMMANDS) register(program, io);
  return program;
}

/** Runs the command line; resolves to the process exit code instead of exiting, so tests can call it. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      io.err(`bulwark: ${err.message}\n`);
      return 2;
    }
    if (isBulwarkError(err)) {
      io.err(`bulwark: ${err.message} [${err.code}]\n`);
      return 1;
    }
    io.err(`bulwark: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
