/**
 * `bulwark backup --dir D --out B`: a consistent backup of a node directory (`node/backup.ts`).
 * While the node runs, it takes the backup itself, asked through its admin socket (a unix socket found from D,
 * `node/admin.ts`): only the process holding RocksDB's lock can snapshot its stores. With the node
 * stopped, this command opens the stores and takes it. `bulwark restore --from B --dir D2` brings
 * it back.
 */
import { join, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { BulwarkError, isBulwarkError } from '../../common/errors.ts';
import { adminRequest } from '../../node/admin.ts';
import { STORE_NAMES, takeBackup, type BackupManifest } from '../../node/backup.ts';
import { readNodeFile } from '../../setup/node-directory.ts';
import { openRocksStore, type KvStore } from '../../storage/index.ts';
import type { CliIo } from '../io.ts';
import { UsageError } from '../usage.ts';

interface BackupFlags {
  dir: string;
  out: string;
  json?: boolean;
}

export function registerBackup(program: Command, io: CliIo): void {
  program
    .command('backup')
    .description("back up a replica's or a client node's directory (keys and ledger, one consistent moment), running or stopped")
    .requiredOption('--dir <dir>', 'the node directory')
    .requiredOption('--out <dir>', 'the backup directory to make (absent or empty; not inside --dir)')
    .option('--json', 'print the backup manifest as JSON')
    .addHelpText(
      'after',
      '\nA running node takes the backup itself (asked through its admin socket) while it goes on working;\n' +
        'a stopped node is backed up by this command. The backup holds the node\'s private keys: keep it as\n' +
        'you keep the node directory. Restore with `bulwark restore --from <backup> --dir <new dir>`.\n',
    )
    .action(async (flags: BackupFlags) => {
      const dir = resolve(flags.dir);
      const out = resolve(flags.out);
      const st = await stat(dir).catch(() => null);
      if (st === null || !st.isDirectory()) throw new UsageError(`--dir ${flags.dir} is not a directory`);
      const reply = await adminRequest(dir, { op: 'backup', out });
      let manifest: BackupManifest;
      let online: boolean;
      if (reply === null) {
        manifest = await offlineBackup(dir, out);
        online = false;
      } else if (reply.ok) {
        manifest = reply.manifest;
        online = true;
      } else {
        throw new BulwarkError(reply.code, `the node refused the backup: ${reply.message}`);
      }
      if (flags.json === true) {
        io.out(`${JSON.stringify(manifest)}\n`);
        return;
      }
      const stores = manifest.stores.length === 0 ? 'no database yet' : manifest.stores.map((s) => `${s.name} ${s.keys} keys (${s.bytes} bytes)`).join(', ');
      io.out(`backup of ${manifest.role} ${manifest.id} written to ${out} (${online ? 'taken by the running node' : 'node stopped'}): ${stores}; ${manifest.files.length} files\n`);
    });
}

/** The node is not running (no admin socket answers): open its stores here. */
async function offlineBackup(dir: string, out: string): Promise<BackupManifest> {
  const node = await readNodeFile(dir);
  const stores: Partial<Record<(typeof STORE_NAMES)[number], KvStore>> = {};
  try {
    for (const name of STORE_NAMES) {
      if (name === 'state' && node.role !== 'client') continue;
      // No database: a node never started (its keys only), or a client node run with --no-local-state.
      if ((await stat(join(dir, name, 'CURRENT')).catch(() => null)) === null) continue;
      try {
        stores[name] = await openRocksStore(join(dir, name), { createIfMissing: false });
      } catch (err) {
        if (isBulwarkError(err, 'STORAGE_LOCKED')) {
          throw new BulwarkError(
            'BACKUP_NODE_UNREACHABLE',
            `${join(dir, name)} is held by a running node whose admin socket does not answer (started with --no-admin-socket, its runtime directory unsafe, or run by another user: see its log); stop it, or back it up another way`,
            { dir },
          );
        }
        throw err;
      }
    }
    return await takeBackup({ dir, out, stores });
  } finally {
    for (const kv of Object.values(stores)) await kv.close();
  }
}
