/**
 * The specification's `GenericTransaction` (go-ethereum's `TransactionArgs`) as the methods that
 * take a whole transaction read it: `eth_createAccessList`, `eth_simulateV1`'s calls and
 * `eth_fillTransaction`. Checked as go-ethereum checks it (`data` and `input` must agree, legacy
 * and EIP-1559 fee fields exclude each other, the fee cap covers the tip), with go-ethereum's
 * wording; what this chain cannot carry (blobs, EIP-7702 authorizations) is refused by name.
 * Unknown fields are ignored, as Go's decoder does.
 */
import { createAddressFromString } from '@ethereumjs/util';
import type { AccessListJson, CallRequest } from '../execution/reader.ts';
import { invalidParams } from './errors.ts';
import { address, data, hash32, quantity, type Param } from './params.ts';

export interface TxArgs {
  readonly type?: number;
  readonly from?: string;
  /** Absent or null: a contract creation. */
  readonly to?: string;
  readonly nonce?: bigint;
  readonly gas?: bigint;
  readonly value?: bigint;
  readonly input?: Uint8Array;
  readonly gasPrice?: bigint;
  readonly maxFeePerGas?: bigint;
  readonly maxPriorityFeePerGas?: bigint;
  readonly chainId?: bigint;
  readonly accessList?: AccessListJson;
}

/** Transaction types this chain carries: legacy, EIP-2930, EIP-1559 (`validation.ts`). */
const TYPES = new Set([0, 1, 2]);
const BLOB_FIELDS = ['blobVersionedHashes', 'maxFeePerBlobGas', 'blobs', 'commitments', 'proofs'];

const present = (x: unknown) => x !== undefined && x !== null;

/** An EIP-2930 access list: `[{address, storageKeys}]`. */
export const accessList: Param<AccessListJson> = (v, i) => {
  if (!Array.isArray(v)) throw invalidParams(i, 'accessList must be an array');
  return v.map((e: unknown) => {
    if (typeof e !== 'object' || e === null) throw invalidParams(i, 'accessList entries must be objects');
    const o = e as Record<string, unknown>;
    const keys = o.storageKeys ?? [];
    if (!Array.isArray(keys)) throw invalidParams(i, 'accessList storageKeys must be an array');
    return { address: address(o.address, i), storageKeys: keys.map((k) => hash32(k, i)) };
  });
};

export const txArgs: Param<TxArgs> = (v, i) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidParams(i, 'expected a transaction object');
  const o = v as Record<string, unknown>;
  for (const f of BLOB_FIELDS) if (present(o[f])) throw invalidParams(i, `${f}: blob transactions are not supported on this chain`);
  if (present(o.authorizationList)) throw invalidParams(i, 'authorizationList: set-code transactions (EIP-7702) are not supported on this chain (Cancun)');
  if (present(o.data) && present(o.input) && o.data !== o.input) {
    throw invalidParams(i, 'both "data" and "input" are set and not equal. Please use "input" to pass transaction call data');
  }
  const q = (k: string) => (present(o[k]) ? quantity(o[k], i) : undefined);
  const type = q('type');
  if (type !== undefined && !TYPES.has(Number(type))) throw invalidParams(i, `transaction type ${type} is not supported on this chain (legacy, 0x1 and 0x2 are)`);
  const gasPrice = q('gasPrice');
  const maxFeePerGas = q('maxFeePerGas');
  const maxPriorityFeePerGas = q('maxPriorityFeePerGas');
  if (gasPrice !== undefined && (maxFeePerGas !== undefined || maxPriorityFeePerGas !== undefined)) {
    throw invalidParams(i, 'both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified');
  }
  if (maxFeePerGas !== undefined && maxPriorityFeePerGas !== undefined && maxFeePerGas < maxPriorityFeePerGas) {
    throw invalidParams(i, `maxFeePerGas (${maxFeePerGas}) < maxPriorityFeePerGas (${maxPriorityFeePerGas})`);
  }
  const input = present(o.input) ? o.input : o.data;
  const args: { -readonly [K in keyof TxArgs]: TxArgs[K] } = {};
  if (type !== undefined) args.type = Number(type);
  if (present(o.from)) args.from = address(o.from, i);
  if (present(o.to)) args.to = address(o.to, i);
  for (const k of ['nonce', 'gas', 'value', 'chainId'] as const) {
    const n = q(k);
    if (n !== undefined) args[k] = n;
  }
  if (present(input)) args.input = data()(input, i);
  if (gasPrice !== undefined) args.gasPrice = gasPrice;
  if (maxFeePerGas !== undefined) args.maxFeePerGas = maxFeePerGas;
  if (maxPriorityFeePerGas !== undefined) args.maxPriorityFeePerGas = maxPriorityFeePerGas;
  if (present(o.accessList)) args.accessList = accessList(o.accessList, i);
  return args;
};

/** The message the EVM runs for these arguments (a fee cap stands for the price, as in eth_call). */
export function callRequestOf(a: TxArgs): CallRequest & { readonly nonce?: bigint } {
  const price = a.gasPrice ?? a.maxFeePerGas;
  return {
    ...(a.from === undefined ? {} : { from: createAddressFromString(a.from) }),
    ...(a.to === undefined ? {} : { to: createAddressFromString(a.to) }),
    ...(a.input === undefined ? {} : { data: a.input }),
    ...(a.value === undefined ? {} : { value: a.value }),
    ...(a.gas === undefined ? {} : { gas: a.gas }),
    ...(price === undefined ? {} : { gasPrice: price }),
    ...(a.accessList === undefined ? {} : { accessList: a.accessList }),
    ...(a.nonce === undefined ? {} : { nonce: a.nonce }),
  };
}
