/** Test helpers: funded keys, a chain config, and signed transactions. */
import { createFeeMarket1559Tx, createLegacyTx, createAccessList2930Tx, type TypedTransaction } from '@ethereumjs/tx';
import type { Common } from '@ethereumjs/common';
import { bytesToHex } from '@ethereumjs/util';
import { privateKeyToAddress } from '../../src/crypto/secp256k1.ts';
import { sha256 } from '../../src/crypto/hash.ts';
import { parseChainConfig, type ChainConfig, type ChainConfigJson } from '../../src/execution/chain-config.ts';

export const CHAIN_ID = 1337n;

/** Deterministic test keys (sha256 of a label). */
export function testKey(i: number): Uint8Array {
  return sha256(new TextEncoder().encode(`bulwark test key ${i}`));
}

export function addressOf(key: Uint8Array): `0x${string}` {
  return bytesToHex(privateKeyToAddress(key));
}

export function testConfig(overrides: Partial<ChainConfigJson> = {}, funded = 4): ChainConfig {
  const alloc: Record<string, { balance: string }> = {};
  for (let i = 0; i < funded; i++) alloc[addressOf(testKey(i))] = { balance: (10n ** 24n).toString() };
  return parseChainConfig({ chainId: CHAIN_ID.toString(), alloc, ...overrides });
}

export interface TxFields {
  nonce: bigint;
  to?: `0x${string}`;
  value?: bigint;
  data?: Uint8Array;
  gasLimit?: bigint;
  gasPrice?: bigint;
  type?: 0 | 1 | 2;
}

export function signTx(common: Common, key: Uint8Array, f: TxFields): TypedTransaction {
  const base = {
    nonce: f.nonce,
    to: f.to,
    value: f.value ?? 0n,
    data: f.data ?? new Uint8Array(),
    gasLimit: f.gasLimit ?? 100_000n,
  };
  const price = f.gasPrice ?? 0n;
  switch (f.type ?? 2) {
    case 0:
      return createLegacyTx({ ...base, gasPrice: price }, { common }).sign(key);
    case 1:
      return createAccessList2930Tx({ ...base, gasPrice: price, chainId: common.chainId() }, { common }).sign(key);
    default:
      return createFeeMarket1559Tx(
        { ...base, maxFeePerGas: price, maxPriorityFeePerGas: price, chainId: common.chainId() },
        { common },
      ).sign(key);
  }
}
