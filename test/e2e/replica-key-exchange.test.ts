// Key exchange on real replicas (in this process: TLS, RocksDB, BLS, key files): each replica
// generates its own consensus key, publishes it through consensus, the network takes it into use at
// an agreed checkpoint boundary, and every bootstrap private key file is then erased from disk.
// Client transactions land before, during and after.
import { after, before, test } from 'node:test';
import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import { DOMAIN_CHECKPOINT, SignerBitVector, blsPublicKeyFromBytes, blsSignatureFromBytes, verifyAggregate } from '../../src/crypto/index.ts';
import { hexToBytes } from '../../src/crypto/hex.ts';
import { verifyLedgerDirectory } from '../../src/verifier/verify-ledger.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();

let net: InProcessNetwork;
let rpc: Rpc;

before(async () => {
  net = await startInProcessNetwork(0xc1, { consensus: { keyExchange: true, checkpointInterval: 10, window: 20 } });
  rpc = rpcClient(net.url);
});
after(async () => {
  await net?.stop();
});

interface Status {
  nodes: { replica: number; keyEpoch?: number; stableCheckpoint?: number }[];
}

test('replicas replace their bootstrap keys and erase them; transactions land throughout', { timeout: 90_000 }, async () => {
  const common = buildCommon(CHAIN_ID);
  let nonce = 0n;
  const send = () => rpc.send(signTx(common, testKey(0), { nonce: nonce++, to: '0x00000000000000000000000000000000000000c2', value: 1n, gasLimit: 21_000n }));
  assert.equal((await send()).status, '0x1', 'a transaction lands once the exchange let client requests through');
  // Wait for every bootstrap key file to be erased: the new keys are in effect from a stable checkpoint on.
  const bootstrapFiles = () => [0, 1, 2, 3].filter((id) => existsSync(join(net.root, `replica-${id}`, 'bootstrap-consensus.key')));
  const until = Date.now() + 60_000;
  while (bootstrapFiles().length > 0 && Date.now() < until) {
    await send();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(bootstrapFiles(), [], 'no bootstrap private key is left on any replica');
  for (let id = 0; id < 4; id++) {
    const keys = readdirSync(join(net.root, `replica-${id}`, 'keys'));
    assert.deepEqual(keys, ['consensus-1.key'], `replica ${id} keeps only its own key`);
  }
  // Ordering goes on under the new keys.
  for (let i = 0; i < 3; i++) assert.equal((await send()).status, '0x1');
  const status = await rpc.call<Status>('bft_status');
  assert.deepEqual(status.nodes.map((n) => n.keyEpoch), [1, 1, 1, 1]);
  // A stable checkpoint signed with the new keys: the client node learnt them and checked it.
  let cp: { seq: string; signers: number[]; signerKeys: { replica: number; epoch: number; publicKey: string }[]; signature: string; signedMessage: string } | null = null;
  const cpUntil = Date.now() + 20_000;
  while (Date.now() < cpUntil) {
    cp = await rpc.call('bft_getCheckpoint', ['latest']);
    if (cp !== null && cp.signerKeys.every((k) => k.epoch === 1)) break;
    await send();
  }
  assert.ok(cp !== null && cp.signerKeys.every((k) => k.epoch === 1), `a checkpoint under the new keys: ${JSON.stringify(cp?.signerKeys)}`);
  const keys = cp.signerKeys.map((k) => blsPublicKeyFromBytes(hexToBytes(k.publicKey)));
  const all = [0, 1, 2, 3].map((r) => keys[cp!.signers.indexOf(r)] ?? keys[0]!);
  assert.ok(verifyAggregate(DOMAIN_CHECKPOINT, hexToBytes(cp.signedMessage), blsSignatureFromBytes(hexToBytes(cp.signature)), SignerBitVector.fromIndices(4, cp.signers), all, 3));
  // The ledgers check out offline against the key history: certificates before the switch under
  // the bootstrap keys, after it under the replicas' own (read from the key table).
  for (const dir of ['replica-1', 'client-4']) {
    const copy = mkdtempSync(join(tmpdir(), 'bulwark-kx-copy-'));
    try {
      cpSync(join(net.root, dir), copy, { recursive: true });
      const result = await verifyLedgerDirectory({ dir: copy });
      assert.ok(result.ok, `${dir}: ${result.ok ? "" : JSON.stringify(result.problem)}`);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }
  // A restart of every replica reads the key files and the key history, and goes on.
  await net.restartReplicas();
  assert.equal((await send()).status, '0x1', 'a transaction lands after all replicas restarted on their own keys');
});

test('bulwark keys rotate --all: every replica moves to a new key under a stream of transactions; a second rotation too soon is refused', { timeout: 120_000 }, async () => {
  const common = buildCommon(CHAIN_ID);
  let nonce = BigInt(await rpc.call<string>('eth_getTransactionCount', [addressOf(testKey(1)), 'latest']));
  const send = () => rpc.send(signTx(common, testKey(1), { nonce: nonce++, to: '0x00000000000000000000000000000000000000c3', value: 1n, gasLimit: 21_000n }));
  // Asynchronously: the network runs in this process and must answer the command's JSON-RPC call.
  const cli = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'keys', 'rotate', '--dir', join(net.root, 'operator'), '--rpc', net.url, ...args], (err, stdout, stderr) =>
        resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr }),
      );
    });
  const rotate = await cli('--all');
  assert.equal(rotate.status, 0, rotate.stderr);
  assert.equal(rotate.stdout.trim(), 'rotation: replica 0 to consensus key epoch 2, replica 1 to consensus key epoch 2, replica 2 to consensus key epoch 2, replica 3 to consensus key epoch 2');
  // Transactions go on while every replica publishes epoch 2 and erases epoch 1 once it is in effect.
  const keyFiles = (id: number) => readdirSync(join(net.root, `replica-${id}`, 'keys'));
  const until = Date.now() + 60_000;
  let landed = 0;
  while ([0, 1, 2, 3].some((id) => keyFiles(id).join() !== 'consensus-2.key') && Date.now() < until) {
    assert.equal((await send()).status, '0x1');
    landed++;
  }
  for (let id = 0; id < 4; id++) assert.deepEqual(keyFiles(id), ['consensus-2.key'], `replica ${id} keeps only its epoch-2 key`);
  assert.ok(landed > 0);
  const status = await rpc.call<Status>('bft_status');
  assert.deepEqual(status.nodes.map((n) => n.keyEpoch), [2, 2, 2, 2]);
  assert.equal((await send()).status, '0x1', 'a transaction lands under the rotated keys');
  // The default minimum interval between rotations is 10 minutes.
  const again = await cli('--replica', '1');
  assert.equal(again.status, 1);
  assert.match(again.stderr, /refused: too soon: the previous rotation was \d+ s ago, the minimum interval is 600 s \[KEYS_ROTATION_REFUSED\]/);
  // Bad usage is refused before anything is signed.
  assert.equal((await cli()).status, 2);
  assert.equal((await cli('--replica', '9')).status, 2);
});
