/**
 * Who sends the load. The matrix needs up to 1,000 senders, more than a development network
 * funds at genesis, so the benchmark derives keys of its own and funds them from the development
 * accounts, in batches each of which the pool takes at once (at most 64 nonces ahead of a sender's
 * next), then gives each the Token to send. Every system gets the same senders the same way.
 */
import { sha256 } from '../../src/crypto/hash.ts';
import { devAccounts } from '../../src/setup/dev-accounts.ts';
import { bytecode, encodeCall } from '../../test/helpers/abi.ts';
import { addressOf, signTx } from '../../test/helpers/chain.ts';
import { hex, log, receipt, type Hex } from './client.ts';
import { commonOf, noncesOf } from './load.ts';
import type { System } from './system.ts';

/** Development accounts 1..FUNDERS fund the senders; account 0 deploys the Token and sends lone transactions. */
export const FUNDERS = 20;
export const DEV_ACCOUNTS = FUNDERS + 1;
const ETH = 10n ** 18n;
/** Enough for every cell's gas at Hardhat's 10 gwei (a sender of a 20-sender cell sends hundreds). */
const SENDER_ETH = 100n * ETH;
const SENDER_TOKENS = 10n ** 24n;
const RECIPIENTS = 1_000;

export interface Key {
  readonly key: Uint8Array;
  readonly address: Hex;
}

const keyOf = (key: Uint8Array): Key => ({ key, address: addressOf(key) });

/** The benchmark's own senders: deterministic keys (sha256 of a label), the same on every system. */
export function benchSenders(count: number): Key[] {
  return Array.from({ length: count }, (_, i) => keyOf(sha256(new TextEncoder().encode(`bulwark bench sender ${i}`))));
}

export function devKeys(count: number): Key[] {
  return devAccounts(count).map((a) => keyOf(new Uint8Array(Buffer.from(a.privateKey.slice(2), 'hex'))));
}

/** Where the load's transfers go: 1,000 addresses nobody holds a key of. */
export const recipients: readonly Hex[] = Array.from({ length: RECIPIENTS }, (_, i): Hex => `0x${(0xbe00_0000 + i).toString(16).padStart(40, '0')}`);

export interface Prepared {
  readonly senders: readonly Key[];
  readonly token: Hex;
  readonly deployer: Key;
}

/** Sends each funder's transactions as one batch, all funders at once, and waits for every funder's last one. */
async function fundRound(s: System, funders: readonly Key[], make: (funder: number, i: number) => { to: Hex; value?: bigint; data?: Uint8Array; gasLimit: bigint }, perFunder: (f: number) => number): Promise<void> {
  const common = commonOf(s);
  const nonces = await noncesOf(s.rpc, funders.map((f) => f.address));
  const lastHashes = await Promise.all(
    funders.map(async (f, fi) => {
      const txs = Array.from({ length: perFunder(fi) }, (_, i) => signTx(common, f.key, { nonce: nonces[fi]! + BigInt(i), gasPrice: s.gasPrice, ...make(fi, i) }));
      if (txs.length === 0) return null;
      for (const a of await s.rpc.batch(txs.map((tx) => ['eth_sendRawTransaction', [hex(tx.serialize())]]))) {
        if (a.error !== undefined) throw new Error(`${s.name}: funding refused: ${a.error.message}`);
      }
      return hex(txs.at(-1)!.hash());
    }),
  );
  for (const h of lastHashes) {
    if (h === null) continue;
    const r = await receipt(s.rpc, h);
    if (r.status !== '0x1') throw new Error(`${s.name}: a funding transaction failed (${h})`);
  }
}

async function deployToken(s: System, deployer: Key): Promise<Hex> {
  const common = commonOf(s);
  const [nonce] = await noncesOf(s.rpc, [deployer.address]);
  const deploy = signTx(common, deployer.key, { nonce: nonce!, data: bytecode('Token', 10n ** 30n), gasLimit: 2_000_000n, gasPrice: s.gasPrice });
  await s.rpc.call('eth_sendRawTransaction', [hex(deploy.serialize())]);
  return (await receipt(s.rpc, hex(deploy.hash()))).contractAddress!;
}

/** The Token deployed, and `count` senders of the benchmark's own given ETH and tokens. */
export async function prepareSenders(s: System, count: number): Promise<Prepared> {
  const t0 = performance.now();
  const [deployer, ...funders] = devKeys(DEV_ACCOUNTS) as [Key, ...Key[]];
  const senders = benchSenders(count);
  const token = await deployToken(s, deployer);
  // The funders get tokens from the deployer; then each funder pays its share of the senders.
  const shares = funders.map((_, fi) => senders.filter((_, j) => j % funders.length === fi));
  const share = (fi: number) => shares[fi]!;
  await fundRound(s, [deployer], (_, i) => ({ to: token, data: encodeCall('transfer(address,uint256)', funders[i]!.address, 10n ** 28n), gasLimit: 100_000n }), () => funders.length);
  await fundRound(s, funders, (fi, i) => ({ to: share(fi)[i]!.address, value: SENDER_ETH, gasLimit: 21_000n }), (fi) => share(fi).length);
  await fundRound(s, funders, (fi, i) => ({ to: token, data: encodeCall('transfer(address,uint256)', share(fi)[i]!.address, SENDER_TOKENS), gasLimit: 100_000n }), (fi) => share(fi).length);
  log(`${s.name}: Token at ${token}; ${count} senders given ${SENDER_ETH / ETH} ETH and tokens each in ${Math.round(performance.now() - t0)} ms`);
  return { senders, token, deployer };
}

/** The Token balances of all recipients together. */
export async function recipientTotal(s: System, token: Hex): Promise<bigint> {
  const balances = await s.rpc.all<string>(recipients.map((r) => ['eth_call', [{ to: token, data: hex(encodeCall('balanceOf(address)', r)) }, 'latest']]));
  return balances.reduce((t, b) => t + BigInt(b), 0n);
}

/**
 * The single-shape run's senders (BENCH_SINGLE): development accounts 1..count, funded at genesis,
 * given tokens by account 0 in runs the pool takes at once.
 */
export async function prepareDevSenders(s: System, count: number): Promise<Prepared> {
  const [deployer, ...senders] = devKeys(count + 1) as [Key, ...Key[]];
  const token = await deployToken(s, deployer);
  for (let i = 0; i < senders.length; i += 50) {
    const run = senders.slice(i, i + 50);
    await fundRound(s, [deployer], (_, j) => ({ to: token, data: encodeCall('transfer(address,uint256)', run[j]!.address, SENDER_TOKENS), gasLimit: 100_000n }), () => run.length);
  }
  return { senders, token, deployer };
}
