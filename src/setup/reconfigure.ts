/**
 * Changing the replica set (issue #19), Concord-BFT's "add/remove with wedge": the operator writes the
 * NEW network file from the current one and the joining replicas' public entries (`member.ts`); the
 * network switches to it at a wedge point. This module only plans the file: which replicas, which
 * f and c, checked by the same parser every node runs (`parseNetworkFile`), so a file it writes is
 * one the nodes will load.
 *
 * Replica ids stay 0..n-1 without gaps: a replica joins with id n, and only the highest ids leave.
 * Client ids start at `firstClient` and never move, so a network grows only up to the ids
 * `bulwark init --max-replicas` left free.
 */
import { BulwarkError } from '../common/errors.ts';
import { MAX_SIGNERS } from '../crypto/bitvector.ts';
import { parseNetworkFile, replicaCountProblem, serializeNetworkFile, type NetworkConfig } from './network-file.ts';
import type { NetworkFileJson, ReplicaEntryJson } from './network-schema.ts';

export interface ReplicaChange {
  /** Joining replicas' entries (member.json), ids n, n+1, … in order. */
  readonly add: readonly ReplicaEntryJson[];
  /** Leaving replicas: the highest ids. */
  readonly remove: readonly number[];
  /** Faults tolerated after the change; default: kept if they still fit n, else the most that fit. */
  readonly f?: number;
  readonly c?: number;
}

export interface ReconfigurationPlan {
  readonly current: NetworkConfig;
  readonly next: NetworkConfig;
  /** The new network file's canonical text; `next.digest` is its SHA-256. */
  readonly text: string;
  readonly added: readonly number[];
  readonly removed: readonly number[];
  /** The most Byzantine faults the new n could tolerate with the new c, when more than `next.f`. */
  readonly couldTolerate?: number;
}

function refused(message: string, details: Record<string, unknown> = {}): BulwarkError {
  return new BulwarkError('RECONFIGURE_REFUSED', message, details);
}

/** The first client node id: replica ids must stay below it. */
export function firstClientId(json: NetworkFileJson): number {
  return json.firstClient ?? json.n;
}

/** Refuses a new replica id that is taken or that would run into the client ids. */
export function checkNewReplicaId(json: NetworkFileJson, id: number): void {
  if (!Number.isInteger(id) || id < json.n) {
    throw refused(`replica ${id} exists already: a new replica takes an id from ${json.n} on (replica ids are 0..n-1)`, { id, n: json.n });
  }
  const firstClient = firstClientId(json);
  if (id >= firstClient) {
    throw refused(`no replica id left: client ids start at ${firstClient}; create the network with --max-replicas`, { id, firstClient });
  }
}

/** The new network file's JSON; see `planReconfiguration`. */
export function reconfigureNetwork(current: NetworkFileJson, change: ReplicaChange): NetworkFileJson {
  return nextNetwork(current, change).json;
}

/** The new network file with what changed, for the command that writes (and later submits) it. */
export function planReconfiguration(current: NetworkConfig, change: ReplicaChange): ReconfigurationPlan {
  const next = nextNetwork(current.json, change);
  const added = change.add.map((e) => e.id);
  const removed = [...new Set(change.remove)].sort((a, b) => b - a);
  const most = mostFaults(next.n, next.c);
  return { current, next, text: serializeNetworkFile(next.json), added, removed, ...(most > next.f ? { couldTolerate: most } : {}) };
}

function nextNetwork(current: NetworkFileJson, change: ReplicaChange): NetworkConfig {
  if (change.add.length > 0 && change.remove.length > 0) {
    // The joining replicas would take the ids of the leaving ones: one step at a time keeps each id one replica's.
    throw refused('add and remove replicas in separate reconfigurations');
  }
  change.add.forEach((e, i) => {
    const expected = current.n + i;
    if (e.id !== expected) {
      throw refused(`the replica to add at position ${i + 1} has id ${e.id}, expected ${expected} (new replicas take ids n, n+1, … in order; bulwark member --id ${expected})`, {
        id: e.id,
        expected,
      });
    }
    checkNewReplicaId(current, e.id);
  });
  const removed = checkRemoval(current, change.remove);
  const n = current.n + change.add.length - removed;
  if (n > MAX_SIGNERS) throw refused(`n = ${n} exceeds the ${MAX_SIGNERS} replicas a signer bit-vector can name`);
  const { f, c } = chooseFaults(current, n, change);
  if (n === current.n && f === current.f && c === current.c) {
    throw refused(`nothing changes: n = ${n}, f = ${f}, c = ${c} already (give --add, --remove, --faults or --slow-replicas)`);
  }
  const replicas = [...current.replicas.slice(0, current.n - removed), ...change.add];
  // Client ids stay where they are: when they followed the replicas implicitly, they are pinned now.
  const firstClient = current.firstClient ?? (current.clients.length > 0 && n !== current.n ? current.n : undefined);
  // The next configuration epoch: what a replica started with the file checks its store against.
  const json: NetworkFileJson = { ...current, f, c, n, ...(firstClient === undefined ? {} : { firstClient }), epoch: (current.epoch ?? 0) + 1, replicas };
  return parseNetworkFile(json, 'the reconfigured network file');
}

