// Rotation of the other keys on real nodes (TLS, RocksDB, key files, in this process): the
// operator rotates every replica's execution key and every node's TLS certificate, then the client
// node's authentication key, with `bulwark keys rotate`; each node generates its key, publishes it
// through consensus, switches at the agreed sequence number (TLS links re-established under the new
// certificates) and erases the old private key. Transactions and reads go on throughout; the
// ledgers verify offline against the key history; every node restarts on its new keys.
import { after, before, test } from 'node:test';
import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import { verifyLedgerDirectory } from '../../src/verifier/verify-ledger.ts';
import { exportNodeAuthPublicKey, importNodeAuthPublicKey, verifyNodeAuth } from '../../src/crypto/node-auth.ts';
import { hexToBytes } from '../../src/crypto/hex.ts';
import { ENDORSEMENT_DOMAIN, POSSESSION_DOMAIN, nodeKeySigningBytes, nodeKeyStatement } from '../../src/codec/key-requests.ts';
import { loadNetworkFile } from '../../src/setup/network-file.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();

let net: InProcessNetwork;
let rpc: Rpc;

before(async () => {
  net = await startInProcessNetwork(0xc7, { consensus: { keyExchange: true, checkpointInterval: 10, window: 20, minRotationIntervalSec: 0 } });
  rpc = rpcClient(net.url);
});
after(async () => {
  await net?.stop();
});

const cli = (...args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'keys', 'rotate', '--dir', join(net.root, 'operator'), '--rpc', net.url, ...args], (err, stdout, stderr) =>
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr }),
    );
  });

const keyFiles = (dir: string) => (existsSync(join(net.root, dir, 'keys')) ? readdirSync(join(net.root, dir, 'keys')).sort() : []);

test('execution keys, TLS certificates and a client node authentication key rotate under a stream of transactions; old keys erased; everything restarts on the new ones', { timeout: 180_000 }, async () => {
  const common = buildCommon(CHAIN_ID);
  const who = testKey(2);
  let nonce = 0n;
  const send = () => rpc.send(signTx(common, who, { nonce: nonce++, to: '0x00000000000000000000000000000000000000c7', value: 1n, gasLimit: 21_000n }));
  assert.equal((await send()).status, '0x1');

  // Every replica's execution key and every node's TLS certificate.
  const first = await cli('--execution', '--tls');
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /^rotation: replica 0 to execution key epoch 1, replica 1 to execution key epoch 1, .*replica 0 to tls key epoch 1, .*client node 4 to tls key epoch 1$/m);
  const replicaDone = (id: number) => {
    const files = keyFiles(`replica-${id}`);
    return files.includes('execution-1.key') && files.includes('tls-1.key') && !existsSync(join(net.root, `replica-${id}`, 'execution.key')) && !existsSync(join(net.root, `replica-${id}`, 'tls.key'));
  };
  const clientTlsDone = () => keyFiles('client-4').includes('tls-1.key') && !existsSync(join(net.root, 'client-4', 'tls.key'));
  let landed = 0;
  const until = Date.now() + 90_000;
  while (!([0, 1, 2, 3].every(replicaDone) && clientTlsDone()) && Date.now() < until) {
    assert.equal((await send()).status, '0x1', 'a transaction lands during the rotation');
    landed++;
  }
  for (const id of [0, 1, 2, 3]) assert.ok(replicaDone(id), `replica ${id}: ${keyFiles(`replica-${id}`).join(', ')}`);
  assert.ok(clientTlsDone(), `client node: ${keyFiles('client-4').join(', ')}`);
  assert.ok(landed > 0);

  // The client node's authentication key.
  const second = await cli('--client', '4');
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.stdout.trim(), 'rotation: client node 4 to auth key epoch 1');
  const authDone = () => keyFiles('client-4').includes('auth-1.key') && !existsSync(join(net.root, 'client-4', 'auth.key'));
  const authUntil = Date.now() + 90_000;
  while (!authDone() && Date.now() < authUntil) assert.equal((await send()).status, '0x1');
  assert.ok(authDone(), `client node: ${keyFiles('client-4').join(', ')}`);

  // Replies, block notices, reads and status answers verify under the new execution keys.
  assert.equal((await send()).status, '0x1', 'a transaction lands under the new keys');
  assert.equal(BigInt(await rpc.call<string>('eth_getTransactionCount', [addressOf(who), 'latest'])), nonce);
  const status = await rpc.call<{ nodes: { replica: number; executionKeyEpoch: number; tlsKeyEpoch: number }[] }>('bft_status');
  assert.deepEqual(status.nodes.map((n) => [n.executionKeyEpoch, n.tlsKeyEpoch]), [[1, 1], [1, 1], [1, 1], [1, 1]], 'bft_status shows the rotated keys in effect');

  // bft_getExecutionKeys (what the explorer checks in the browser): each replica's network.json key,
  // then its epoch-1 key, possessed and endorsed by the one before; the latest block's certificate
  // verifies under the keys it gives for the certificate's sequence number.
  type Key = { epoch: number; publicKey: string; effectiveSeq: number; possession?: string; endorsement?: string };
  const history = await rpc.call<{ f: number; replicas: { replica: number; keys: Key[] }[] }>('bft_getExecutionKeys');
  const network = await loadNetworkFile(join(net.root, 'network.json'));
  const pk = (h: string) => importNodeAuthPublicKey(hexToBytes(h), 'ed25519');
  assert.equal(history.f, 1);
  for (const r of history.replicas) {
    const [k0, k1] = r.keys;
    assert.equal(r.keys.length, 2);
    assert.equal(k0!.publicKey, `0x${Buffer.from(exportNodeAuthPublicKey(network.replicas[r.replica]!.executionKey)).toString('hex')}`);
    const statement = nodeKeyStatement({ kind: 'execution', node: r.replica, epoch: 1, publicKey: hexToBytes(k1!.publicKey) });
    assert.ok(verifyNodeAuth(pk(k1!.publicKey), nodeKeySigningBytes(POSSESSION_DOMAIN, statement), hexToBytes(k1!.possession!)), 'possession');
    assert.ok(verifyNodeAuth(pk(k0!.publicKey), nodeKeySigningBytes(ENDORSEMENT_DOMAIN, statement), hexToBytes(k1!.endorsement!)), 'endorsement');
  }
  const cert = await rpc.call<{ seq: string; signedMessage: string; signatures: { replica: number; signature: string }[] }>('bft_getBlockCertificate', ['latest']);
  for (const sig of cert.signatures) {
    const inEffect = history.replicas[sig.replica]!.keys.filter((k) => k.effectiveSeq <= Number(cert.seq)).pop()!;
    assert.equal(inEffect.epoch, 1);
    assert.ok(verifyNodeAuth(pk(inEffect.publicKey), hexToBytes(cert.signedMessage), hexToBytes(sig.signature)), `replica ${sig.replica}'s signature`);
  }

  // The ledgers check out offline: block certificates under the execution keys in effect at each block.
  for (const dir of ['replica-2', 'client-4']) {
    const copy = mkdtempSync(join(tmpdir(), 'bulwark-nk-copy-'));
    try {
      cpSync(join(net.root, dir), copy, { recursive: true });
      const result = await verifyLedgerDirectory({ dir: copy });
      assert.ok(result.ok, `${dir}: ${result.ok ? '' : JSON.stringify(result.problem)}`);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }

  // Every node restarts on its new keys alone (the network file still names the old ones).
  await net.restartReplicas();
  await net.restartClient();
  rpc = rpcClient(net.url);
  assert.equal((await send()).status, '0x1', 'a transaction lands after every node restarted on its rotated keys');
});

