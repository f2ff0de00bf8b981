// txpool_* and bft_* against a real client node in this process: a transaction behind a nonce gap
// waits in the queue (and every txpool view says so) until the gap fills; bft_status reports each
// replica's signed account and link; bft_getBlockCertificate's f + 1 signatures verify against the
// execution keys in network.json.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Common } from '@ethereumjs/common';
import { toChecksumAddress } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { hex, hexQ, rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();

const GWEI = 1_000_000_000n;
const D = testKey(3);
const RECIPIENT = '0x00000000000000000000000000000000000000e5';
const UNKNOWN_HASH = `0x${'ab'.repeat(32)}`;

let net: InProcessNetwork;
let rpc: Rpc;
let common: Common;

before(async () => {
  net = await startInProcessNetwork(0xb5);
  rpc = rpcClient(net.url);
  common = buildCommon(CHAIN_ID);
  await rpc.send(signTx(common, testKey(0), { nonce: 0n, to: RECIPIENT, value: 1n, gasLimit: 21_000n }));
});
after(async () => {
  await net?.stop();
});

describe('txpool_*', () => {
  const transfer = (nonce: bigint) => signTx(common, D, { nonce, to: RECIPIENT, value: 7n, gasLimit: 21_000n, gasPrice: 2n * GWEI });

  test('empty when nothing waits', async () => {
    assert.deepEqual(await rpc.call('txpool_status'), { pending: '0x0', queued: '0x0' });
    assert.deepEqual(await rpc.call('txpool_content'), { pending: {}, queued: {} });
    assert.deepEqual(await rpc.call('txpool_inspect'), { pending: {}, queued: {} });
    assert.deepEqual(await rpc.call('txpool_contentFrom', [addressOf(D)]), { pending: {}, queued: {} });
  });
  test('a transaction behind a nonce gap stays queued in every view, then lands with the gap filled', async () => {
    const gapped = transfer(1n);
    await rpc.call('eth_sendRawTransaction', [hex(gapped.serialize())]);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await rpc.call('txpool_status'), { pending: '0x0', queued: '0x1' });
    const sender = toChecksumAddress(addressOf(D));
    const json = await rpc.call<Record<string, unknown>>('eth_getTransactionByHash', [hex(gapped.hash())]);
    assert.deepEqual([json.blockHash, json.blockNumber, json.transactionIndex, json.nonce, json.gasPrice], [null, null, null, '0x1', hexQ(2n * GWEI)]);
    assert.deepEqual(await rpc.call('txpool_content'), { pending: {}, queued: { [sender]: { '1': json } } });
    assert.deepEqual(await rpc.call('txpool_contentFrom', [addressOf(D)]), { pending: {}, queued: { '1': json } });
    assert.deepEqual(await rpc.call('txpool_contentFrom', [addressOf(testKey(0))]), { pending: {}, queued: {} });
    assert.deepEqual(await rpc.call('txpool_inspect'), {
      pending: {},
      queued: { [sender]: { '1': `${toChecksumAddress(RECIPIENT)}: 7 wei + 21000 gas × ${2n * GWEI} wei` } },
    });
    assert.equal(await rpc.call('eth_getTransactionCount', [addressOf(D), 'pending']), '0x0', 'the gap holds the pending nonce at 0');
    // It does not land on its own.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await rpc.call('eth_getTransactionReceipt', [hex(gapped.hash())]), null);

    const filler = transfer(0n);
    await rpc.send(filler);
    const r = await rpc.receipt(hex(gapped.hash()));
    assert.equal(r.status, '0x1');
    assert.equal(await rpc.call('eth_getTransactionCount', [addressOf(D), 'latest']), '0x2');
    assert.deepEqual(await rpc.call('txpool_status'), { pending: '0x0', queued: '0x0' });
    assert.deepEqual(await rpc.call('txpool_content'), { pending: {}, queued: {} });
  });
  test('malformed parameters', async () => {
    await rpc.rejects('txpool_contentFrom', ['0x12'], -32602, /^invalid argument 0: /);
    await rpc.rejects('txpool_contentFrom', [], -32602, 'missing value for required argument 0');
    await rpc.rejects('txpool_status', [1], -32602, 'too many arguments, want at most 0');
  });
});

