import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBulwarkError } from '../../src/common/errors.ts';
import { parseChainConfig } from '../../src/execution/chain-config.ts';
import { generateNetwork } from '../../src/setup/generate.ts';
import { derToPem, pemToDer } from '../../src/setup/certificate.ts';
import { loadNetworkFile, parseNetworkFile } from '../../src/setup/network-file.ts';
import type { NetworkFileJson } from '../../src/setup/network-schema.ts';

const seed = new Uint8Array(32).fill(7);
const chainConfig = parseChainConfig({ chainId: 1337, alloc: { '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266': { balance: '1000' } } });
const generated = generateNetwork({ topology: { f: 1, clients: 2 }, chainConfig, seed });
const base = (): NetworkFileJson & Record<string, unknown> => JSON.parse(generated.text);

function refused(mutate: (j: ReturnType<typeof base>) => void, fragment: string): void {
  const json = base();
  mutate(json);
  assert.throws(
    () => parseNetworkFile(json, 'test.json'),
    (e) => isBulwarkError(e, 'NETWORK_FILE_INVALID') && e.message.includes('test.json') && e.message.includes(fragment),
    fragment,
  );
}

test('the same seed gives the same network, byte for byte; another seed another one', () => {
  const again = generateNetwork({ topology: { f: 1, clients: 2 }, chainConfig, seed });
  assert.equal(again.text, generated.text);
  assert.equal(again.network.digest, generated.network.digest);
  const other = generateNetwork({ topology: { f: 1, clients: 2 }, chainConfig, seed: new Uint8Array(32).fill(8) });
  assert.notEqual(other.network.digest, generated.network.digest);
});

test('a generated network file parses back to everything in it', () => {
  const n = parseNetworkFile(base());
  assert.deepEqual([n.f, n.c, n.n, n.chainId], [1, 0, 4, 1337n]);
  assert.deepEqual(n.replicas.map((r) => [r.id, r.host, r.port]), [0, 1, 2, 3].map((i) => [i, '127.0.0.1', 7100 + i]));
  assert.deepEqual(n.clients.map((c) => [c.id, c.port]), [[4, 7104], [5, 7105]]);
  assert.equal(n.chainConfig.alloc.get('0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266')?.balance, 1000n);
  assert.equal(n.operatorKey.algorithm, 'ed25519');
  assert.equal(n.digest, generated.network.digest);
});

test('shape errors name the field', () => {
  refused((j) => void (j.version = 2 as never), 'version');
  refused((j) => void (j['extra'] = 1), 'extra');
  refused((j) => void (j.replicas[0]!.port = 70000), 'replicas.0.port');
  refused((j) => void (j.replicas[1]!.host = 'not a host!'), 'replicas.1.host');
  refused((j) => void (j.replicas[0]!.bootstrapConsensusKey.publicKey = '0x1234'), 'replicas.0.bootstrapConsensusKey.publicKey');
  refused((j) => void (j.clients[0]!.authKey.algorithm = 'p384' as never), 'clients.0.authKey.algorithm');
});

test('counts and ids must fit n ≥ 3f + 2c + 1 and run in order', () => {
  refused((j) => void (j.f = 2), 'n = 4 is below 3f + 2c + 1 = 7');
  refused((j) => void (j.c = 1), 'n = 4 is below 3f + 2c + 1 = 6');
  refused((j) => void ((j.f = 0), (j.c = 1)), 'c = 1 needs f ≥ 1');
  refused((j) => void (j.n = 5), '4 replicas listed, n = 5');
  refused((j) => void j.replicas.pop(), '3 replicas listed');
  refused((j) => void ([j.replicas[1], j.replicas[2]] = [j.replicas[2]!, j.replicas[1]!]), 'replicas.1: id 2, expected 1');
  refused((j) => void (j.clients[1]!.id = 9), 'clients.1: id 9, expected 5');
});

