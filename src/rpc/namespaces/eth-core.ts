/**
 * The core `eth_*` methods a dApp library needs to deploy a contract and send transactions:
 * chain and block queries from the client node's verified mirror, state queries through f + 1
 * signed replica answers at the mirror's certified head, and transactions through the pool.
 * Calls and gas estimates go through the node's EVM gate (`evm-gate.ts`): gas cap, deadline,
 * and how many run at once.
 */
import type { Block } from '@ethereumjs/block';
import { MAX_PROOF_SLOTS, decodeCallOutcome, quantityOf, type CallQuery, type ReadQuery, type ReadResult } from '../../codec/read.ts';
import type { EvmBudget } from '../../execution/evm-limits.ts';
import type { ChainReader } from '../../execution/reader.ts';
import { EvmGate } from '../evm-gate.ts';
import { RPC_CODES, RpcError, invalidParams } from '../errors.ts';
import { isBulwarkError } from '../../common/errors.ts';
import { formatBlock, formatReceipt, formatTx, hexD, hexQ } from '../format.ts';
import { method, type MethodDef } from '../method.ts';
import { address, blockRef, bool, data, hash32, quantity, storageKey, type BlockRef, type Param } from '../params.ts';
import { hexToBytes } from '../../crypto/hex.ts';
import { buildCommon } from '../../execution/common.ts';
import { isPoolRefusal, type PoolPort } from '../ports.ts';
import { ethFillMethods } from './eth-fill.ts';

export interface EthBackend {
  readonly chainId: bigint;
  readonly freeGas: boolean;
  /** Block, transaction and receipt reads on the mirror. */
  readonly reader: ChainReader;
  head(): Block;
  /** A state read; calls and estimates come with their `budget` (gas cap, deadline), which the read must keep to. */
  read(query: ReadQuery, blockNumber: number, budget?: EvmBudget): Promise<ReadResult>;
  /** The limits on calls and estimates (default: go-ethereum's gas cap and timeout, 4 at once). */
  readonly evm?: EvmGate;
  readonly pool: PoolPort;
  /** Something entered the pool: hand ready transactions to consensus. */
  submit(): void;
  /** The pool accepted this transaction (pending-transaction filters and subscriptions see it). */
  accepted?(hash: string): void;
  /** Resolves when the mirror's head next moves, or after `timeoutMs`. */
  nextBlock(timeoutMs: number): Promise<void>;
  /**
   * Resolves once the transactions on their way into a block at the time of the call are in the
   * mirror (or after `timeoutMs`).
   */
  landed(timeoutMs: number): Promise<void>;
}

const callObject: Param<CallQuery> = (v, i) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidParams(i, 'expected a transaction call object');
  const o = v as Record<string, unknown>;
  const bytes = (x: unknown) => (x === undefined || x === null ? undefined : data()(x, i));
  const addr = (x: unknown) => (x === undefined || x === null ? undefined : hexToBytes(address(x, i)));
  const q = (x: unknown) => (x === undefined || x === null ? undefined : quantity(x, i));
  if (o.data !== undefined && o.input !== undefined && o.data !== o.input) throw invalidParams(i, 'both "data" and "input" are set and not equal');
  const from = addr(o.from);
  const to = addr(o.to);
  const input = bytes(o.input ?? o.data);
  const value = q(o.value);
  const gas = q(o.gas);
  const gasPrice = q(o.gasPrice ?? o.maxFeePerGas);
  return {
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    ...(input === undefined ? {} : { data: input }),
    ...(value === undefined ? {} : { value }),
    ...(gas === undefined ? {} : { gas }),
    ...(gasPrice === undefined ? {} : { gasPrice }),
  };
};

/** eth_getProof's storage keys: hex of up to 32 bytes each (left-padded, as go-ethereum reads them). */
const storageKeys: Param<{ asked: string; bytes: Uint8Array }[]> = (v, i) => {
  if (!Array.isArray(v)) throw invalidParams(i, 'expected an array of storage keys');
  if (v.length > MAX_PROOF_SLOTS) throw invalidParams(i, `more than ${MAX_PROOF_SLOTS} storage keys`);
  return v.map((k) => {
    if (typeof k !== 'string' || !/^0x[0-9a-fA-F]{0,64}$/.test(k)) throw invalidParams(i, 'invalid storage key: expected hex of at most 32 bytes');
    return { asked: k, bytes: new Uint8Array(Buffer.from(k.slice(2).padStart(64, '0'), 'hex')) };
  });
};

