// viem and web3.js against a real network (four replica processes and a client node over TLS and
// RocksDB): each sends ETH, deploys a solc-compiled contract and calls it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicClient, createWalletClient, defineChain, http, type Abi } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { Web3 } from 'web3';
import contracts from '../fixtures/contracts.json' with { type: 'json' };
import { initHashes } from '../../src/crypto/hash.ts';
import { testKey } from '../helpers/chain.ts';
import { startNetwork, type TestNetwork } from '../helpers/network.ts';

await initHashes();
const token = contracts.contracts.Token;
let net: TestNetwork;

before(async () => {
  net = await startNetwork(11);
});
after(async () => {
  await net.stop();
});

test('viem: transfer, deploy, read and write a contract', { timeout: 120_000 }, async () => {
  const chain = defineChain({ id: 1337, name: 'bulwark', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [net.url] } } });
  const account = privateKeyToAccount(`0x${Buffer.from(testKey(1)).toString('hex')}`);
  const pub = createPublicClient({ chain, transport: http(net.url), pollingInterval: 100 });
  const wallet = createWalletClient({ chain, account, transport: http(net.url) });
  assert.equal(await pub.getChainId(), 1337);
  const to = '0x00000000000000000000000000000000000000e1';
  const hash = await wallet.sendTransaction({ to, value: 777n });
  const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 100 });
  assert.equal(receipt.status, 'success');
  assert.equal(await pub.getBalance({ address: to }), 777n);

  const deployHash = await wallet.deployContract({ abi: token.abi as Abi, bytecode: token.bytecode as `0x${string}`, args: [1_000n] });
  const deployed = await pub.waitForTransactionReceipt({ hash: deployHash, pollingInterval: 100 });
  const address = deployed.contractAddress!;
  assert.equal(await pub.readContract({ address, abi: token.abi as Abi, functionName: 'balanceOf', args: [account.address] }), 1_000n);
  const tx = await wallet.writeContract({ address, abi: token.abi as Abi, functionName: 'transfer', args: [to, 40n] });
  await pub.waitForTransactionReceipt({ hash: tx, pollingInterval: 100 });
  assert.equal(await pub.readContract({ address, abi: token.abi as Abi, functionName: 'balanceOf', args: [to] }), 40n);
  // EIP-1186: the token's totalSupply slot (2) with its proof, as f + 1 replicas built it.
  const proof = await pub.getProof({ address, storageKeys: [`0x${'2'.padStart(64, '0')}`] });
  assert.equal(proof.storageProof[0]!.value, 1_000n);
  assert.ok(proof.accountProof.length > 0 && proof.storageProof[0]!.proof.length > 0);
  assert.equal(proof.nonce, 1);
  // A revert comes back with its reason, decoded by viem.
  await assert.rejects(
    pub.simulateContract({ address, abi: token.abi as Abi, functionName: 'transfer', args: [to, 10n ** 30n], account }),
    /insufficient balance|reverted/i,
  );
});

test('web3.js: transfer, deploy and call a contract', { timeout: 120_000 }, async () => {
  const web3 = new Web3(net.url);
  web3.transactionPollingInterval = 100;
  const account = web3.eth.accounts.privateKeyToAccount(`0x${Buffer.from(testKey(2)).toString('hex')}`);
  web3.eth.accounts.wallet.add(account);
  assert.equal(await web3.eth.getChainId(), 1337n);
  const to = '0x00000000000000000000000000000000000000e2';
  const receipt = await web3.eth.sendTransaction({ from: account.address, to, value: 555n, gas: 21_000n });
  assert.equal(receipt.status, 1n);
  assert.equal(await web3.eth.getBalance(to), 555n);

  const contract = new web3.eth.Contract(token.abi as never);
  const deployed = await contract.deploy({ data: token.bytecode, arguments: [2_000n] } as never).send({ from: account.address, gas: '3000000' });
  const balance = await (deployed.methods as Record<string, (...a: unknown[]) => { call(): Promise<bigint> }>).balanceOf!(account.address).call();
  assert.equal(balance, 2_000n);
});
