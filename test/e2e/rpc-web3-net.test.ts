// web3_*, net_* and eth_chainId against a real client node (four replicas on TLS, RocksDB) in this
// process: exact results, and go-ethereum's codes and wording for bad parameters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pkg from '../../package.json' with { type: 'json' };
import { CHAIN_ID } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { rpcClient, type Rpc } from '../helpers/rpc.ts';

let net: InProcessNetwork;
let rpc: Rpc;

before(async () => {
  net = await startInProcessNetwork(0xb1);
  rpc = rpcClient(net.url);
});
after(async () => {
  await net?.stop();
});

describe('web3_clientVersion', () => {
  test('names the node and its version', async () => {
    assert.equal(await rpc.call('web3_clientVersion'), `bulwark/${pkg.version}`);
  });
  test('takes no parameters', async () => {
    await rpc.rejects('web3_clientVersion', ['x'], -32602, 'too many arguments, want at most 0');
  });
});

describe('web3_sha3', () => {
  test('is keccak-256 of the given bytes (not SHA3-256)', async () => {
    assert.equal(await rpc.call('web3_sha3', ['0x']), '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
    // keccak256("hello"); SHA3-256 would be 0x3338be69…
    assert.equal(await rpc.call('web3_sha3', ['0x68656c6c6f']), '0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8');
    assert.equal(await rpc.call('web3_sha3', ['0x68656C6C6F']), '0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8');
  });
  test('bad hex is -32602 naming argument 0', async () => {
    await rpc.rejects('web3_sha3', ['0x1'], -32602, /^invalid argument 0: .*odd length/);
    await rpc.rejects('web3_sha3', ['68656c6c6f'], -32602, /^invalid argument 0: .*without 0x prefix/);
    await rpc.rejects('web3_sha3', ['0xzz'], -32602, /^invalid argument 0: .*invalid hex/);
    await rpc.rejects('web3_sha3', [42], -32602, /^invalid argument 0: json: cannot unmarshal/);
  });
  test('a missing or extra argument is -32602', async () => {
    await rpc.rejects('web3_sha3', [], -32602, 'missing value for required argument 0');
    await rpc.rejects('web3_sha3', ['0x', '0x'], -32602, 'too many arguments, want at most 1');
  });
});

describe('net_* and eth_chainId', () => {
  test('net_version is the chain id in decimal, eth_chainId in hex', async () => {
    assert.equal(await rpc.call('net_version'), CHAIN_ID.toString());
    assert.equal(await rpc.call('eth_chainId'), `0x${CHAIN_ID.toString(16)}`);
    assert.equal(await rpc.call('eth_chainId'), '0x539');
  });
  test('net_listening is true', async () => {
    assert.equal(await rpc.call('net_listening'), true);
  });
  test('parameters where none are taken are refused', async () => {
    for (const m of ['net_version', 'net_listening', 'net_peerCount', 'eth_chainId']) {
      await rpc.rejects(m, [1], -32602, 'too many arguments, want at most 0');
    }
  });
  test('net_peerCount counts the replica links that are up: 4, then 3 with one replica stopped', async () => {
    assert.equal(await rpc.call('net_peerCount'), '0x4');
    await net.replicas[3]!.stop();
    const until = Date.now() + 5_000;
    let count = await rpc.call<string>('net_peerCount');
    while (count !== '0x3' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
      count = await rpc.call<string>('net_peerCount');
    }
    assert.equal(count, '0x3');
  });
});