test('client ids start at firstClient when the network keeps replica ids free for later (bulwark init --max-replicas)', () => {
  const roomy = generateNetwork({ topology: { f: 1, clients: 2, maxReplicas: 7 }, chainConfig, seed });
  const json = JSON.parse(roomy.text) as NetworkFileJson;
  assert.equal(json.firstClient, 7);
  assert.deepEqual(roomy.network.clients.map((c) => c.id), [7, 8]);
  assert.equal(roomy.network.firstClient, 7);
  // Without room to grow the field is absent, and the file reads (and hashes) as it always did.
  assert.equal((JSON.parse(generated.text) as NetworkFileJson).firstClient, undefined);
  assert.equal(parseNetworkFile(base()).firstClient, 4);
  refused((j) => void (j.firstClient = 3), 'firstClient 3 is below the 4 replicas');
  refused((j) => void (j.firstClient = 6), 'clients.0: id 4, expected 6');
  assert.throws(() => generateNetwork({ topology: { f: 1, clients: 1, maxReplicas: 3 }, chainConfig, seed }), (e) => isBulwarkError(e, 'SETUP_INVALID_INPUT'));
});

test('a network with replicas to spare: five for f = 1', () => {
  const five = generateNetwork({ topology: { replicas: 5, clients: 1 }, chainConfig, seed });
  const n = parseNetworkFile(JSON.parse(five.text), 'five.json');
  assert.deepEqual([n.n, n.f, n.c, n.replicas.length], [5, 1, 0, 5]);
  const json = JSON.parse(five.text) as NetworkFileJson;
  json.f = 2;
  assert.throws(() => parseNetworkFile(json, 'five.json'), (e) => isBulwarkError(e, 'NETWORK_FILE_INVALID') && e.message.includes('n = 5 is below 3f + 2c + 1 = 7'));
});

test('no two nodes share an endpoint, a certificate or a key', () => {
  refused((j) => void (j.clients[1]!.port = j.replicas[2]!.port), 'client 5 has the same endpoint as replica 2');
  refused((j) => void (j.replicas[3]!.tlsCertificate = j.replicas[0]!.tlsCertificate), 'replica 3 has the same TLS certificate as replica 0');
  refused((j) => void (j.clients[0]!.authKey = j.replicas[1]!.executionKey), 'client 4 has the same Ed25519 key as replica 1');
  refused((j) => void (j.replicas[2]!.bootstrapConsensusKey = j.replicas[1]!.bootstrapConsensusKey), 'same bootstrap consensus key');
});

test('a bootstrap key without a valid proof of possession is refused', () => {
  refused(
    (j) => void (j.replicas[0]!.bootstrapConsensusKey.proofOfPossession = j.replicas[1]!.bootstrapConsensusKey.proofOfPossession),
    'replicas.0.bootstrapConsensusKey: the proof of possession does not verify',
  );
  refused((j) => void (j.replicas[0]!.bootstrapConsensusKey.proofOfPossession = '0x' + 'ab'.repeat(96)), 'proofOfPossession');
});

test('certificates, keys and the chain config are checked, not just carried', () => {
  refused((j) => {
    const der = pemToDer(j.replicas[1]!.tlsCertificate);
    der[der.length - 3]! ^= 0x40; // inside the signature
    j.replicas[1]!.tlsCertificate = derToPem(der);
  }, 'replicas.1.tlsCertificate: certificate self-signature does not verify');
  refused((j) => void (j.operator.publicKey = '0x' + '00'.repeat(44)), 'operator.publicKey');
  refused((j) => void (j.chainId = '5'), 'chainId 5 differs from chainConfig.chainId 1337');
  refused((j) => void ((j.chainConfig as Record<string, unknown>)['gasMode'] = 'cheap'), 'chainConfig');
});

test('a missing file is refused by loadNetworkFile with its path', async () => {
  await assert.rejects(loadNetworkFile('/nonexistent/network.json'), (e) => isBulwarkError(e, 'NETWORK_FILE_NOT_FOUND') && e.message.includes('/nonexistent/network.json'));
});
