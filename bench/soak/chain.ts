/**
 * The soak's accounts and contract: the funded development accounts (index 0 deploys and hands out
 * tokens, 1..N send the load), a thousand fresh recipient addresses for this run, the Token
 * (test/fixtures/contracts/Token.sol) deployed and given to every sender, and snapshots of
 * balances and nonces at a fixed block for the accounting at the end.
 */
import { randomBytes } from 'node:crypto';
import type { Common } from '@ethereumjs/common';
import { ecsignForEthereumjs } from '../../src/crypto/secp256k1.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { devAccounts } from '../../src/setup/dev-accounts.ts';
import { bytecode, encodeCall } from '../../test/helpers/abi.ts';
import { signTx } from '../../test/helpers/chain.ts';
import { RpcError, sleep, type RpcCall, type SoakRpc } from './rpc.ts';

export type Hex = `0x${string}`;
export const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString('hex')}`;
const q = (n: bigint): Hex => `0x${n.toString(16)}`;

/** keccak256("Transfer(address,address,uint256)") */
export const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';
export const RECIPIENTS = 1_000;
/** What each sender is given, and the Token's supply: far more than any run can move. */
export const TOKENS_PER_SENDER = 10n ** 24n;
export const TOKEN_SUPPLY = 10n ** 30n;

export interface Account {
  readonly key: Uint8Array;
  readonly address: Hex;
}

export interface Chain {
  readonly common: Common;
  readonly gasPrice: bigint;
  readonly deployer: Account;
  readonly senders: readonly Account[];
  readonly recipients: readonly Hex[];
}

/**
 * Accounts and a Common for signing. ethereumjs signs with noble's pure-JS secp256k1 (~0.9 ms a
 * transaction); the native one (~0.15 ms) leaves the two cores to the nodes under test.
 */
export async function chainOf(rpc: SoakRpc, senders: number): Promise<Chain> {
  const chainId = BigInt(await rpc.call<string>('eth_chainId'));
  const gasPrice = BigInt(await rpc.call<string>('eth_gasPrice'));
  const common = buildCommon(chainId, 'cancun');
  common.customCrypto.ecsign = ecsignForEthereumjs;
  const accounts = devAccounts(senders + 1).map((a) => ({ key: new Uint8Array(Buffer.from(a.privateKey.slice(2), 'hex')), address: a.address.toLowerCase() as Hex }));
  // Fresh for each run, so a run against an existing network (--url) starts them at zero.
  const tag = randomBytes(4).toString('hex');
  const recipients = Array.from({ length: RECIPIENTS }, (_, i): Hex => `0x5a${tag}${i.toString(16).padStart(30, '0')}`);
  return { common, gasPrice, deployer: accounts[0]!, senders: accounts.slice(1), recipients };
}

export interface Receipt {
  readonly status: string;
  readonly blockNumber: string;
  readonly gasUsed: string;
  readonly effectiveGasPrice?: string;
  readonly contractAddress: Hex | null;
}

export async function receiptOf(rpc: SoakRpc, hash: string, timeoutMs: number): Promise<Receipt> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const r = await rpc.call<Receipt | null>('eth_getTransactionReceipt', [hash]);
    if (r !== null) return r;
    if (performance.now() > end) throw new Error(`no receipt for ${hash} after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** Sends signed transactions in one batch; a refusal here (set-up) is fatal. */
async function sendAll(rpc: SoakRpc, raws: readonly Uint8Array[]): Promise<void> {
  const answers = await rpc.batchRetrying(raws.map((raw): RpcCall => ['eth_sendRawTransaction', [hex(raw)]]));
  for (const a of answers) if (a.error !== undefined && a.error.message !== 'already known') throw new RpcError('eth_sendRawTransaction', a.error.code, a.error.message);
}

/**
 * The Token, deployed by the deployer, and TOKENS_PER_SENDER given to every sender, in runs the
 * pool takes at once (it holds at most 64 nonces ahead of an account's committed one).
 */
export async function deployToken(rpc: SoakRpc, chain: Chain, log: (s: string) => void): Promise<Hex> {
  const { common, deployer, gasPrice } = chain;
  let nonce = BigInt(await rpc.call<string>('eth_getTransactionCount', [deployer.address, 'pending']));
  const deploy = signTx(common, deployer.key, { nonce: nonce++, data: bytecode('Token', TOKEN_SUPPLY), gasLimit: 2_000_000n, gasPrice });
  await sendAll(rpc, [deploy.serialize()]);
  const token = (await receiptOf(rpc, hex(deploy.hash()), 120_000)).contractAddress!;
  for (let s = 0; s < chain.senders.length; s += 50) {
    const run = chain.senders.slice(s, s + 50).map((to) =>
      signTx(common, deployer.key, { nonce: nonce++, to: token, data: encodeCall('transfer(address,uint256)', to.address, TOKENS_PER_SENDER), gasLimit: 100_000n, gasPrice }),
    );
    await sendAll(rpc, run.map((tx) => tx.serialize()));
    const r = await receiptOf(rpc, hex(run[run.length - 1]!.hash()), 120_000);
    if (r.status !== '0x1') throw new Error('giving tokens to the senders failed');
  }
  log(`Token at ${token}; ${TOKENS_PER_SENDER} tokens given to each of ${chain.senders.length} senders`);
  return token;
}

/** ETH and token balances of `holders` and nonces of `nonceOf`, all read at one block. */
export interface Snapshot {
  readonly block: bigint;
  readonly eth: readonly bigint[];
  readonly tokens: readonly bigint[];
  readonly nonces: readonly bigint[];
  readonly totalSupply: bigint;
}

export async function snapshot(rpc: SoakRpc, token: Hex, holders: readonly Hex[], nonceOf: readonly Hex[], block?: bigint): Promise<Snapshot> {
  const at = block ?? BigInt((await rpc.call<{ number: string }>('eth_getBlockByNumber', ['latest', false])).number);
  const tag = q(at);
  const balanceOf = (a: Hex): RpcCall => ['eth_call', [{ to: token, data: hex(encodeCall('balanceOf(address)', a)) }, tag]];
  // State reads may fail for a while when the node's own state lags and the replicas are busy.
  const read = (calls: RpcCall[]) => rpc.all<string>(calls, 100, 2, 120_000);
  const [eth, tokens, nonces, [supply]] = await Promise.all([
    read(holders.map((a): RpcCall => ['eth_getBalance', [a, tag]])),
    read(holders.map(balanceOf)),
    read(nonceOf.map((a): RpcCall => ['eth_getTransactionCount', [a, tag]])),
    read([['eth_call', [{ to: token, data: hex(encodeCall('totalSupply()')) }, tag]]]),
  ]);
  return { block: at, eth: eth.map(BigInt), tokens: tokens.map(BigInt), nonces: nonces.map(BigInt), totalSupply: BigInt(supply!) };
}
