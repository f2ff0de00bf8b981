/**
 * `bulwark reconfigure --network CURRENT [--add member.json]… [--remove id]… --out NEW`: the new
 * network file of a replica-set change (issue #19). `planChange` reads and checks everything and
 * yields the plan (`setup/reconfigure.ts`); the action writes the file and says what changed and its
 * digest, the value the operator command that switches the network names.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { BulwarkError } from '../../common/errors.ts';
import { loadNetworkFile } from '../../setup/network-file.ts';
import { replicaEntrySchema, type ReplicaEntryJson } from '../../setup/network-schema.ts';
import { firstClientId, planReconfiguration, type ReconfigurationPlan } from '../../setup/reconfigure.ts';
import type { CliIo } from '../io.ts';
import { loadOperator, submitOperatorCommand, waitWedged, type OperatorFlags } from '../operator-command.ts';
import { collect, integer, UsageError } from '../usage.ts';

export interface ReconfigureFlags extends Partial<OperatorFlags> {
  network: string;
  submit?: boolean;
  wait?: string | boolean;
  add?: string[];
  remove?: number[];
  faults?: number;
  slowReplicas?: number;
  out: string;
  json?: boolean;
}

export function registerReconfigure(program: Command, io: CliIo): void {
  program
    .command('reconfigure')
    .summary('the new network file that adds or removes replicas')
    .description(
      [
        "Writes the network file of a changed replica set: the current one with the joining replicas' entries " +
          '(member.json from bulwark member) appended, or the highest replica ids removed, and f and c as given, ' +
          'kept when they still fit, or the most that fit. Prints its sha256 digest.',
        'Replica ids stay 0..n-1 without gaps: new replicas take ids n, n+1, …, below the first client id ' +
          '(bulwark init --max-replicas leaves room); only the highest ids can be removed.',
      ].join('\n\n'),
    )
    .requiredOption('--network <file>', "the network's current network.json")
    .addOption(new Option('--add <member.json>', "a joining replica's public entry (bulwark member); repeatable, in id order").argParser(collect))
    .addOption(new Option('--remove <id>', 'a replica id to remove (the highest ones only); repeatable').argParser(collectId))
    .addOption(new Option('-f, --faults <f>', 'Byzantine replicas tolerated after the change (default: kept if it fits, else the most that fit)').argParser(integer(0)))
    .addOption(new Option('-c, --slow-replicas <c>', 'slow replicas allowed after the change, c (default: kept if it fits)').argParser(integer(0)))
    .requiredOption('-o, --out <file>', 'where to write the new network file; must not exist')
    .addOption(new Option('--json', 'print the result as JSON'))
    .addOption(new Option('--submit', "sign the reconfigure command naming the new file with the operator's key (--dir) and submit it (--rpc)"))
    .addOption(new Option('--dir <dir>', "the operator's directory (operator/ from bulwark init), with --submit"))
    .addOption(new Option('--rpc <url>', "a client node's JSON-RPC endpoint that carries the command").default('http://127.0.0.1:8545'))
    .addOption(new Option('--rpc-token <token>', 'bearer token, when the endpoint requires one'))
    .addOption(new Option('--wait [seconds]', 'with --submit: wait until every replica that answers is wedged at the change (default 120 s)'))
    .action(async (flags: ReconfigureFlags) => {
      if (flags.submit === true && flags.dir === undefined) throw new UsageError('--submit needs --dir, the operator directory');
      if (flags.submit !== true && flags.wait !== undefined) throw new UsageError('--wait goes with --submit');
      const plan = await planChange(flags);
      await writeNewNetworkFile(flags.out, plan.text);
      io.out(flags.json ? JSON.stringify(summary(plan, flags.out), null, 2) + '\n' : describe(plan, flags.out));
      if (flags.submit !== true) return;
      const operator = flags as ReconfigureFlags & OperatorFlags;
      const { sign } = await loadOperator(operator);
      const payload = sign({ kind: 'reconfigure', network: Buffer.from(plan.next.digest, 'hex'), nonce: Date.now() });
      io.out(`${await submitOperatorCommand(operator, payload, 'RECONFIGURE_REFUSED')}\n`);
      if (flags.wait !== undefined) io.out(`${await waitWedged(operator, flags.wait)}\n`);
      io.out(`next: stop every node, copy ${flags.out} to network.json in every node directory (and the joining replicas'), start them\n`);
    });
}

function collectId(value: string, previous: number[] = []): number[] {
  return [...previous, integer(0)(value)];
}

/** Reads the current network file and the joining replicas' entries; the checked plan. */
export async function planChange(flags: ReconfigureFlags): Promise<ReconfigurationPlan> {
  const add = flags.add ?? [];
  const remove = flags.remove ?? [];
  if (add.length === 0 && remove.length === 0 && flags.faults === undefined && flags.slowReplicas === undefined) {
    throw new UsageError('name a change: --add <member.json>, --remove <id>, --faults or --slow-replicas');
  }
  const current = await loadNetworkFile(flags.network);
  const entries = await Promise.all(add.map(readMemberFile));
  return planReconfiguration(current, {
    add: entries,
    remove,
    ...(flags.faults === undefined ? {} : { f: flags.faults }),
    ...(flags.slowReplicas === undefined ? {} : { c: flags.slowReplicas }),
  });
}

