/**
 * A replica joining a running network (`bulwark member`, issue #19), run on the new replica's own
 * host so that its private keys never leave it: the same secrets `generateNetwork` makes for a
 * replica (a TLS key and certificate, a bootstrap BLS key with its proof of possession, an Ed25519
 * execution key), always from the operating system's randomness, written as a replica directory.
 *
 * The directory has no network.json: the file that lists this replica does not exist until the
 * operator writes it (`bulwark reconfigure --add <dir>/member.json`). Instead it holds member.json,
 * the public entry the operator adds. Once the operator copies the new network.json in, the
 * directory loads like any replica's (`loadNodeDirectory`); before, loading says what is missing.
 * Written through a staging directory renamed into place, as `bulwark init` writes, and never over
 * a non-empty directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BulwarkError } from '../common/errors.ts';
import type { ScryptCost } from '../crypto/key-seal.ts';
import { DEFAULT_CERT_VALIDITY_DAYS, replicaEntry } from './generate.ts';
import { checkTarget, placeOutput } from './init.ts';
import { randomKeySource } from './key-source.ts';
import { MEMBER_FILE } from './layout.ts';
import type { NetworkConfig } from './network-file.ts';
import type { ReplicaEntryJson } from './network-schema.ts';
import { writeNodeDirectory, type ReplicaSecrets, type SealOptions } from './node-directory.ts';
import { makeBlsKey, makeEd25519Key, makeTlsIdentity } from './node-keys.ts';
import { checkNewReplicaId } from './reconfigure.ts';
import { parseEndpoint } from './topology.ts';

export interface MemberOptions {
  /** The network as it is now: the new replica takes the next free id. */
  readonly network: NetworkConfig;
  readonly host: string;
  readonly port: number;
  readonly outDir: string;
  /** Default: n, the next free id; n + 1, … when several replicas join at once. */
  readonly id?: number;
  readonly passphrase?: string;
  readonly scryptCost?: ScryptCost;
  readonly certValidityDays?: number;
  readonly now?: Date;
}

export interface MemberResult {
  readonly outDir: string;
  readonly id: number;
  /** The public entry, also written to `<outDir>/member.json`. */
  readonly entry: ReplicaEntryJson;
  readonly memberFile: string;
}

export async function runMember(o: MemberOptions): Promise<MemberResult> {
  const outDir = resolve(o.outDir);
  const id = o.id ?? o.network.n;
  checkNewReplicaId(o.network.json, id);
  const endpoint = parseEndpoint(`${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`);
  checkEndpointFree(o.network, endpoint.host, endpoint.port);
  const validityDays = o.certValidityDays ?? DEFAULT_CERT_VALIDITY_DAYS;
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 36_500) {
    throw new BulwarkError('SETUP_INVALID_INPUT', `certificate validity must be 1..36500 days, got ${validityDays}`);
  }
  await checkTarget(outDir);
  const policy = { now: o.now ?? new Date(), validityDays };
  // The labels only name material in deterministic mode; a joining replica's keys are always random.
  const secrets: ReplicaSecrets = {
    role: 'replica',
    id,
    tls: makeTlsIdentity(randomKeySource, `replica/${id}`, `bulwark replica ${id}`, endpoint.host, policy),
    bootstrapKey: makeBlsKey(randomKeySource, `replica/${id}`),
    executionKey: makeEd25519Key(randomKeySource, `replica/${id}/execution`),
  };
  const entry = replicaEntry(secrets, endpoint);
  const seal: SealOptions = o.passphrase === undefined ? {} : { passphrase: o.passphrase, ...(o.scryptCost ? { cost: o.scryptCost } : {}) };
  const staging = join(dirname(outDir), `.${basename(outDir)}.member-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(staging, { recursive: true, mode: 0o700 });
    await writeNodeDirectory(staging, secrets, null, seal);
    await writeFile(join(staging, MEMBER_FILE), JSON.stringify(entry, null, 2) + '\n', { mode: 0o644 });
    await placeOutput(staging, outDir);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    if (cause instanceof BulwarkError) throw cause;
    throw new BulwarkError('SETUP_WRITE_FAILED', `cannot write the replica directory ${outDir}: ${(cause as Error).message}`, { path: outDir }, { cause });
  }
  return { outDir, id, entry, memberFile: join(outDir, MEMBER_FILE) };
}

/** Caught here rather than at `bulwark reconfigure`, before keys are made for an endpoint that is taken. */
function checkEndpointFree(network: NetworkConfig, host: string, port: number): void {
  const taken = [...network.replicas, ...network.clients].find((x) => x.host.toLowerCase() === host.toLowerCase() && x.port === port);
  if (taken !== undefined) {
    throw new BulwarkError('SETUP_INVALID_INPUT', `${host}:${port} is the endpoint of ${taken.role} ${taken.id} already`, { host, port });
  }
}
