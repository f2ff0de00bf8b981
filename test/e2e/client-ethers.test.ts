// ethers v6 against a real network: four replica processes and a client node process, over TLS
// and RocksDB. It reads the chain, sends ETH, deploys a contract compiled with solc and calls it,
// and sends a burst of 20 consecutive nonces from one sender at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContractFactory, JsonRpcProvider, Wallet, getAddress, type Contract } from 'ethers';
import contracts from '../fixtures/contracts.json' with { type: 'json' };
import { testKey } from '../helpers/chain.ts';
import { startNetwork } from '../helpers/network.ts';
import { initHashes } from '../../src/crypto/hash.ts';

await initHashes();

test('ethers: block number, balance, a transfer, a contract deployed and called', { timeout: 180_000 }, async () => {
  const net = await startNetwork(9);
  let provider: JsonRpcProvider | undefined;
  try {
    // ethers caches identical requests for 250 ms by default, so on a chain that commits within that
    // time a second transaction would reuse the first one's nonce: turn the cache off, as for any
    // fast development chain.
    provider = new JsonRpcProvider(net.url, 1337, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
    const p = provider;
    const wallet = new Wallet(`0x${Buffer.from(testKey(0)).toString('hex')}`, p);
    assert.equal((await p.getNetwork()).chainId, 1337n);
    assert.equal(await p.getBalance(wallet.address), 10n ** 24n);

    const to = '0x00000000000000000000000000000000000000cc';
    const sent = await wallet.sendTransaction({ to, value: 12345n });
    const receipt = await sent.wait();
    assert.equal(receipt?.status, 1);
    assert.equal(await p.getBalance(to), 12345n);
    const block = await p.getBlock(receipt!.blockNumber);
    assert.equal(block?.hash, receipt!.blockHash);

    const token = contracts.contracts.Token;
    const factory = new ContractFactory(token.abi, token.bytecode, wallet);
    const contract = (await factory.deploy(1_000_000n)) as Contract;
    await contract.waitForDeployment();
    const address = await contract.getAddress();
    assert.ok((await p.getCode(address)).length > 2, 'code deployed');
    const other = '0x00000000000000000000000000000000000000dd';
    const tx = await (contract.getFunction('transfer') as (to: string, v: bigint) => Promise<{ wait(): Promise<unknown> }>)(other, 250n);
    await tx.wait();
    assert.equal(await (contract.getFunction('balanceOf') as (a: string) => Promise<bigint>)(other), 250n);
    // Contract events through eth_getLogs: the mint and the transfer, decoded by ethers.
    const events = (await contract.queryFilter('Transfer', 0, 'latest')) as { args: unknown[] }[];
    assert.deepEqual(
      events.map((e) => [...e.args].map(String)),
      [
        ['0x0000000000000000000000000000000000000000', wallet.address, '1000000'],
        [wallet.address, getAddress(other), '250'],
      ],
    );

    // A burst: 20 consecutive nonces from one sender, sent at once (they reach the pool in any
    // order); every one lands, and "pending" counts them while they wait.
    const burster = new Wallet(`0x${Buffer.from(testKey(1)).toString('hex')}`, p);
    const sink = '0x00000000000000000000000000000000000000ee';
    const signed = await Promise.all(
      Array.from({ length: 20 }, (_, nonce) => burster.signTransaction({ to: sink, value: 1n, nonce, gasLimit: 21_000n, chainId: 1337n, gasPrice: 0n })),
    );
    const hashes = await Promise.all(signed.map((raw) => p.send('eth_sendRawTransaction', [raw]) as Promise<string>));
    // ethers' waitForTransaction reads the block number first and then waits for a block beyond the
    // receipt's: the block number must not come from before the transactions landed.
    const receipts = await Promise.all(hashes.map((h) => p.waitForTransaction(h, 1, 30_000)));
    assert.deepEqual(receipts.map((r) => r?.status), Array.from({ length: 20 }, () => 1));
    assert.equal(await p.getTransactionCount(burster.address, 'latest'), 20);
    assert.equal(await p.getBalance(sink), 20n);
  } finally {
    provider?.destroy();
    await net.stop();
  }
});
