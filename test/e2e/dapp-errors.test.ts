// Reverts and events as dApp libraries see them, against a real client node (four replicas and a
// client node in this process, TLS and RocksDB): a revert reason and a custom error from eth_call and
// eth_estimateGas, decoded by ethers, viem and web3.js; a transaction that reverts on chain (status
// 0 and each library's error); and contract events read the ways not covered elsewhere — viem's
// eth_getLogs and eth_newFilter, ethers' contract listener (a polled filter), web3.js' logs
// subscription over WebSocket. (ethers' queryFilter is in client-ethers.test.ts; raw logs
// subscriptions and ethers' WebSocketProvider in client-subscriptions.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AbiCoder, ContractFactory, type Contract, type ContractEventPayload, JsonRpcProvider, Wallet, keccak256, type EventLog } from 'ethers';
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Abi,
  type Address,
  type Hex,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { Web3, WebSocketProvider } from 'web3';
import contracts from '../fixtures/contracts.json' with { type: 'json' };
import { testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';

const exerciser = contracts.contracts.Exerciser;
const abi = exerciser.abi as Abi;
const keyHex = (i: number) => `0x${Buffer.from(testKey(i)).toString('hex')}` as Hex;
/** Error(string) "no thank you", as the contract's failWithReason reverts with it. */
const REASON_DATA = `0x08c379a0${AbiCoder.defaultAbiCoder().encode(['string'], ['no thank you']).slice(2)}`;
/** Refused(uint256) with 7. */
const REFUSED_7 = `0x590a5151${(7).toString(16).padStart(64, '0')}`;
/** The tag the contract's Stored event carries: keccak256(abi.encode(key, value)). */
const tagOf = (key: bigint, value: bigint) => keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'uint256'], [key, value]));

let net: InProcessNetwork;
let provider: JsonRpcProvider;
let address: Address;
let ethersContract: Contract;

before(async () => {
  net = await startInProcessNetwork(0x62);
  provider = new JsonRpcProvider(net.url, 1337, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  const factory = new ContractFactory(exerciser.abi, exerciser.bytecode, new Wallet(keyHex(0), provider));
  ethersContract = (await factory.deploy()) as Contract;
  await ethersContract.waitForDeployment();
  address = (await ethersContract.getAddress()) as Address;
});
after(async () => {
  provider?.destroy();
  await net?.stop();
});

test('the node answers reverts as go-ethereum does: code 3, the reason in the message, the data', async () => {
  const raw = async (method: string, data: string) => {
    const res = await fetch(net.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [{ to: address, data }] }) });
    return ((await res.json()) as { error?: unknown }).error;
  };
  const failWithReason = ethersContract.interface.encodeFunctionData('failWithReason');
  const fail7 = ethersContract.interface.encodeFunctionData('fail', [7]);
  for (const method of ['eth_call', 'eth_estimateGas']) {
    assert.deepEqual(await raw(method, failWithReason), { code: 3, message: 'execution reverted: no thank you', data: REASON_DATA }, method);
    assert.deepEqual(await raw(method, fail7), { code: 3, message: 'execution reverted', data: REFUSED_7 }, method);
  }
});

interface EthersCallException {
  code: string;
  reason: string | null;
  data: string | null;
  revert: { name: string; signature: string; args: unknown[] } | null;
  receipt?: { status: number } | null;
}

const ethersError = async (p: Promise<unknown>): Promise<EthersCallException> => {
  try {
    await p;
  } catch (e) {
    return e as EthersCallException;
  }
  throw new Error('no error');
};

test('ethers: reason and custom error from call and estimateGas; a reverted transaction', async () => {
  const c = ethersContract;
  const reason = await ethersError(c.getFunction('failWithReason').staticCall());
  assert.deepEqual([reason.code, reason.reason, reason.data], ['CALL_EXCEPTION', 'no thank you', REASON_DATA]);
  assert.deepEqual({ ...reason.revert, args: [...reason.revert!.args] }, { name: 'Error', signature: 'Error(string)', args: ['no thank you'] });
  const custom = await ethersError(c.getFunction('fail').staticCall(7));
  assert.equal(custom.code, 'CALL_EXCEPTION');
  assert.deepEqual([custom.revert?.name, [...custom.revert!.args]], ['Refused', [7n]]);

  const estimated = await ethersError(c.getFunction('failWithReason').estimateGas());
  assert.deepEqual([estimated.code, estimated.reason, estimated.revert?.name], ['CALL_EXCEPTION', 'no thank you', 'Error']);
  // estimateGas leaves custom errors to the application: the data decodes with the contract's ABI.
  const estimatedCustom = await ethersError(c.getFunction('fail').estimateGas(7));
  assert.equal(estimatedCustom.code, 'CALL_EXCEPTION');
  const parsed = c.interface.parseError(estimatedCustom.data!);
  assert.deepEqual([parsed?.name, [...parsed!.args]], ['Refused', [7n]]);

  // On chain: with a gas limit given, nothing is estimated; the receipt says it reverted.
  const tx = (await c.getFunction('fail').send(7, { gasLimit: 100_000 })) as { hash: string; wait(): Promise<unknown> };
  const onChain = await ethersError(tx.wait());
  assert.equal(onChain.code, 'CALL_EXCEPTION');
  assert.equal(onChain.receipt?.status, 0);
  assert.equal((await provider.getTransactionReceipt(tx.hash))?.status, 0);
});

