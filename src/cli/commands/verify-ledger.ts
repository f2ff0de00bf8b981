/**
 * `bulwark verify-ledger --dir D`: checks a replica's or a client node's ledger offline, stopping
 * at the first inconsistency (`verifier/verify-ledger.ts` lists the checks). Works on a copy of a
 * running node's directory and writes nothing to it. Exit codes: 0 consistent, 1 inconsistent (or
 * unreadable), 2 called wrongly.
 */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { BulwarkError } from '../../common/errors.ts';
import { describeInconsistency, verifyLedgerDirectory, type VerifyLedgerResult } from '../../verifier/verify-ledger.ts';
import type { CliIo } from '../io.ts';
import { UsageError } from '../usage.ts';

interface VerifyLedgerFlags {
  dir: string;
  state?: boolean;
  json?: boolean;
}

export function registerVerifyLedger(program: Command, io: CliIo): void {
  program
    .command('verify-ledger')
    .description("check a node's ledger offline (blocks, receipts, indexes, certificates); exits 1 at the first inconsistency")
    .requiredOption('--dir <dir>', "the node directory (a replica's or a client node's; a copy of a running node's works)")
    .option('--state', 'also walk the whole state trie, every storage trie and all contract code, checking each hash (slow: reads every state node)')
    .option('--json', 'print the result as one JSON object')
    .addHelpText(
      'after',
      '\nChecks, stopping at the first failure: the chain config and genesis against network.json; every block\n' +
        '(header hash, number, parent link, body, transactions and receipts roots, logs bloom, gas used,\n' +
        'transaction and logs-bloom indexes) and the head; on a replica every commit certificate, the stable\n' +
        'checkpoint and the execution progress; on a client node every block and checkpoint certificate.\n' +
        'Prints LEDGER_INCONSISTENT: <where>: <what> (expected …, found …) and exits 1 on the first problem.\n',
    )
    .action(async (flags: VerifyLedgerFlags) => {
      const dir = await stat(flags.dir).catch(() => null);
      if (dir === null || !dir.isDirectory()) throw new UsageError(`--dir ${flags.dir} is not a directory`);
      let result: VerifyLedgerResult;
      try {
        result = await verifyLedgerDirectory({ dir: flags.dir, state: flags.state === true });
      } catch (err) {
        if (err instanceof BulwarkError && err.code === 'VERIFY_NOT_A_NODE_DIR') throw new UsageError(err.message);
        throw err;
      }
      report(io, result, flags.json === true);
      if (!result.ok) {
        throw new BulwarkError('LEDGER_INCONSISTENT', `the ledger in ${flags.dir} is inconsistent: ${describeInconsistency(result.problem)}`, { ...result.problem });
      }
    });
}

function report(io: CliIo, result: VerifyLedgerResult, json: boolean): void {
  if (json) {
    io.out(`${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    return;
  }
  const k = result.counts;
  if (!result.ok) {
    io.out(`LEDGER_INCONSISTENT: ${describeInconsistency(result.problem)}\n`);
    return;
  }
  const certs =
    result.role === 'replica'
      ? `${k.commitCertificates} commit certificates, stable checkpoint ${k.stableCheckpoint ?? 'none'}`
      : `${k.blockCertificates} block certificates, ${k.checkpointCertificates} checkpoint certificates` +
        (k.checkpointsAhead > 0 ? ` (${k.checkpointsAhead} for blocks not mirrored yet)` : '');
  const state = k.stateNodes > 1 || k.codes > 0 ? `, ${k.stateNodes} state nodes and ${k.codes} contract codes` : '';
  const from = k.snapshot === null ? '' : `; installed from the snapshot at checkpoint ${k.snapshot.seq} (block ${k.snapshot.block}, ${k.snapshot.headers} headers before it)`;
  const pruned =
    k.statesPruned > 0 || k.orderedBatchesPruned > 0
      ? `; pruned store: states of ${k.statesPruned} blocks (below ${k.statesPruned}) and ${k.orderedBatchesPruned} ordered batches not kept, so not checked`
      : '';
  const local = result.localState === undefined ? '' : `; local state to block ${result.localState.number}, every block the certified one`;
  io.out(`ledger consistent (${result.role}): ${k.blocks} blocks, ${k.transactions} transactions, ${certs}${state}; head ${result.head.number} ${result.head.hash}${from}${pruned}${local}\n`);
}
