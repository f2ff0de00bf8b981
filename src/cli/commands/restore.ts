/**
 * `bulwark restore --from B --dir D`: makes node directory D from a backup taken by `bulwark
 * backup` (`node/backup.ts`), checking every file against the backup's manifest and counting every
 * store's keys. D must be absent or empty. Start the node on D only once the node the backup was
 * taken from is stopped for good: two processes with one node's keys are one Byzantine node.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { restoreBackup } from '../../node/backup.ts';
import type { CliIo } from '../io.ts';

interface RestoreFlags {
  from: string;
  dir: string;
  json?: boolean;
}

export function registerRestore(program: Command, io: CliIo): void {
  program
    .command('restore')
    .description('make a node directory from a backup (bulwark backup); refuses a non-empty target')
    .requiredOption('--from <dir>', 'the backup directory')
    .requiredOption('--dir <dir>', 'the node directory to make (absent or empty)')
    .option('--json', 'print the backup manifest as JSON')
    .addHelpText(
      'after',
      '\nThen check it (`bulwark verify-ledger --dir <dir>`) and start the node on it (`bulwark replica --dir <dir>`\n' +
        'or `bulwark client --dir <dir>`) in place of the original, which must be stopped first: a replica\n' +
        'catches up from its peers, a client node from the replicas.\n',
    )
    .action(async (flags: RestoreFlags) => {
      const dir = resolve(flags.dir);
      const manifest = await restoreBackup({ from: resolve(flags.from), dir });
      if (flags.json === true) {
        io.out(`${JSON.stringify(manifest)}\n`);
        return;
      }
      const stores = manifest.stores.map((s) => `${s.name} ${s.keys} keys`).join(', ');
      io.out(`restored ${manifest.role} ${manifest.id} (backup of ${manifest.createdAt}) into ${dir}: ${stores}; ${manifest.files.length} files checked\n`);
    });
}
