// The state-reading eth_* methods (f + 1 signed replica reads at the block asked for) and the fee
// methods against a real client node in this process, on a chain under market fees that this file
// builds itself: block 1 deploys a Token, block 2 is a legacy transfer at a known gas price, block 3
// deploys an Exerciser. Every block parameter form is tried on each method: tags, numbers, EIP-1898
// objects, an unknown block (go-ethereum's -32000 wording) and malformed ones (-32602 naming the
// argument).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyMerkleProof } from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import type { Common } from '@ethereumjs/common';
import { createContractAddress, createAddressFromString } from '@ethereumjs/util';
import { initHashes, keccak256 } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import contracts from '../fixtures/contracts.json' with { type: 'json' };
import { bytecode, encodeCall, selector } from '../helpers/abi.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { hex, hexQ, rpcClient, word, type Rpc } from '../helpers/rpc.ts';

await initHashes();

const GWEI = 1_000_000_000n;
const FUNDS = 10n ** 24n;
const SUPPLY = 1_000_000n;
const GAS_PRICE = 3n * GWEI;
const VALUE = 123_456_789n;
const A = testKey(0);
const B = testKey(1);
const C = testKey(2);
const RECIPIENT = '0x00000000000000000000000000000000000000e1';
const TOKEN = createContractAddress(createAddressFromString(addressOf(A)), 0n).toString();
const EXERCISER = createContractAddress(createAddressFromString(addressOf(C)), 0n).toString();
const UNKNOWN_HASH = `0x${'ab'.repeat(32)}`;
/** Token's `balanceOf` is slot 0: an address's balance is at keccak(address . 0). */
const balanceSlot = (a: string) => hex(keccak256(Buffer.from(word(a).slice(2) + word(0n).slice(2), 'hex')));
/** ABI `Error(string)` revert data. */
const errorData = (reason: string) => {
  const bytes = Buffer.from(reason, 'utf8');
  return `0x08c379a0${word(0x20n).slice(2)}${word(BigInt(bytes.length)).slice(2)}${bytes.toString('hex').padEnd(64, '0')}`;
};

let net: InProcessNetwork;
let rpc: Rpc;
let common: Common;
/** Block numbers and hashes: the Token's, the transfer's, the Exerciser's. */
let tokenBlock: number;
let transferBlock: number;
let head: number;
const hashes: string[] = [];
let transferGasUsed: bigint;

before(async () => {
  net = await startInProcessNetwork(0xb2, { chain: { gasMode: 'market' } });
  rpc = rpcClient(net.url);
  common = buildCommon(CHAIN_ID);
  const deploy = await rpc.send(signTx(common, A, { nonce: 0n, data: bytecode('Token', SUPPLY), gasLimit: 1_000_000n, gasPrice: 10n * GWEI }));
  assert.equal(deploy.status, '0x1');
  assert.equal(deploy.contractAddress, TOKEN);
  const transfer = await rpc.send(signTx(common, B, { nonce: 0n, to: RECIPIENT, value: VALUE, gasLimit: 21_000n, gasPrice: GAS_PRICE, type: 0 }));
  assert.equal(transfer.status, '0x1');
  assert.equal(transfer.effectiveGasPrice, hexQ(GAS_PRICE));
  transferGasUsed = BigInt(transfer.gasUsed);
  const exerciser = await rpc.send(signTx(common, C, { nonce: 0n, data: bytecode('Exerciser'), gasLimit: 3_000_000n, gasPrice: 10n * GWEI }));
  assert.equal(exerciser.status, '0x1');
  assert.equal(exerciser.contractAddress, EXERCISER);
  tokenBlock = Number(deploy.blockNumber);
  transferBlock = Number(transfer.blockNumber);
  head = Number(exerciser.blockNumber);
  assert.deepEqual([tokenBlock, transferBlock, head], [1, 2, 3], 'one block per transaction');
  for (let n = 0; n <= head; n++) hashes.push((await rpc.call<{ hash: string }>('eth_getBlockByNumber', [hexQ(n), false])).hash);
});
after(async () => {
  await net?.stop();
});

/** Every form of block parameter that names an existing block, with the block number it names. */
function blockRefs(): [unknown, number][] {
  return [
    ['latest', head],
    ['safe', head],
    ['finalized', head],
    ['pending', head],
    ['earliest', 0],
    ...[0, tokenBlock, transferBlock, head].map((n): [unknown, number] => [hexQ(n), n]),
    [{ blockNumber: hexQ(tokenBlock) }, tokenBlock],
    [{ blockNumber: 'latest' }, head],
    [{ blockHash: hashes[tokenBlock] }, tokenBlock],
    [{ blockHash: hashes[transferBlock], requireCanonical: true }, transferBlock],
    [{ blockHash: hashes[0], requireCanonical: false }, 0],
  ];
}

