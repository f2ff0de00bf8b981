/**
 * `eth_fillTransaction`: the transaction a wallet would sign, with what it left out filled in as
 * go-ethereum's `setDefaults` fills it — the sender's next nonce counting its transactions in the
 * pool, the chain id, fees (a legacy or EIP-2930 transaction gets `eth_gasPrice`, any other an
 * EIP-1559 tip of `eth_maxPriorityFeePerGas` and a fee cap of the tip plus twice the next base
 * fee), and the gas `eth_estimateGas` finds. Nothing is signed (the node holds no keys): `raw` is
 * the unsigned transaction's encoding, `tx` its fields.
 */
import type { Common } from '@ethereumjs/common';
import { createAccessList2930Tx, createFeeMarket1559Tx, createLegacyTx, type TypedTransaction } from '@ethereumjs/tx';
import { createAddressFromString } from '@ethereumjs/util';
import { invalidParams } from '../errors.ts';
import { hexD, hexQ } from '../format.ts';
import type { CallQuery } from '../../codec/read.ts';
import { hexToBytes } from '../../crypto/hex.ts';
import { method, type MethodDef } from '../method.ts';
import { txArgs, type TxArgs } from '../tx-args.ts';

export interface FillBackend {
  readonly chainId: bigint;
  readonly common: Common;
  /** The sender's next nonce, its pooled transactions counted. */
  pendingNonce(address: string): Promise<bigint>;
  /** eth_gasPrice and eth_maxPriorityFeePerGas as this node answers them. */
  gasPrice(): bigint;
  tip(): bigint;
  /** The next block's base fee (eth_baseFee). */
  nextBaseFee(): bigint;
  /** eth_estimateGas at the head, through the node's EVM gate. */
  estimateGas(call: CallQuery): Promise<bigint>;
}

const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000';

export function ethFillMethods(b: FillBackend): Map<string, MethodDef> {
  return new Map<string, MethodDef>([['eth_fillTransaction', method([txArgs], [], async ([args]) => fill(b, args))]]);
}

async function fill(b: FillBackend, a: TxArgs): Promise<{ raw: string; tx: Record<string, unknown> }> {
  if (a.chainId !== undefined && a.chainId !== b.chainId) throw invalidParams(0, `chainId does not match node's (have=${a.chainId}, want=${b.chainId})`);
  if (a.to === undefined && (a.input === undefined || a.input.length === 0)) throw invalidParams(0, 'contract creation without any data provided');
  const from = a.from ?? ZERO_ADDRESS;
  const legacyFees = a.gasPrice !== undefined || a.type === 0 || a.type === 1;
  const tip = legacyFees ? undefined : (a.maxPriorityFeePerGas ?? b.tip());
  const feeCap = legacyFees ? undefined : (a.maxFeePerGas ?? (tip ?? 0n) + 2n * b.nextBaseFee());
  const gasPrice = legacyFees ? (a.gasPrice ?? b.gasPrice()) : undefined;
  const nonce = a.nonce ?? (await b.pendingNonce(from));
  const gas =
    a.gas ??
    (await b.estimateGas({
      from: hexToBytes(from),
      ...(a.to === undefined ? {} : { to: hexToBytes(a.to) }),
      ...(a.input === undefined ? {} : { data: a.input }),
      ...(a.value === undefined ? {} : { value: a.value }),
    }));
  const fields = {
    nonce,
    gasLimit: gas,
    to: a.to === undefined ? undefined : createAddressFromString(a.to),
    value: a.value ?? 0n,
    data: a.input ?? new Uint8Array(),
    chainId: b.chainId,
  };
  const opts = { common: b.common };
  const accessList = a.accessList?.map((e) => ({ address: e.address as `0x${string}`, storageKeys: e.storageKeys as `0x${string}`[] })) ?? [];
  let tx: TypedTransaction;
  if (gasPrice === undefined) tx = createFeeMarket1559Tx({ ...fields, maxFeePerGas: feeCap, maxPriorityFeePerGas: tip, accessList }, opts);
  else if (a.type === 1 || accessList.length > 0) tx = createAccessList2930Tx({ ...fields, gasPrice, accessList }, opts);
  else tx = createLegacyTx({ ...fields, gasPrice }, opts);
  return { raw: hexD(tx.serialize()), tx: unsignedJson(tx) };
}

/** The unsigned transaction's fields in the specification's shape (gasPrice is the fee cap for EIP-1559). */
function unsignedJson(tx: TypedTransaction): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: hexQ(tx.type),
    chainId: hexQ(tx.common.chainId()),
    nonce: hexQ(tx.nonce),
    to: tx.to === undefined ? null : tx.to.toString(),
    gas: hexQ(tx.gasLimit),
    value: hexQ(tx.value),
    input: hexD(tx.data),
    gasPrice: hexQ('maxFeePerGas' in tx ? tx.maxFeePerGas : tx.gasPrice),
  };
  if ('maxFeePerGas' in tx) {
    out.maxFeePerGas = hexQ(tx.maxFeePerGas);
    out.maxPriorityFeePerGas = hexQ(tx.maxPriorityFeePerGas);
  }
  if (tx.type !== 0) out.accessList = tx.toJSON().accessList ?? [];
  return out;
}