test('viem: ContractFunctionRevertedError with the reason or the decoded custom error; a reverted receipt', async () => {
  const chain = defineChain({ id: 1337, name: 'bulwark', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [net.url] } } });
  const account = privateKeyToAccount(keyHex(1));
  const pub = createPublicClient({ chain, transport: http(net.url), pollingInterval: 100 });
  const wallet = createWalletClient({ chain, account, transport: http(net.url) });
  const reverted = async (p: Promise<unknown>): Promise<ContractFunctionRevertedError> => {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof BaseError, String(e));
      const r = e.walk((x) => x instanceof ContractFunctionRevertedError);
      assert.ok(r instanceof ContractFunctionRevertedError, `no ContractFunctionRevertedError in ${e.name}: ${e.shortMessage}`);
      return r;
    }
    throw new Error('no error');
  };
  for (const p of [
    () => pub.readContract({ address, abi, functionName: 'failWithReason' }),
    () => pub.simulateContract({ address, abi, functionName: 'failWithReason', account }),
    () => pub.estimateContractGas({ address, abi, functionName: 'failWithReason', account }),
  ]) {
    const r = await reverted(p());
    assert.equal(r.reason, 'no thank you');
    assert.deepEqual([r.data?.errorName, r.data?.args], ['Error', ['no thank you']]);
  }
  for (const p of [
    () => pub.readContract({ address, abi, functionName: 'fail', args: [7n] }),
    () => pub.estimateContractGas({ address, abi, functionName: 'fail', args: [7n], account }),
  ]) {
    const r = await reverted(p());
    assert.equal(r.reason, undefined);
    assert.deepEqual([r.data?.errorName, r.data?.args], ['Refused', [7n]]);
  }
  const hash = await wallet.writeContract({ address, abi, functionName: 'fail', args: [7n], gas: 100_000n });
  const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 100 });
  assert.equal(receipt.status, 'reverted');
  assert.ok(receipt.gasUsed > 21_000n && receipt.gasUsed < 100_000n);
});

test('web3.js: the decoded Eip838ExecutionError; a reverted transaction', async () => {
  const web3 = new Web3(net.url);
  web3.transactionPollingInterval = 100;
  const account = web3.eth.accounts.privateKeyToAccount(keyHex(2));
  web3.eth.accounts.wallet.add(account);
  type Call = { call(): Promise<unknown>; estimateGas(): Promise<bigint>; send(o: object): Promise<unknown> };
  const methods = new web3.eth.Contract(exerciser.abi as never, address).methods as unknown as Record<string, (...a: unknown[]) => Call>;
  type Eip838 = { name: string; code: number; message: string; data: string; errorName?: string; errorSignature?: string; errorArgs?: Record<string, unknown> };
  const inner = async (p: Promise<unknown>): Promise<Eip838> => {
    try {
      await p;
    } catch (e) {
      const err = e as { name: string; cause?: Eip838 };
      assert.equal(err.name, 'ContractExecutionError');
      return err.cause!;
    }
    throw new Error('no error');
  };
  const reason = await inner(methods.failWithReason!().call());
  assert.deepEqual([reason.name, reason.code, reason.message, reason.data], ['Eip838ExecutionError', 3, 'execution reverted: no thank you', REASON_DATA]);
  assert.deepEqual([reason.errorName, reason.errorSignature, reason.errorArgs?.message], ['Error', 'Error(string)', 'no thank you']);
  const custom = await inner(methods.fail!(7).call());
  assert.deepEqual([custom.code, custom.message, custom.errorName, custom.errorSignature, custom.errorArgs?.code], [3, 'execution reverted', 'Refused', 'Refused(uint256)', 7n]);
  // estimateGas gives the error's data, not its name: the application decodes it.
  const estimated = await inner(methods.fail!(7).estimateGas());
  assert.deepEqual([estimated.code, estimated.data], [3, REFUSED_7]);
  assert.equal(web3.eth.abi.decodeParameter('uint256', `0x${estimated.data.slice(10)}`), 7n);

  try {
    await methods.fail!(7).send({ from: account.address, gas: '100000' });
    assert.fail('the transaction did not revert');
  } catch (e) {
    const err = e as { name: string; receipt?: { status: bigint; transactionHash: string } };
    assert.equal(err.name, 'TransactionRevertedWithoutReasonError');
    assert.equal(err.receipt?.status, 0n);
    assert.equal((await web3.eth.getTransactionReceipt(err.receipt!.transactionHash)).status, 0n);
  }
});