/** The unknown and malformed block parameters every state method must refuse, at argument `i`. */
async function refusesBadBlocks(method: string, before: unknown[]): Promise<void> {
  const i = before.length;
  await rpc.rejects(method, [...before, hexQ(head + 1000)], -32000, 'header not found');
  await rpc.rejects(method, [...before, { blockNumber: hexQ(head + 1) }], -32000, 'header not found');
  await rpc.rejects(method, [...before, { blockHash: UNKNOWN_HASH }], -32000, 'header for hash not found');
  await rpc.rejects(method, [...before, 'lastest'], -32602, new RegExp(`^invalid argument ${i}: `));
  await rpc.rejects(method, [...before, '0x01'], -32602, `invalid argument ${i}: hex number with leading zero digits`);
  await rpc.rejects(method, [...before, 7], -32602, new RegExp(`^invalid argument ${i}: `));
  await rpc.rejects(method, [...before, { blockHash: '0x12' }], -32602, new RegExp(`^invalid argument ${i}: `));
  await rpc.rejects(
    method,
    [...before, { blockHash: hashes[1], blockNumber: '0x1' }],
    -32602,
    `invalid argument ${i}: cannot specify both BlockHash and BlockNumber, choose one or the other`,
  );
  await rpc.rejects(method, [...before, { blockHash: hashes[1], requireCanonical: 'yes' }], -32602, new RegExp(`^invalid argument ${i}: `));
}