test('a replica down while its peers rotated their TLS certificates rejoins: their introductions prove the new certificates; it then carries the network with two of them', { timeout: 180_000 }, async () => {
  const common = buildCommon(CHAIN_ID);
  const who = testKey(3);
  let nonce = BigInt(await rpc.call<string>('eth_getTransactionCount', [addressOf(who), 'latest']));
  const send = () => rpc.send(signTx(common, who, { nonce: nonce++, to: '0x00000000000000000000000000000000000000c8', value: 1n, gasLimit: 21_000n }));
  assert.equal((await send()).status, '0x1');
  await net.stopReplica(3);
  const rotate = await cli('--replica', '0,1,2', '--tls');
  assert.equal(rotate.status, 0, rotate.stderr);
  assert.equal(rotate.stdout.trim(), 'rotation: replica 0 to tls key epoch 2, replica 1 to tls key epoch 2, replica 2 to tls key epoch 2');
  // The three others switch and erase their epoch-1 keys (a stable checkpoint past the switch: their
  // old certificates are no longer pinned anywhere they ran).
  const switched = (id: number) => keyFiles(`replica-${id}`).includes('tls-2.key') && !keyFiles(`replica-${id}`).includes('tls-1.key');
  const until = Date.now() + 90_000;
  while (![0, 1, 2].every(switched) && Date.now() < until) assert.equal((await send()).status, '0x1');
  assert.ok([0, 1, 2].every(switched), [0, 1, 2].map((id) => keyFiles(`replica-${id}`).join(',')).join(' | '));
  for (let i = 0; i < 5; i++) assert.equal((await send()).status, '0x1');
  // Replica 3 comes back knowing only the epoch-1 certificates, and catches up.
  const three = await net.startReplica(3);
  const head = Number((await rpc.call<{ number: string }>('eth_getBlockByNumber', ['latest', false])).number);
  const caughtUp = Date.now() + 60_000;
  while ((three.status()['block'] as number) < head && Date.now() < caughtUp) await new Promise((r) => setTimeout(r, 100));
  assert.ok((three.status()['block'] as number) >= head, `replica 3 caught up to block ${head}: at ${three.status()['block']}`);
  // With replica 0 stopped, ordering needs replica 3: transactions landing show it talks to 1 and 2.
  await net.stopReplica(0);
  for (let i = 0; i < 3; i++) assert.equal((await send()).status, '0x1', 'a transaction lands with replicas 1, 2 and the one that rejoined');
  await net.startReplica(0);
});