/** Only the highest ids may leave: replica ids stay 0..n-1 without gaps. Returns how many leave. */
function checkRemoval(current: NetworkFileJson, remove: readonly number[]): number {
  const ids = [...new Set(remove)].sort((a, b) => b - a);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= current.n) {
      throw refused(`replica ${id} is not in the network (replica ids are 0..${current.n - 1})`, { id, n: current.n });
    }
  }
  ids.forEach((id, i) => {
    const expected = current.n - 1 - i;
    if (id !== expected) {
      const highest = Array.from({ length: ids.length }, (_, k) => current.n - 1 - k).join(', ');
      throw refused(
        `replica ${id} cannot be removed without removing ${expected}: replica ids stay 0..n-1 without gaps, so only the ` +
          `highest leave (removing ${ids.length}: ${highest}); to retire the host of replica ${id}, move replica ${id} ` +
          `to a new host instead (docs/operations.md, "Replacing a failed host")`,
        { id, expected },
      );
    }
  });
  if (ids.length >= current.n) throw refused(`removing all ${current.n} replicas leaves no network`);
  return ids.length;
}

/**
 * f and c for the new n: as given; else the current ones if they still fit; else the most Byzantine
 * faults that fit, keeping c if that can be done. Whatever fits is what the parser accepts
 * (`replicaCountProblem`), so this follows the bound wherever it is defined.
 */
function chooseFaults(current: NetworkFileJson, n: number, change: ReplicaChange): { f: number; c: number } {
  const fits = (f: number, c: number) => replicaCountProblem(n, f, c) === undefined;
  if (change.f === undefined && change.c === undefined) {
    if (fits(current.f, current.c)) return { f: current.f, c: current.c };
    for (let f = Math.floor((n - 1) / 3); f >= 0; f--) {
      const c = fits(f, current.c) ? current.c : mostSlow(n, f);
      if (c >= 0) return { f, c };
    }
    throw refused(`no f and c fit n = ${n}: ${replicaCountProblem(n, 0, 0)}`, { n });
  }
  // One or both given: the other kept if it fits with it, else the most that fits.
  const f = change.f ?? (fits(current.f, change.c!) ? current.f : mostFaults(n, change.c!));
  const c = change.c ?? (fits(change.f!, current.c) ? current.c : mostSlow(n, change.f!));
  const problem = replicaCountProblem(n, Math.max(f, 0), Math.max(c, 0));
  if (f < 0 || c < 0 || problem !== undefined) {
    const asked = [change.f === undefined ? [] : [`f = ${change.f}`], change.c === undefined ? [] : [`c = ${change.c}`]].flat().join(', ');
    throw refused(`${n} replicas cannot run with ${asked}: ${problem ?? `no ${f < 0 ? 'f' : 'c'} fits`}`, { n, f: change.f, c: change.c });
  }
  return { f, c };
}

/** The most slow replicas n replicas allow with f Byzantine ones (-1: none fit). */
function mostSlow(n: number, f: number): number {
  return largest(Math.floor((n - 1 - 3 * f) / 2), (c) => replicaCountProblem(n, f, c) === undefined);
}


/** The most Byzantine faults n replicas tolerate with c slow ones (-1: none fit). */
function mostFaults(n: number, c: number): number {
  return largest(Math.floor((n - 1 - 2 * c) / 3), (f) => replicaCountProblem(n, f, c) === undefined);
}

/** The largest k in max..0 with ok(k), or -1. */
function largest(max: number, ok: (k: number) => boolean): number {
  for (let k = max; k >= 0; k--) if (ok(k)) return k;
  return -1;
}