test('events: viem getLogs and eth_newFilter, ethers contract listener, web3.js logs subscription over WebSocket', async () => {
  const chain = defineChain({ id: 1337, name: 'bulwark', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [net.url] } } });
  const pub = createPublicClient({ chain, transport: http(net.url), pollingInterval: 100 });
  const wallet = createWalletClient({ chain, account: privateKeyToAccount(keyHex(3)), transport: http(net.url) });
  const store = async (key: bigint, value: bigint) => {
    const hash = await wallet.writeContract({ address, abi, functionName: 'store', args: [key, value] });
    assert.equal((await pub.waitForTransactionReceipt({ hash, pollingInterval: 100 })).status, 'success');
  };
  type Stored = { args: { key?: bigint; value?: bigint; tag?: Hex } };

  // viem: eth_newFilter made before the events, read with eth_getFilterChanges; eth_getLogs by an
  // indexed argument.
  const filter = await pub.createContractEventFilter({ address, abi, eventName: 'Stored' });
  await store(1n, 10n);
  await store(2n, 20n);
  const changes = (await pub.getFilterChanges({ filter })) as unknown as Stored[];
  assert.deepEqual(changes.map((l) => l.args), [
    { key: 1n, value: 10n, tag: tagOf(1n, 10n) },
    { key: 2n, value: 20n, tag: tagOf(2n, 20n) },
  ]);
  assert.deepEqual(await pub.getFilterChanges({ filter }), [], 'each change is reported once');
  assert.equal(await pub.uninstallFilter({ filter }), true);
  const byKey = (await pub.getContractEvents({ address, abi, eventName: 'Stored', args: { key: 2n }, fromBlock: 0n })) as unknown as Stored[];
  assert.deepEqual(byKey.map((l) => l.args), [{ key: 2n, value: 20n, tag: tagOf(2n, 20n) }]);

  // ethers: a contract listener on an indexed argument (JsonRpcProvider polls an eth_newFilter).
  const heard = new Promise<[bigint, bigint, string]>((resolve) => {
    // The last argument is the event payload, whatever ethers passes before it.
    void ethersContract.on(ethersContract.filters.Stored!(3), (...args: unknown[]) => {
      const [key, value, tag] = (args.at(-1) as ContractEventPayload).args as unknown as [bigint, bigint, string];
      resolve([key, value, tag]);
    });
  });
  // The listener's filter is installed in the background: events are stored until it hears one.
  let value = 30n;
  const timeout = Date.now() + 15_000;
  let got: [bigint, bigint, string] | null = null;
  void heard.then((g) => (got = g));
  while (got === null && Date.now() < timeout) {
    await store(4n, 1n); // not key 3: never heard
    await store(3n, value++);
    await new Promise((r) => setTimeout(r, 300));
  }
  await ethersContract.removeAllListeners();
  await new Promise((r) => setTimeout(r, 200)); // ethers uninstalls its filter in the background
  assert.ok(got !== null, 'ethers heard the event');
  const [k, v, tag] = got as [bigint, bigint, string];
  assert.deepEqual([k, tag], [3n, tagOf(3n, v)]);
  assert.ok(v >= 30n && v < value);

  // web3.js: contract events over a WebSocket eth_subscribe("logs"), filtered by the indexed key.
  // No reconnecting: the test closes the socket itself.
  const web3 = new Web3(new WebSocketProvider(net.wsUrl, {}, { autoReconnect: false }));
  try {
    const contract = new web3.eth.Contract(exerciser.abi as never, address);
    const events = contract.events as unknown as Record<string, (o: object) => { on(e: 'data', f: (ev: EventLog & { returnValues: Record<string, unknown> }) => void): void; unsubscribe(): Promise<unknown> }>;
    const subscription = events.Stored!({ filter: { key: 5 } });
    const seen = new Promise<Record<string, unknown>>((resolve) => subscription.on('data', (ev) => resolve(ev.returnValues)));
    await new Promise((r) => setTimeout(r, 200)); // the subscription is made asynchronously
    await store(6n, 1n);
    await store(5n, 55n);
    let timer: NodeJS.Timeout | undefined;
    const returned = await Promise.race([seen, new Promise<null>((r) => (timer = setTimeout(() => r(null), 10_000)))]);
    clearTimeout(timer);
    assert.ok(returned !== null, 'web3.js heard the event');
    assert.deepEqual([returned.key, returned.value, returned.tag], [5n, 55n, tagOf(5n, 55n)]);
    await subscription.unsubscribe();
  } finally {
    await (web3.currentProvider as unknown as { disconnect(): void }).disconnect();
  }
});