/** Slots one eth_getStorageValues call may ask for (go-ethereum's `maxGetStorageSlots`). */
export const MAX_STORAGE_VALUES = 1024;

/** eth_getStorageValues' requests: address → storage keys, at most MAX_STORAGE_VALUES keys in all. */
const storageRequests: Param<[string, Uint8Array[]][]> = (v, i) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidParams(i, 'expected an object of address to storage keys');
  const entries = Object.entries(v as Record<string, unknown>);
  let total = 0;
  const out = entries.map(([a, keys]): [string, Uint8Array[]] => {
    if (!Array.isArray(keys)) throw invalidParams(i, `storage keys of ${a} must be an array`);
    total += keys.length;
    if (total > MAX_STORAGE_VALUES) throw invalidParams(i, `too many slots (max ${MAX_STORAGE_VALUES})`);
    return [address(a, i), keys.map((k) => storageKey(k, i))];
  });
  if (total === 0) throw invalidParams(i, 'empty request');
  return out;
};

const RECEIPT_WAIT_MS = 2_000;
const LANDING_WAIT_MS = 250;

const utf8 = new TextDecoder();

/** The revert reason of `Error(string)` data, if that is what it is. */
function revertReason(returnData: Uint8Array): string | null {
  if (returnData.length < 68 || hexD(returnData.subarray(0, 4)) !== '0x08c379a0') return null;
  const len = Number(BigInt(hexD(returnData.subarray(36, 68))));
  if (68 + len > returnData.length) return null;
  return utf8.decode(returnData.subarray(68, 68 + len));
}

/** go-ethereum's revert error: code 3, the decoded reason if there is one, the revert data. */
function revertError(returnData: Uint8Array): RpcError {
  const reason = revertReason(returnData);
  return new RpcError(RPC_CODES.revert, reason === null ? 'execution reverted' : `execution reverted: ${reason}`, hexD(returnData));
}

/** How a replica reports an estimate whose message reverts even with the gas cap (`Simulation.estimateGas`). */
const REVERTS_AT_CAP = /^execution fails with the gas cap \d+: revert$/;

