// The new network file of a replica-set change (issue #19): replicas appended with ids n, n+1, …
// below the client ids, or the highest removed; f and c given, kept, or the most that fit; every
// refusal with a message that says why. The bound itself is `replicaCountProblem`'s (today
// n = 3f + 2c + 1; n ≥ 3f + 2c + 1 once quorums allow it): expectations that depend on it ask it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBulwarkError } from '../../src/common/errors.ts';
import { parseChainConfig } from '../../src/execution/chain-config.ts';
import { generateNetwork, replicaEntry } from '../../src/setup/generate.ts';
import { seededKeySource } from '../../src/setup/key-source.ts';
import { parseNetworkFile, replicaCountProblem } from '../../src/setup/network-file.ts';
import type { NetworkFileJson, ReplicaEntryJson } from '../../src/setup/network-schema.ts';
import { makeBlsKey, makeEd25519Key, makeTlsIdentity } from '../../src/setup/node-keys.ts';
import { planReconfiguration, reconfigureNetwork, type ReplicaChange } from '../../src/setup/reconfigure.ts';

const chainConfig = parseChainConfig({ chainId: 1337 });
const seed = new Uint8Array(32).fill(3);
/** n = 4, f = 1, two client nodes at ids 8 and 9: room for four more replicas. */
const roomy = generateNetwork({ topology: { f: 1, clients: 2, maxReplicas: 8 }, chainConfig, seed });
/** n = 4 with client ids following the replicas (no --max-replicas). */
const tight = generateNetwork({ topology: { f: 1, clients: 2 }, chainConfig, seed });
const current = (): NetworkFileJson => structuredClone(roomy.network.json);

const source = seededKeySource(new Uint8Array(32).fill(9));
/** A joining replica's entry, as `bulwark member` writes it (keys from a test seed). */
function member(id: number, port = 7200 + id): ReplicaEntryJson {
  const label = `joiner/${id}`;
  const secrets = {
    role: 'replica' as const,
    id,
    tls: makeTlsIdentity(source, label, `bulwark replica ${id}`, '127.0.0.1', { now: new Date(), validityDays: 10 }),
    bootstrapKey: makeBlsKey(source, label),
    executionKey: makeEd25519Key(source, `${label}/execution`),
  };
  return replicaEntry(secrets, { host: '127.0.0.1', port });
}

const fits = (n: number, f: number, c: number) => replicaCountProblem(n, f, c) === undefined;

function refused(json: NetworkFileJson, change: ReplicaChange, code: string, fragment: RegExp): void {
  assert.throws(
    () => reconfigureNetwork(json, change),
    (e) => isBulwarkError(e, code) && fragment.test(e.message),
    `${code} ${fragment}`,
  );
}

test('adding one replica appends it with id n; clients, operator and chain stay as they were', () => {
  const next = parseNetworkFile(reconfigureNetwork(current(), { add: [member(4)], remove: [] }));
  assert.equal(next.n, 5);
  assert.deepEqual(next.replicas.map((r) => r.id), [0, 1, 2, 3, 4]);
  assert.equal(next.replicas[4]!.port, 7204);
  assert.deepEqual(next.json.replicas.slice(0, 4), roomy.network.json.replicas);
  assert.deepEqual(next.json.clients, roomy.network.json.clients);
  assert.equal(next.firstClient, 8);
  assert.deepEqual(next.json.operator, roomy.network.json.operator);
  assert.deepEqual(next.json.chainConfig, roomy.network.json.chainConfig);
  // f = 1 is kept where 5 replicas can run with it; otherwise the most Byzantine faults that fit.
  if (fits(5, 1, 0)) assert.deepEqual([next.f, next.c], [1, 0]);
  else assert.ok(fits(5, next.f, next.c) && next.f === 0, `f = ${next.f}, c = ${next.c}`);
});

test('adding three reaches n = 7, where f = 2 fits; with --faults 2 it is f = 2 either way', () => {
  const add = [member(4), member(5), member(6)];
  const kept = parseNetworkFile(reconfigureNetwork(current(), { add, remove: [] }));
  assert.equal(kept.n, 7);
  assert.deepEqual([kept.f, kept.c], fits(7, 1, 0) ? [1, 0] : [2, 0]);
  const asked = planReconfiguration(roomy.network, { add, remove: [], f: 2 });
  assert.deepEqual([asked.next.f, asked.next.c, asked.next.n], [2, 0, 7]);
  assert.deepEqual(asked.added, [4, 5, 6]);
  assert.equal(asked.couldTolerate, undefined);
  assert.equal(asked.next.digest, parseNetworkFile(JSON.parse(asked.text)).digest, 'the digest is the written text');
  if (fits(7, 1, 0)) assert.equal(planReconfiguration(roomy.network, { add, remove: [] }).couldTolerate, 2);
});