describe('eth_getBalance', () => {
  const spent = 21_000n * GAS_PRICE + VALUE;
  test('at every form of block parameter, exact to the wei (a transfer at a known gas price)', async () => {
    for (const [ref, n] of blockRefs()) {
      const b = await rpc.call('eth_getBalance', [addressOf(B), ref]);
      assert.equal(b, hexQ(n >= transferBlock ? FUNDS - spent : FUNDS), `B at ${JSON.stringify(ref)}`);
      const r = await rpc.call('eth_getBalance', [RECIPIENT, ref]);
      assert.equal(r, hexQ(n >= transferBlock ? VALUE : 0n), `recipient at ${JSON.stringify(ref)}`);
    }
    assert.equal(transferGasUsed, 21_000n);
  });
  test('the block parameter may be left out (latest)', async () => {
    assert.equal(await rpc.call('eth_getBalance', [RECIPIENT]), hexQ(VALUE));
  });
  test('unknown and malformed blocks, malformed addresses', async () => {
    await refusesBadBlocks('eth_getBalance', [RECIPIENT]);
    await rpc.rejects('eth_getBalance', ['0x1234', 'latest'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getBalance', [`${RECIPIENT}00`, 'latest'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getBalance', [], -32602, 'missing value for required argument 0');
    await rpc.rejects('eth_getBalance', [RECIPIENT, 'latest', 'x'], -32602, 'too many arguments, want at most 2');
  });
});

describe('eth_getTransactionCount', () => {
  test('at every form of block parameter', async () => {
    for (const [ref, n] of blockRefs()) {
      assert.equal(await rpc.call('eth_getTransactionCount', [addressOf(A), ref]), hexQ(n >= tokenBlock ? 1 : 0), `A at ${JSON.stringify(ref)}`);
      assert.equal(await rpc.call('eth_getTransactionCount', [addressOf(B), ref]), hexQ(n >= transferBlock ? 1 : 0), `B at ${JSON.stringify(ref)}`);
      // A contract's nonce is 1 from its creation (EIP-161).
      assert.equal(await rpc.call('eth_getTransactionCount', [TOKEN, ref]), hexQ(n >= tokenBlock ? 1 : 0), `token at ${JSON.stringify(ref)}`);
    }
  });
  test('unknown and malformed blocks', async () => {
    await refusesBadBlocks('eth_getTransactionCount', [addressOf(A)]);
  });
});

describe('eth_getCode', () => {
  test('the runtime code from the deploying block on, nothing before', async () => {
    const creation = contracts.contracts.Token.bytecode.slice(2);
    let runtime: string | undefined;
    for (const [ref, n] of blockRefs()) {
      const code = await rpc.call<string>('eth_getCode', [TOKEN, ref]);
      if (n < tokenBlock) {
        assert.equal(code, '0x', `at ${JSON.stringify(ref)}`);
        continue;
      }
      runtime ??= code;
      assert.equal(code, runtime, `at ${JSON.stringify(ref)}`);
    }
    assert.ok(runtime !== undefined && runtime.length > 200);
    // The runtime code is the tail the constructor copies out of the creation code.
    assert.ok(creation.includes(runtime.slice(2)), 'runtime code is part of the creation code');
    assert.equal(await rpc.call('eth_getCode', [addressOf(A), 'latest']), '0x', 'an account has no code');
  });
  test('unknown and malformed blocks', async () => {
    await refusesBadBlocks('eth_getCode', [TOKEN]);
  });
});

describe('eth_getStorageAt', () => {
  test('Token slots: totalSupply (slot 2) and balanceOf[A] (keccak(A . 0))', async () => {
    for (const [ref, n] of blockRefs()) {
      const supply = await rpc.call('eth_getStorageAt', [TOKEN, '0x2', ref]);
      assert.equal(supply, word(n >= tokenBlock ? SUPPLY : 0n), `totalSupply at ${JSON.stringify(ref)}`);
      const balance = await rpc.call('eth_getStorageAt', [TOKEN, balanceSlot(addressOf(A)), ref]);
      assert.equal(balance, word(n >= tokenBlock ? SUPPLY : 0n), `balanceOf[A] at ${JSON.stringify(ref)}`);
    }
    assert.equal(await rpc.call('eth_getStorageAt', [TOKEN, '0x9', 'latest']), word(0n), 'an unused slot is zero');
  });
  test('malformed slots and blocks', async () => {
    await refusesBadBlocks('eth_getStorageAt', [TOKEN, '0x2']);
    await rpc.rejects('eth_getStorageAt', [TOKEN, 'two', 'latest'], -32602, /^invalid argument 1: /);
    await rpc.rejects('eth_getStorageAt', [TOKEN, `0x1${'0'.repeat(64)}`, 'latest'], -32602, /^invalid argument 1: /);
    await rpc.rejects('eth_getStorageAt', ['0xabc', '0x2', 'latest'], -32602, /^invalid argument 0: /);
  });
});

describe('eth_call', () => {
  const balanceOf = (a: string) => hex(encodeCall('balanceOf(address)', a));
  test('a view at every form of block parameter', async () => {
    for (const [ref, n] of blockRefs()) {
      const out = await rpc.call('eth_call', [{ to: TOKEN, data: balanceOf(addressOf(A)) }, ref]);
      // Before the deployment there is no code at the address: a call returns nothing.
      assert.equal(out, n >= tokenBlock ? word(SUPPLY) : '0x', `at ${JSON.stringify(ref)}`);
    }
    assert.equal(await rpc.call('eth_call', [{ to: TOKEN, input: hex(encodeCall('totalSupply()')) }]), word(SUPPLY), 'input, block left out');
  });
  test('msg.sender is `from`, and a state-changing call returns without changing state', async () => {
    const transfer = hex(encodeCall('transfer(address,uint256)', RECIPIENT, 10n));
    assert.equal(await rpc.call('eth_call', [{ from: addressOf(A), to: TOKEN, data: transfer }, 'latest']), word(1n));
    assert.equal(await rpc.call('eth_call', [{ to: TOKEN, data: balanceOf(RECIPIENT) }, 'latest']), word(0n));
  });
  test('a revert with a reason: code 3, "execution reverted: <reason>", data the revert data', async () => {
    const transfer = hex(encodeCall('transfer(address,uint256)', RECIPIENT, 10n));
    await rpc.rejects('eth_call', [{ from: addressOf(B), to: TOKEN, data: transfer }, 'latest'], 3, 'execution reverted: insufficient balance', errorData('insufficient balance'));
    await rpc.rejects('eth_call', [{ to: EXERCISER, data: hex(encodeCall('failWithReason()')) }, 'latest'], 3, 'execution reverted: no thank you', errorData('no thank you'));
  });
  test('a custom error: code 3, "execution reverted", data the error\'s encoding', async () => {
    const data = hex(Buffer.concat([selector('Refused(uint256)'), Buffer.from(word(7n).slice(2), 'hex')]));
    await rpc.rejects('eth_call', [{ to: EXERCISER, data: hex(encodeCall('fail(uint256)', 7n)) }, 'latest'], 3, 'execution reverted', data);
  });
  test('unknown and malformed blocks, malformed call objects', async () => {
    await refusesBadBlocks('eth_call', [{ to: TOKEN, data: balanceOf(addressOf(A)) }]);
    await rpc.rejects('eth_call', ['0x12', 'latest'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_call', [{ to: '0x12' }, 'latest'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_call', [{ to: TOKEN, data: '0x1' }, 'latest'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_call', [{ to: TOKEN, data: '0x12', input: '0x34' }, 'latest'], -32602, /^invalid argument 0: both "data" and "input" are set/);
  });
});

describe('eth_estimateGas', () => {
  test('a plain transfer is exactly 21000', async () => {
    assert.equal(await rpc.call('eth_estimateGas', [{ from: addressOf(B), to: RECIPIENT, value: '0x1' }]), '0x5208');
    assert.equal(await rpc.call('eth_estimateGas', [{ from: addressOf(B), to: RECIPIENT, value: '0x1' }, 'latest']), '0x5208');
  });
  test('a token transfer: enough to succeed with, within the 63/64 margin of what it uses', async () => {
    const data = encodeCall('transfer(address,uint256)', RECIPIENT, 10n);
    const estimate = BigInt(await rpc.call<string>('eth_estimateGas', [{ from: addressOf(A), to: TOKEN, data: hex(data) }, 'latest']));
    const receipt = await rpc.send(signTx(common, A, { nonce: 1n, to: TOKEN as `0x${string}`, data, gasLimit: estimate, gasPrice: 10n * GWEI }));
    assert.equal(receipt.status, '0x1', 'a transaction given the estimate succeeds');
    const used = BigInt(receipt.gasUsed);
    assert.ok(estimate >= used && estimate <= used + used / 10n, `estimate ${estimate} against ${used} used`);
    head = Number(receipt.blockNumber);
    hashes.push(receipt.blockHash);
  });
  test('at a block before the contract existed, the same call is a plain call to an empty account', async () => {
    const data = hex(encodeCall('transfer(address,uint256)', RECIPIENT, 10n));
    // 21000 plus calldata: 4 + 64 bytes, of which the non-zero ones cost 16 and the zero ones 4.
    const bytes = Buffer.from(data.slice(2), 'hex');
    const nonZero = BigInt(bytes.filter((x) => x !== 0).length);
    const expected = 21_000n + nonZero * 16n + (BigInt(bytes.length) - nonZero) * 4n;
    assert.equal(await rpc.call('eth_estimateGas', [{ from: addressOf(A), to: TOKEN, data }, '0x0']), hexQ(expected));
  });
  test('a reverting call: code 3 with the reason and data', async () => {
    const data = hex(encodeCall('transfer(address,uint256)', RECIPIENT, 10n));
    await rpc.rejects('eth_estimateGas', [{ from: addressOf(B), to: TOKEN, data }], 3, 'execution reverted: insufficient balance', errorData('insufficient balance'));
  });
  test('unknown and malformed blocks', async () => {
    await refusesBadBlocks('eth_estimateGas', [{ from: addressOf(B), to: RECIPIENT }]);
  });
});

describe('eth_getProof', () => {
  interface Proof {
    address: string;
    balance: string;
    nonce: string;
    codeHash: string;
    storageHash: string;
    accountProof: string[];
    storageProof: { key: string; value: string; proof: string[] }[];
  }
  const bytes = (h: string) => new Uint8Array(Buffer.from(h.slice(2), 'hex'));
  const stateRoot = async (n: number) => bytes((await rpc.call<{ stateRoot: string }>('eth_getBlockByNumber', [hexQ(n), false])).stateRoot);

  test('account fields agree with getBalance, getTransactionCount and getCode, and the proof checks against the block\'s state root', async () => {
    for (const [ref, n] of blockRefs()) {
      const p = await rpc.call<Proof>('eth_getProof', [addressOf(B), [], ref]);
      assert.equal(p.address, addressOf(B));
      assert.equal(p.balance, await rpc.call('eth_getBalance', [addressOf(B), ref]), `balance at ${JSON.stringify(ref)}`);
      assert.equal(p.nonce, await rpc.call('eth_getTransactionCount', [addressOf(B), ref]), `nonce at ${JSON.stringify(ref)}`);
      assert.equal(p.codeHash, hex(keccak256(new Uint8Array())));
      assert.equal(p.storageHash, '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421', 'empty storage trie');
      assert.deepEqual(p.storageProof, []);
      const leaf = await verifyMerkleProof(bytes(addressOf(B)), p.accountProof.map(bytes), { root: await stateRoot(n), useKeyHashing: true });
      assert.ok(leaf !== null, `B is in the state at ${JSON.stringify(ref)}`);
      const [nonce, balance] = RLP.decode(leaf) as Uint8Array[];
      assert.equal(BigInt(hex(nonce!) === '0x' ? 0 : hex(nonce!)), BigInt(p.nonce));
      assert.equal(BigInt(hex(balance!)), BigInt(p.balance));
    }
  });
  test('a Token storage proof: balanceOf[A] and an empty slot, checked against the account\'s storage root', async () => {
    const slot = balanceSlot(addressOf(A));
    const p = await rpc.call<Proof>('eth_getProof', [TOKEN, [slot, '0x9', '0x0002', `0x${slot.slice(2).toUpperCase()}`], 'latest']);
    const code = await rpc.call<string>('eth_getCode', [TOKEN, 'latest']);
    assert.equal(p.codeHash, hex(keccak256(bytes(code))));
    assert.equal(p.nonce, '0x1');
    assert.equal(p.balance, '0x0');
    // A sent 10 of its tokens in the eth_estimateGas test.
    assert.deepEqual(
      p.storageProof.map((s) => [s.key, s.value]),
      [
        [slot, hexQ(SUPPLY - 10n)],
        ['0x9', '0x0'],
        ['0x2', hexQ(SUPPLY)],
        [slot, hexQ(SUPPLY - 10n)],
      ],
      'as go-ethereum: 32-byte keys as given (in lower case), shorter ones as quantities; values as quantities',
    );
    const root = bytes(p.storageHash);
    const value = await verifyMerkleProof(bytes(slot), p.storageProof[0]!.proof.map(bytes), { root, useKeyHashing: true });
    assert.equal(BigInt(hex(RLP.decode(value!) as Uint8Array)), SUPPLY - 10n);
    const empty = await verifyMerkleProof(bytes(word(9n)), p.storageProof[1]!.proof.map(bytes), { root, useKeyHashing: true });
    assert.equal(empty, null, 'a valid proof of absence');
    const account = await verifyMerkleProof(bytes(TOKEN), p.accountProof.map(bytes), { root: await stateRoot(head), useKeyHashing: true });
    const fields = RLP.decode(account!) as Uint8Array[];
    assert.equal(hex(fields[2]!), p.storageHash);
    assert.equal(hex(fields[3]!), p.codeHash);
  });
  test('the storage proof at the block before the deployment: the account and the slot are absent', async () => {
    const p = await rpc.call<Proof>('eth_getProof', [TOKEN, ['0x2'], { blockHash: hashes[0] }]);
    assert.equal(p.balance, '0x0');
    assert.equal(p.nonce, '0x0');
    assert.deepEqual(p.storageProof, [{ key: '0x2', value: '0x0', proof: [] }], 'one entry per key, with no proof nodes, as go-ethereum');
    assert.equal(await verifyMerkleProof(bytes(TOKEN), p.accountProof.map(bytes), { root: await stateRoot(0), useKeyHashing: true }), null);
  });
  test('unknown and malformed blocks, malformed keys', async () => {
    await refusesBadBlocks('eth_getProof', [TOKEN, ['0x2']]);
    await rpc.rejects('eth_getProof', [TOKEN, '0x2', 'latest'], -32602, /^invalid argument 1: /);
    await rpc.rejects('eth_getProof', [TOKEN, [`0x${'1'.repeat(66)}`], 'latest'], -32602, /^invalid argument 1: /);
    await rpc.rejects('eth_getProof', [TOKEN, ['zz'], 'latest'], -32602, /^invalid argument 1: /);
  });
});

describe('fees', () => {
  interface Header {
    baseFeePerGas: string;
    gasUsed: string;
    gasLimit: string;
  }
  const header = (n: number) => rpc.call<Header>('eth_getBlockByNumber', [hexQ(n), false]);
  /** EIP-1559's next base fee (target: half the gas limit, change at most 1/8). */
  const nextBaseFee = (h: Header) => {
    const base = BigInt(h.baseFeePerGas);
    const used = BigInt(h.gasUsed);
    const target = BigInt(h.gasLimit) / 2n;
    if (used === target) return base;
    if (used > target) {
      const d = (base * (used - target)) / target / 8n;
      return base + (d > 1n ? d : 1n);
    }
    return base - (base * (target - used)) / target / 8n;
  };

  test('eth_gasPrice is the head\'s base fee plus the 1 gwei tip; eth_maxPriorityFeePerGas the tip', async () => {
    const h = await header(head);
    assert.equal(await rpc.call('eth_gasPrice'), hexQ(BigInt(h.baseFeePerGas) + GWEI));
    assert.equal(await rpc.call('eth_maxPriorityFeePerGas'), hexQ(GWEI));
    await rpc.rejects('eth_gasPrice', ['latest'], -32602, 'too many arguments, want at most 0');
  });
  test('base fees fall from the configured 1 gwei through the nearly empty blocks', async () => {
    assert.equal((await header(0)).baseFeePerGas, hexQ(GWEI));
    for (let n = 1; n <= head; n++) assert.equal(BigInt((await header(n)).baseFeePerGas), nextBaseFee(await header(n - 1)), `block ${n}`);
  });
  test('eth_feeHistory: blockCount + 1 base fees (the last the next block\'s), gas used ratios, reward percentiles', async () => {
    const count = 3;
    const h = await rpc.call<{ oldestBlock: string; baseFeePerGas: string[]; gasUsedRatio: number[]; reward: string[][] }>('eth_feeHistory', [hexQ(count), 'latest', [0, 50, 100]]);
    assert.equal(h.oldestBlock, hexQ(head - count + 1));
    assert.equal(h.baseFeePerGas.length, count + 1);
    assert.equal(h.gasUsedRatio.length, count);
    assert.equal(h.reward.length, count);
    for (let i = 0; i < count; i++) {
      const hd = await header(head - count + 1 + i);
      assert.equal(h.baseFeePerGas[i], hd.baseFeePerGas);
      assert.equal(h.gasUsedRatio[i], Number(hd.gasUsed) / Number(hd.gasLimit));
    }
    assert.equal(h.baseFeePerGas[count], hexQ(nextBaseFee(await header(head))));
    // The transfer block (a legacy transaction at GAS_PRICE alone) pays GAS_PRICE - base fee at every percentile.
    const tip = GAS_PRICE - BigInt((await header(transferBlock)).baseFeePerGas);
    assert.deepEqual(h.reward[transferBlock - (head - count + 1)], [hexQ(tip), hexQ(tip), hexQ(tip)]);
  });
  test('eth_feeHistory: a count beyond the chain stops at genesis; a decimal count and a number for the newest block', async () => {
    const all = await rpc.call<{ oldestBlock: string; baseFeePerGas: string[]; gasUsedRatio: number[] }>('eth_feeHistory', ['0x400', 'latest']);
    assert.equal(all.oldestBlock, '0x0');
    assert.equal(all.baseFeePerGas.length, head + 2);
    assert.equal(all.gasUsedRatio[0], 0, 'genesis used no gas');
    const two = await rpc.call<{ oldestBlock: string; baseFeePerGas: string[] }>('eth_feeHistory', [2, hexQ(transferBlock)]);
    assert.equal(two.oldestBlock, hexQ(transferBlock - 1));
    assert.deepEqual(two.baseFeePerGas, [(await header(tokenBlock)).baseFeePerGas, (await header(transferBlock)).baseFeePerGas, (await header(transferBlock + 1)).baseFeePerGas]);
    const earliest = await rpc.call<{ oldestBlock: string; baseFeePerGas: string[] }>('eth_feeHistory', ['1', 'earliest']);
    assert.deepEqual(earliest.baseFeePerGas, [hexQ(GWEI), (await header(1)).baseFeePerGas]);
  });
  test('eth_feeHistory refusals', async () => {
    await rpc.rejects('eth_feeHistory', ['0x1', hexQ(head + 5)], -32000, `request beyond head block: requested ${head + 5}, head ${head}`);
    await rpc.rejects('eth_feeHistory', ['0x1', 'latest', [50, 10]], -32602, 'invalid argument 2: invalid reward percentile: #0:50.000000 >= #1:10.000000');
    await rpc.rejects('eth_feeHistory', ['0x1', 'latest', [101]], -32602, 'invalid argument 2: invalid reward percentile: 101.000000');
    await rpc.rejects('eth_feeHistory', ['one', 'latest'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_feeHistory', ['0x1', { blockHash: hashes[1] }], -32602, /^invalid argument 1: /);
  });
});

describe('node state', () => {
  test('eth_accounts is empty: the node holds no keys', async () => {
    assert.deepEqual(await rpc.call('eth_accounts'), []);
  });
  test('eth_syncing is false: the mirror follows certified blocks as they come', async () => {
    assert.equal(await rpc.call('eth_syncing'), false);
  });
});
