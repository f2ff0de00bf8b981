/** `--passphrase-file` / `--passphrase-env`, shared by every command that seals or opens key files. */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { BulwarkError } from '../common/errors.ts';
import { UsageError } from './usage.ts';

export interface PassphraseFlags {
  readonly passphraseFile?: string;
  readonly passphraseEnv?: string;
}

/** `--passphrase-file`, `--passphrase-env` and `--log-level` for the commands that run a node. */
export function addNodeOptions(command: Command): Command {
  return command
    .addOption(new Option('--passphrase-file <file>', 'open sealed key files with the passphrase in this file (its first line)'))
    .addOption(new Option('--passphrase-env <name>', 'open sealed key files with the passphrase in environment variable <name>'))
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'));
}

/** The passphrase's first line, or undefined when neither flag is given. */
export async function readPassphrase(flags: PassphraseFlags): Promise<string | undefined> {
  if (flags.passphraseFile !== undefined && flags.passphraseEnv !== undefined) {
    throw new UsageError('give --passphrase-file or --passphrase-env, not both');
  }
  let text: string | undefined;
  let from: string;
  if (flags.passphraseFile !== undefined) {
    from = flags.passphraseFile;
    try {
      text = await readFile(flags.passphraseFile, 'utf8');
    } catch (cause) {
      throw new BulwarkError('SETUP_INVALID_INPUT', `cannot read passphrase file ${flags.passphraseFile}`, { path: flags.passphraseFile }, { cause });
    }
  } else if (flags.passphraseEnv !== undefined) {
    from = `environment variable ${flags.passphraseEnv}`;
    text = process.env[flags.passphraseEnv];
    if (text === undefined) throw new UsageError(`${from} is not set`);
  } else {
    return undefined;
  }
  const passphrase = text.split(/\r?\n/)[0] ?? '';
  if (passphrase === '') throw new UsageError(`the passphrase in ${from} is empty`);
  return passphrase;
}