export function ethCoreMethods(b: EthBackend): Map<string, MethodDef> {
  const headNumber = () => b.head().header.number;
  /** The block a reference names, or null if there is none (yet); never one beyond the head. */
  const blockAt = async (ref: BlockRef): Promise<Block | null> => {
    try {
      if ('tag' in ref) return ref.tag === 'earliest' ? await b.reader.block(0n) : b.head();
      if ('number' in ref) return ref.number > headNumber() ? null : await b.reader.block(ref.number);
      const block = await b.reader.block(hexToBytes(ref.hash));
      return block.header.number > headNumber() ? null : block;
    } catch (err) {
      // Unknown is null, as in go-ethereum; anything else (a corrupt ledger) is an error.
      if (isBulwarkError(err) && err.code === 'READ_UNKNOWN_BLOCK') return null;
      throw err;
    }
  };

  /**
   * State is read at the certified head or below; a block beyond it does not exist (yet). A block
   * hash (EIP-1898) names the block it is the hash of: every stored block is canonical (BFT blocks
   * are final), so `requireCanonical` holds for any hash that is found.
   */
  const stateBlock = async (ref: BlockRef | undefined): Promise<number> => {
    const head = headNumber();
    if (ref === undefined || 'tag' in ref) return ref?.tag === 'earliest' ? 0 : Number(head);
    if ('number' in ref) {
      if (ref.number > head) throw new RpcError(RPC_CODES.server, 'header not found');
      return Number(ref.number);
    }
    const block = await blockAt(ref);
    // go-ethereum's wording for an unknown hash in a block-or-hash parameter.
    if (block === null) throw new RpcError(RPC_CODES.server, 'header for hash not found');
    return Number(block.header.number);
  };
  const read = async (query: ReadQuery, ref: BlockRef | undefined, budget?: EvmBudget): Promise<ReadResult> => readAt(query, await stateBlock(ref), budget);
  const readAt = async (query: ReadQuery, blockNumber: number, budget?: EvmBudget): Promise<ReadResult> => {
    const r = await b.read(query, blockNumber, budget);
    if (!r.ok) throw new RpcError(RPC_CODES.server, utf8.decode(r.result));
    return r;
  };
  const evm = b.evm ?? new EvmGate();
  /**
   * A call or estimate within its budget: gas above the cap is lowered to it here (as go-ethereum
   * does), so replicas answering for this node keep to this node's cap too.
   */
  const evmRead = (kind: 'call' | 'estimateGas', call: CallQuery, ref: BlockRef | undefined, budget: EvmBudget): Promise<ReadResult> => {
    const capped = (call.gas ?? b.head().header.gasLimit) > budget.gasCap ? { ...call, gas: budget.gasCap } : call;
    return read({ kind, call: capped }, ref, budget);
  };

  const estimateGas = (call: CallQuery, ref: BlockRef | undefined): Promise<bigint> =>
    evm.run(async (budget) => {
      try {
        return quantityOf((await evmRead('estimateGas', call, ref, budget)).result);
      } catch (err) {
        // The replicas' answer to a message that reverts even with the gas cap names the revert
        // but carries no data; go-ethereum answers it as eth_call does (code 3, the reason and
        // the revert data), which the same call at the same block gives.
        if (!(err instanceof RpcError) || !REVERTS_AT_CAP.test(err.message)) throw err;
        const outcome = decodeCallOutcome((await evmRead('call', call, ref, budget)).result);
        if (outcome.success) throw err;
        throw revertError(outcome.returnData);
      }
    });
  const tip = () => (b.freeGas ? 0n : 1_000_000_000n);
  const gasPrice = () => (b.freeGas ? 0n : (b.head().header.baseFeePerGas ?? 0n) + 1_000_000_000n);
  const fill = ethFillMethods({
    chainId: b.chainId,
    common: buildCommon(b.chainId),
    pendingNonce: (a) => b.pool.pendingNonce(a),
    gasPrice,
    tip,
    nextBaseFee: () => (b.freeGas ? 0n : b.head().header.calcNextBaseFee()),
    estimateGas: (call) => estimateGas(call, undefined),
  });

  return new Map<string, MethodDef>([
    ...fill,
    [
      'eth_blockNumber',
      // Transactions this node accepted land within milliseconds: the block number comes after
      // they did. A library that reads the block number right after sending and then waits for a
      // block beyond the receipt's (ethers' waitForTransaction) would otherwise wait for a block
      // that an idle chain never makes.
      method([], [], async () => {
        await b.landed(LANDING_WAIT_MS);
        return hexQ(headNumber());
      }),
    ],
    ['eth_accounts', method([], [], () => [])],
    ['eth_gasPrice', method([], [], () => hexQ(gasPrice()))],
    ['eth_maxPriorityFeePerGas', method([], [], () => hexQ(tip()))],
    ['eth_getBalance', method([address], [blockRef], async ([a, ref]) => hexQ(quantityOf((await read({ kind: 'balance', address: hexToBytes(a) }, ref)).result)))],
    [
      'eth_getTransactionCount',
      method([address], [blockRef], async ([a, ref]) => {
        if (ref !== undefined && 'tag' in ref && ref.tag === 'pending') return hexQ(await b.pool.pendingNonce(a));
        return hexQ(quantityOf((await read({ kind: 'nonce', address: hexToBytes(a) }, ref)).result));
      }),
    ],
    ['eth_getCode', method([address], [blockRef], async ([a, ref]) => hexD((await read({ kind: 'code', address: hexToBytes(a) }, ref)).result))],
    [
      'eth_getStorageAt',
      method([address, storageKey], [blockRef], async ([a, slot, ref]) => hexD((await read({ kind: 'storage', address: hexToBytes(a), slot }, ref)).result)),
    ],
    [
      'eth_getStorageValues',
      // go-ethereum's: slots of several accounts at one block, each a 32-byte value, keyed by the
      // address in lower case; at most MAX_STORAGE_VALUES slots in all.
      method([storageRequests], [blockRef], async ([requests, ref]) => {
        const at = await stateBlock(ref);
        const entries = await Promise.all(
          requests.map(async ([a, slots]) => {
            const values = await Promise.all(slots.map(async (slot) => hexD((await readAt({ kind: 'storage', address: hexToBytes(a), slot }, at)).result)));
            return [a, values] as const;
          }),
        );
        return Object.fromEntries(entries);
      }),
    ],
    [
      'eth_getProof',
      // EIP-1186, from the state trie at the block, as f + 1 replicas built it.
      method([address, storageKeys], [blockRef], async ([a, keys, ref]) => {
        const proof = JSON.parse(utf8.decode((await read({ kind: 'proof', address: hexToBytes(a), slots: keys.map((k) => k.bytes) }, ref)).result)) as {
          storageProof: { key: string; value: string; proof: string[] }[];
        };
        // As go-ethereum answers: one entry per key asked for, even where the account has no
        // storage trie (value zero, no proof nodes); a 32-byte key as given (lower case), a shorter
        // one as a quantity; each value a quantity.
        return {
          ...proof,
          storageProof: keys.map((k, i) => {
            const s = proof.storageProof[i];
            const digits = k.asked.slice(2);
            return {
              key: digits.length === 64 ? k.asked.toLowerCase() : hexQ(BigInt(`0x${digits === '' ? '0' : digits}`)),
              value: hexQ(s === undefined ? 0n : BigInt(s.value)),
              proof: s?.proof ?? [],
            };
          }),
        };
      }),
    ],
    [
      'eth_call',
      method([callObject], [blockRef], ([call, ref]) =>
        evm.run(async (budget) => {
          const outcome = decodeCallOutcome((await evmRead('call', call, ref, budget)).result);
          if (outcome.success) return hexD(outcome.returnData);
          throw revertError(outcome.returnData);
        }),
      ),
    ],
    ['eth_estimateGas', method([callObject], [blockRef], async ([call, ref]) => hexQ(await estimateGas(call, ref)))],
    [
      'eth_sendRawTransaction',
      method([data(256 * 1024)], [], async ([raw]) => {
        try {
          const hash = await b.pool.add(raw);
          b.submit();
          b.accepted?.(hash);
          return hash;
        } catch (err) {
          if (isPoolRefusal(err)) throw new RpcError(RPC_CODES.server, err.message);
          throw err;
        }
      }),
    ],
    [
      'eth_sendTransaction',
      // The node holds no keys (eth_accounts is empty): go-ethereum, asked to send from an account it
      // does not manage, answers "unknown account" after checking the transaction object.
      method([callObject], [], () => {
        throw new RpcError(RPC_CODES.server, 'unknown account');
      }),
    ],
    [
      'eth_getTransactionByHash',
      method([hash32], [], async ([h]) => {
        const found = await b.reader.transaction(hexToBytes(h));
        if (found !== undefined) return formatTx(found.tx, found.block, found.index);
        const pending = b.pool.get(h);
        return pending === undefined ? null : formatTx(pending.tx, null, null);
      }),
    ],
    [
      'eth_getTransactionReceipt',
      method([hash32], [], async ([h]) => {
        let found = await b.reader.transaction(hexToBytes(h));
        // A transaction still being ordered lands within milliseconds: answering after it does,
        // rather than null, spares libraries that wait for the next block a chain that is idle
        // after this very transaction.
        const until = Date.now() + RECEIPT_WAIT_MS;
        while (found === undefined && b.pool.landing(h) && Date.now() < until) {
          await b.nextBlock(until - Date.now());
          found = await b.reader.transaction(hexToBytes(h));
        }
        return found === undefined ? null : formatReceipt(found.tx, found.block, found.index, found.receipt, found.firstLogIndex);
      }),
    ],
    ['eth_getBlockByNumber', method([blockRef, bool], [], async ([ref, full]) => {
      const block = await blockAt(ref);
      return block === null ? null : formatBlock(block, full);
    })],
    ['eth_getBlockByHash', method([hash32, bool], [], async ([h, full]) => {
      const block = await blockAt({ hash: h, requireCanonical: false });
      return block === null ? null : formatBlock(block, full);
    })],
  ]);
}
