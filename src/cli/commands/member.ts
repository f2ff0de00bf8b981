/**
 * `bulwark member --network CURRENT --host H --port P --out DIR`: run on a new replica's own host,
 * makes its keys and its replica directory (without network.json) and `DIR/member.json`, the
 * public entry the operator hands to `bulwark reconfigure --add` (issue #19). Nothing is decided
 * here; `setup/member.ts` does the work.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_SCRYPT_COST } from '../../crypto/key-seal.ts';
import { DEFAULT_CERT_VALIDITY_DAYS } from '../../setup/generate.ts';
import { runMember, type MemberResult } from '../../setup/member.ts';
import { loadNetworkFile } from '../../setup/network-file.ts';
import type { CliIo } from '../io.ts';
import { readPassphrase } from '../passphrase.ts';
import { integer } from '../usage.ts';

interface MemberFlags {
  network: string;
  host: string;
  port: number;
  out: string;
  id?: number;
  passphraseFile?: string;
  passphraseEnv?: string;
  kdfCost: number;
  certDays: number;
  json?: boolean;
}

export function registerMember(program: Command, io: CliIo): void {
  program
    .command('member')
    .summary("a new replica's keys and directory, to join a running network")
    .description(
      [
        "Run on the new replica's own host: generates its TLS key and certificate, its bootstrap BLS12-381 " +
          'consensus key with proof of possession and its Ed25519 execution key, and writes its replica ' +
          'directory with <out>/member.json, the public entry for the operator.',
        'The directory has no network.json yet: give member.json to the operator (bulwark reconfigure --add), ' +
          'and once the network has switched, copy the new network.json into the directory and start the replica.',
      ].join('\n\n'),
    )
    .requiredOption('--network <file>', "the network's current network.json")
    .requiredOption('--host <host>', 'the host name or IP address the other nodes reach this replica at')
    .addOption(new Option('--port <port>', 'the port this replica listens on').argParser(integer(1, 65535)).makeOptionMandatory())
    .requiredOption('-o, --out <dir>', 'the replica directory to create; must not exist or be empty')
    .addOption(new Option('--id <id>', 'replica id (default: n, the next free one; n+1, … when adding several at once)').argParser(integer(0)))
    .addOption(new Option('--passphrase-file <file>', 'encrypt the private keys under the passphrase in this file (its first line)'))
    .addOption(new Option('--passphrase-env <name>', 'encrypt the private keys under the passphrase in environment variable <name>'))
    .addOption(
      new Option('--kdf-cost <log2N>', 'scrypt cost of encrypted keys: N = 2^log2N, memory 128·N·8 bytes (10..20)')
        .default(DEFAULT_SCRYPT_COST.logN)
        .argParser(integer(10, 20)),
    )
    .addOption(
      new Option('--cert-days <days>', 'validity of the TLS certificate (peers pin exact certificates; dates are informative)')
        .default(DEFAULT_CERT_VALIDITY_DAYS)
        .argParser(integer(1, 36_500)),
    )
    .addOption(new Option('--json', 'print the result as JSON'))
    .action(async (flags: MemberFlags) => {
      const network = await loadNetworkFile(flags.network);
      const passphrase = await readPassphrase(flags);
      const result = await runMember({
        network,
        host: flags.host,
        port: flags.port,
        outDir: flags.out,
        ...(flags.id === undefined ? {} : { id: flags.id }),
        ...(passphrase === undefined ? {} : { passphrase, scryptCost: { ...DEFAULT_SCRYPT_COST, logN: flags.kdfCost } }),
        certValidityDays: flags.certDays,
      });
      io.out(flags.json ? JSON.stringify({ outDir: result.outDir, id: result.id, memberFile: result.memberFile }, null, 2) + '\n' : describe(result));
    });
}

function describe(r: MemberResult): string {
  return [
    `replica ${r.id} written to ${r.outDir} (${r.entry.host}:${r.entry.port})`,
    `  public entry  ${r.memberFile}`,
    'Give member.json to the operator (bulwark reconfigure --add). Once the network has switched, copy the new',
    `network.json into ${r.outDir} and start the replica there.`,
  ].join('\n') + '\n';
}