test('adding two at once takes ids n and n + 1, in order', () => {
  const next = reconfigureNetwork(current(), { add: [member(4), member(5)], remove: [] });
  assert.deepEqual(next.replicas.map((r) => r.id), [0, 1, 2, 3, 4, 5]);
  assert.equal(next.n, 6);
  assert.ok(fits(6, next.f, next.c));
});

test('removing the highest replicas; client ids stay where they were', () => {
  const seven = reconfigureNetwork(current(), { add: [member(4), member(5), member(6)], remove: [], f: 2 });
  const back = planReconfiguration(parseNetworkFile(seven), { remove: [6, 5, 4], add: [], f: 1 });
  assert.deepEqual([back.next.n, back.next.f, back.next.c], [4, 1, 0]);
  assert.deepEqual(back.removed, [6, 5, 4]);
  assert.deepEqual(back.next.json.replicas, roomy.network.json.replicas);
  assert.equal(back.next.firstClient, 8);

  // Without --max-replicas the client ids followed the replicas: they are pinned when n changes.
  const fewer = reconfigureNetwork(structuredClone(tight.network.json), { remove: [3], add: [] });
  assert.equal(fewer.n, 3);
  assert.equal(fewer.firstClient, 4);
  assert.deepEqual(fewer.clients.map((c) => c.id), [4, 5]);
  assert.ok(fits(3, fewer.f, fewer.c));
});

test('refusals say why', () => {
  const R = 'RECONFIGURE_REFUSED';
  refused(current(), { add: [], remove: [] }, R, /nothing changes: n = 4, f = 1, c = 0 already/);
  refused(current(), { add: [], remove: [], f: 1, c: 0 }, R, /nothing changes/);
  refused(current(), { add: [member(5)], remove: [] }, R, /has id 5, expected 4 .*bulwark member --id 4/);
  refused(current(), { add: [member(4), member(4, 7300)], remove: [] }, R, /position 2 has id 4, expected 5/);
  refused(structuredClone(tight.network.json), { add: [member(4)], remove: [] }, R, /no replica id left: client ids start at 4; create the network with --max-replicas/);
  const full = reconfigureNetwork(current(), { add: [4, 5, 6, 7].map((id) => member(id)), remove: [] });
  refused(full, { add: [member(8)], remove: [] }, R, /no replica id left: client ids start at 8/);
  refused(current(), { add: [], remove: [1] }, R, /replica 1 cannot be removed without removing 3: replica ids stay 0..n-1 without gaps/);
  refused(current(), { add: [], remove: [3, 1] }, R, /replica 1 cannot be removed without removing 2.*removing 2: 3, 2/);
  refused(current(), { add: [], remove: [4] }, R, /replica 4 is not in the network \(replica ids are 0..3\)/);
  refused(current(), { add: [], remove: [3, 2, 1, 0] }, R, /leaves no network/);
  refused(current(), { add: [member(4)], remove: [3] }, R, /separate reconfigurations/);
  refused(current(), { add: [], remove: [3], f: 1 }, R, /^3 replicas cannot run with f = 1: n = 3 /);
  refused(current(), { add: [member(4)], remove: [], f: 2 }, R, /^5 replicas cannot run with f = 2: /);
});

test("the parser's checks surface: a taken endpoint, a reused key, a proof of possession that does not verify", () => {
  const N = 'NETWORK_FILE_INVALID';
  const taken = { ...member(4), port: roomy.network.json.replicas[2]!.port };
  refused(current(), { add: [taken], remove: [] }, N, /the reconfigured network file is invalid: .*replica 4 has the same endpoint as replica 2/);
  const copy = { ...member(4), executionKey: roomy.network.json.replicas[0]!.executionKey };
  refused(current(), { add: [copy], remove: [] }, N, /replica 4 has the same Ed25519 key as replica 0/);
  const other = member(5);
  const forged = { ...member(4), bootstrapConsensusKey: { ...member(4).bootstrapConsensusKey, proofOfPossession: other.bootstrapConsensusKey.proofOfPossession } };
  refused(current(), { add: [forged], remove: [] }, N, /replicas\.4\.bootstrapConsensusKey: the proof of possession does not verify/);
});
