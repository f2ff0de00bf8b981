// bft_getCheckpoint against a real client node in this process (replicas checkpointing every 4
// sequence numbers): the stable checkpoint's BLS aggregate verifies against the consensus keys in
// network.json over the message it names, it names a block the client node holds with the same
// hash and state root, a past checkpoint is kept by sequence number, and bad parameters are refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import { DOMAIN_CHECKPOINT, SignerBitVector, blsSignatureFromBytes, verifyAggregate } from '../../src/crypto/index.ts';
import { hexToBytes } from '../../src/crypto/hex.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { loadNetworkFile } from '../../src/setup/network-file.ts';
import { CHAIN_ID, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();

interface Checkpoint {
  seq: string;
  blockNumber: string;
  blockHash: string;
  stateRoot: string;
  reservedDigest: string;
  signers: number[];
  quorum: number;
  signature: string;
  signedMessage: string;
  domain: string;
}

let net: InProcessNetwork;
let rpc: Rpc;

before(async () => {
  net = await startInProcessNetwork(0xb6, { consensus: { checkpointInterval: 4 } });
  rpc = rpcClient(net.url);
});
after(async () => {
  await net?.stop();
});

test('bft_getCheckpoint: a stable checkpoint whose certificate anyone can check', { timeout: 60_000 }, async () => {
  // The start-up key exchange takes a few sequence numbers (its requests may land in one slot each,
  // and its keys take effect at the next checkpoint boundary, which an idle primary drives to):
  // checkpoint 4, or 8, may already be stable — for the start-up alone, before any block.
  const first = await rpc.call<Checkpoint | null>('bft_getCheckpoint', ['latest']);
  assert.ok(first === null || first.blockNumber === '0x0', `none yet, or the start-up's: ${JSON.stringify(first)}`);
  const start = first === null ? 0n : BigInt(first.seq);
  const common = buildCommon(CHAIN_ID);
  // One transaction at a time: each its own sequence number, so two checkpoints pass.
  for (let nonce = 0n; nonce < 9n; nonce++) {
    await rpc.send(signTx(common, testKey(0), { nonce, to: '0x00000000000000000000000000000000000000c1', value: 1n, gasLimit: 21_000n }));
  }
  let cp: Checkpoint | null = null;
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    await rpc.call('bft_status'); // the replicas' answers carry their stable checkpoints
    cp = await rpc.call<Checkpoint | null>('bft_getCheckpoint', []);
    if (cp !== null && BigInt(cp.seq) >= start + 8n) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(cp !== null && BigInt(cp.seq) >= start + 8n, `a checkpoint at ${start + 8n} or later, got ${JSON.stringify(cp)}`);
  assert.ok(BigInt(cp.blockNumber) > 0n, 'it names a block the transactions made');
  assert.equal(BigInt(cp.seq) % 4n, 0n);
  assert.equal(cp.domain, 'BULWARK-V1/CHECKPOINT');
  assert.equal(cp.quorum, 3);
  assert.ok(cp.signers.length >= 3);

  // Independently: the aggregate signature over `signedMessage` by the named signers' keys.
  const network = await loadNetworkFile(join(net.root, 'network.json'));
  const keys = network.replicas.map((r) => r.bootstrapKey);
  const signers = SignerBitVector.fromIndices(4, cp.signers);
  const sig = blsSignatureFromBytes(hexToBytes(cp.signature));
  const message = hexToBytes(cp.signedMessage);
  assert.ok(verifyAggregate(DOMAIN_CHECKPOINT, message, sig, signers, keys, 3), 'the certificate verifies');
  const tampered = message.slice();
  tampered[tampered.length - 1]! ^= 1;
  assert.ok(!verifyAggregate(DOMAIN_CHECKPOINT, tampered, sig, signers, keys, 3), 'a changed message does not');

  // The checkpoint names a block this node holds: same hash and state root.
  const block = await rpc.call<{ hash: string; stateRoot: string }>('eth_getBlockByNumber', [cp.blockNumber, false]);
  assert.equal(block.hash, cp.blockHash);
  assert.equal(block.stateRoot, cp.stateRoot);
  // The signed message carries the sequence number, block hash and state root.
  assert.ok(cp.signedMessage.includes(cp.blockHash.slice(2)));
  assert.ok(cp.signedMessage.includes(cp.stateRoot.slice(2)));

  // The same checkpoint by its sequence number; one never seen is null.
  assert.deepEqual(await rpc.call('bft_getCheckpoint', [cp.seq]), cp);
  assert.equal(await rpc.call('bft_getCheckpoint', ['0x3']), null);
  await rpc.rejects('bft_getCheckpoint', ['0x04'], -32602, /leading zero/);
  await rpc.rejects('bft_getCheckpoint', ['soon'], -32602, /invalid argument 0/);
});