interface NodeStatus {
  replica: number;
  link: string;
  answered: boolean;
  view?: number;
  viewChange?: boolean;
  lastExecuted?: number;
  stableCheckpoint?: number;
  block?: number;
  blockHash?: string;
}
interface Status {
  client: number;
  replicas: number;
  f: number;
  view: number;
  primary: number;
  lastExecuted: number;
  stableCheckpoint: number;
  mirror: { block: number; hash: string };
  nodes: NodeStatus[];
}

describe('bft_status', () => {
  test('view 0, primary 0, every replica answering over a link that is up, all at the head', async () => {
    const head = await rpc.call<{ number: string; hash: string }>('eth_getBlockByNumber', ['latest', false]);
    const s = await rpc.call<Status>('bft_status');
    assert.deepEqual([s.client, s.replicas, s.f, s.view, s.primary], [4, 4, 1, 0, 0]);
    assert.deepEqual(s.mirror, { block: Number(head.number), hash: head.hash });
    assert.ok(s.lastExecuted >= Number(head.number), 'each block took at least one executed request');
    assert.equal(s.nodes.length, 4);
    for (const [id, n] of s.nodes.entries()) {
      assert.equal(n.replica, id);
      assert.equal(n.link, 'up');
      assert.equal(n.answered, true);
      assert.equal(n.view, 0);
      assert.equal(n.viewChange, false);
      assert.equal(n.block, Number(head.number));
      assert.equal(n.blockHash, head.hash);
      assert.ok(n.lastExecuted! >= s.lastExecuted - 1 && n.stableCheckpoint! <= n.lastExecuted!);
    }
    await rpc.rejects('bft_status', ['latest'], -32602, 'too many arguments, want at most 0');
  });
});

describe('bft_getBlockCertificate', () => {
  const network = () => JSON.parse(readFileSync(join(net.root, 'network.json'), 'utf8')) as { f: number; replicas: { executionKey: { publicKey: string } }[] };
  interface Certificate {
    blockNumber: string;
    blockHash: string;
    stateRoot: string;
    signedMessage: string;
    signatures: { replica: number; signature: string }[];
  }

  test('f + 1 execution signatures over a message naming the block\'s hash and state root, valid against network.json', async () => {
    const block = await rpc.call<{ number: string; hash: string; stateRoot: string }>('eth_getBlockByNumber', ['latest', false]);
    const { f, replicas } = network();
    for (const ref of [block.number, 'latest', { blockHash: block.hash }, { blockNumber: block.number }]) {
      const c = await rpc.call<Certificate>('bft_getBlockCertificate', [ref]);
      assert.deepEqual([c.blockNumber, c.blockHash, c.stateRoot], [block.number, block.hash, block.stateRoot], JSON.stringify(ref));
      const message = Buffer.from(c.signedMessage.slice(2), 'hex');
      assert.ok(message.includes(Buffer.from(block.hash.slice(2), 'hex')) && message.includes(Buffer.from(block.stateRoot.slice(2), 'hex')));
      assert.ok(c.signatures.length >= f + 1, `${c.signatures.length} signatures`);
      assert.equal(new Set(c.signatures.map((s) => s.replica)).size, c.signatures.length, 'from distinct replicas');
      for (const s of c.signatures) {
        const key = createPublicKey({ key: Buffer.from(replicas[s.replica]!.executionKey.publicKey.slice(2), 'hex'), format: 'der', type: 'spki' });
        const sig = Buffer.from(s.signature.slice(2), 'hex');
        assert.equal(verify(null, message, key, sig), true, `replica ${s.replica}'s signature`);
        const tampered = Buffer.from(message);
        tampered[tampered.length - 1]! ^= 1;
        assert.equal(verify(null, tampered, key, sig), false);
      }
    }
  });
  test('a block beyond the head or an unknown hash is null; genesis has no certificate; bad parameters are -32602', async () => {
    const head = Number(await rpc.call<string>('eth_blockNumber'));
    assert.equal(await rpc.call('bft_getBlockCertificate', [hexQ(head + 1)]), null);
    assert.equal(await rpc.call('bft_getBlockCertificate', [{ blockHash: UNKNOWN_HASH }]), null);
    await rpc.rejects('bft_getBlockCertificate', ['0x0'], -32000, /^no certificate kept for block 0/);
    await rpc.rejects('bft_getBlockCertificate', ['head'], -32602, /^invalid argument 0: /);
    await rpc.rejects('bft_getBlockCertificate', [], -32602, 'missing value for required argument 0');
  });
});