async function readMemberFile(path: string): Promise<ReplicaEntryJson> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new BulwarkError('SETUP_INVALID_INPUT', `cannot read ${path} as JSON: ${(cause as Error).message}`, { path }, { cause });
  }
  const r = replicaEntrySchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new BulwarkError('SETUP_INVALID_INPUT', `${path} is not a replica's entry (member.json from bulwark member): ${problems.join('; ')}`, { path, problems });
  }
  return r.data;
}

/** Never over an existing file: writing over the current network.json would lose it before the switch. */
async function writeNewNetworkFile(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { mode: 0o644, flag: 'wx' });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new BulwarkError('SETUP_OUTPUT_EXISTS', `${path} exists; refusing to overwrite it (write the new network file beside the current one)`, { path }, { cause });
    throw new BulwarkError('SETUP_WRITE_FAILED', `cannot write ${path}: ${code}`, { path }, { cause });
  }
}

function summary(p: ReconfigurationPlan, out: string): Record<string, unknown> {
  const counts = (x: { n: number; f: number; c: number }) => ({ n: x.n, f: x.f, c: x.c });
  return {
    networkFile: out,
    digest: p.next.digest,
    previousDigest: p.current.digest,
    from: counts(p.current),
    to: counts(p.next),
    added: p.added,
    removed: p.removed,
    firstClient: firstClientId(p.next.json),
    ...(p.couldTolerate === undefined ? {} : { couldTolerate: p.couldTolerate }),
  };
}

function describe(p: ReconfigurationPlan, out: string): string {
  const { current: a, next: b } = p;
  const endpoint = (id: number) => b.replicas.find((r) => r.id === id)!;
  const lines = [
    `new network file written to ${out}`,
    `  sha256 ${b.digest} (current ${a.digest})`,
    `  n = ${a.n} → ${b.n}, f = ${a.f} → ${b.f}, c = ${a.c} → ${b.c}`,
    ...p.added.map((id) => `  adds replica ${id} (${endpoint(id).host}:${endpoint(id).port})`),
    ...p.removed.map((id) => `  removes replica ${id}`),
    `  client ids start at ${firstClientId(b.json)}`,
  ];
  if (b.f < a.f) lines.push(`warning: the network tolerates fewer Byzantine replicas after the change (f = ${b.f})`);
  if (p.couldTolerate !== undefined) lines.push(`note: ${b.n} replicas could tolerate f = ${p.couldTolerate} (--faults ${p.couldTolerate})`);
  lines.push(
    'Next: switch the network to this file (an operator command naming its digest), then copy it as network.json into',
    'every node directory, the new replicas\' included, and restart every node.',
  );
  return lines.join('\n') + '\n';
}
