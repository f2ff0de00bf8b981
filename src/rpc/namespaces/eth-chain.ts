/**
 * The chain-query `eth_*` methods beyond the core ones, all answered from the client node's
 * verified mirror: transaction counts and transactions by block and index, a block's receipts,
 * uncles (a permissioned chain has none), `eth_syncing` and `eth_feeHistory`, in go-ethereum's
 * shapes (null for an unknown block, minimal hex quantities).
 */
import type { Block, BlockHeader } from '@ethereumjs/block';
import type { TypedTransaction } from '@ethereumjs/tx';
import { isBulwarkError } from '../../common/errors.ts';
import type { ChainReader } from '../../execution/reader.ts';
import type { TxReceipt } from '../../ledger/receipt.ts';
import { RPC_CODES, RpcError, invalidParams } from '../errors.ts';
import { formatReceipt, formatTx, hexQ } from '../format.ts';
import { method, type MethodDef } from '../method.ts';
import { blockNumberOrTag, blockRef, hash32, quantity, type BlockRef, type BlockTag, type Param } from '../params.ts';
import { hexToBytes } from '../../crypto/hex.ts';

export interface EthChainBackend {
  /** Whether the chain runs without fees (every base fee is zero). */
  readonly freeGas: boolean;
  /** Block and transaction reads on the mirror. */
  readonly reader: ChainReader;
  head(): Block;
  /** The receipts of a stored block, by its hash. */
  receipts(blockHash: Uint8Array): Promise<readonly TxReceipt[] | undefined>;
  /** A canonical header alone (fee history without rewards needs no more); blocks are read otherwise. */
  header?(number: bigint): Promise<BlockHeader | undefined>;
}

/** go-ethereum's limits: fee history of at most 1024 blocks and 100 percentiles. */
export const MAX_FEE_HISTORY = 1024;
export const MAX_REWARD_PERCENTILES = 100;

/** Cancun's blob gas parameters (EIP-4844). */
const MAX_BLOB_GAS_PER_BLOCK = 786_432n;
const TARGET_BLOB_GAS_PER_BLOCK = 393_216n;
const MIN_BLOB_BASE_FEE = 1n;
const BLOB_BASE_FEE_UPDATE_FRACTION = 3_338_477n;

type NumberOrTag = { readonly tag: BlockTag } | { readonly number: bigint };

/** go-ethereum's `rpc.BlockNumber`: a tag or a hex quantity (no hash, no EIP-1898 object). */
const blockNumber: Param<NumberOrTag> = blockNumberOrTag;

/** go-ethereum's `hexutil.Uint`: a quantity of at most 64 bits. */
const index: Param<bigint> = (v, i) => {
  const n = quantity(v, i);
  if (n > 0xffff_ffff_ffff_ffffn) throw invalidParams(i, 'hex number > 64 bits');
  return n;
};

/** go-ethereum's `math.HexOrDecimal64`: a JSON number, or a string in hex (0x…) or decimal. */
const hexOrDecimal64: Param<bigint> = (v, i) => {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : undefined;
  const bad = () => invalidParams(i, `invalid hex or decimal integer ${JSON.stringify(s ?? v)}`);
  if (s === undefined) throw bad();
  if (s === '') return 0n;
  const hex = s.startsWith('0x') || s.startsWith('0X');
  const digits = hex ? s.slice(2) : s;
  if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) throw bad();
  const n = BigInt(hex ? `0x${digits}` : digits);
  if (n > 0xffff_ffff_ffff_ffffn) throw bad();
  return n;
};

/** Go's `%f`: six decimals. */
const goF = (p: number) => p.toFixed(6);

/** Reward percentiles: at most 100 numbers in 0..100, strictly increasing (go-ethereum's checks and wording). */
const percentiles: Param<number[]> = (v, i) => {
  if (!Array.isArray(v)) throw invalidParams(i, 'json: cannot unmarshal non-array into Go value of type []float64');
  const ps = v.map((p) => {
    if (typeof p !== 'number' || !Number.isFinite(p)) throw invalidParams(i, 'json: cannot unmarshal non-number into Go value of type float64');
    return p;
  });
  if (ps.length > MAX_REWARD_PERCENTILES) throw invalidParams(i, `invalid reward percentile: over the query limit ${MAX_REWARD_PERCENTILES}`);
  ps.forEach((p, k) => {
    if (p < 0 || p > 100) throw invalidParams(i, `invalid reward percentile: ${goF(p)}`);
    const prev = ps[k - 1];
    if (prev !== undefined && p <= prev) throw invalidParams(i, `invalid reward percentile: #${k - 1}:${goF(prev)} >= #${k}:${goF(p)}`);
  });
  return ps;
};


/** What a transaction pays its block's proposer per gas above the base fee (go-ethereum's `EffectiveGasTip`). */
function effectiveTip(tx: TypedTransaction, baseFee: bigint): bigint {
  if ('maxFeePerGas' in tx) {
    const room = tx.maxFeePerGas - baseFee;
    return tx.maxPriorityFeePerGas < room ? tx.maxPriorityFeePerGas : room;
  }
  return tx.gasPrice - baseFee;
}

/** EIP-4844's `fake_exponential(factor, numerator, denominator)`. */
function fakeExponential(factor: bigint, numerator: bigint, denominator: bigint): bigint {
  let i = 1n;
  let output = 0n;
  let acc = factor * denominator;
  while (acc > 0n) {
    output += acc;
    acc = (acc * numerator) / (denominator * i);
    i++;
  }
  return output / denominator;
}

const blobBaseFee = (excess: bigint) => fakeExponential(MIN_BLOB_BASE_FEE, excess, BLOB_BASE_FEE_UPDATE_FRACTION);

export function ethChainMethods(b: EthChainBackend): Map<string, MethodDef> {
  const headNumber = () => b.head().header.number;

  const nextBaseFee = (h: BlockHeader) => (b.freeGas || h.baseFeePerGas === undefined ? 0n : h.calcNextBaseFee());

  /** The block a number or tag names, or null beyond the head (every tag is the head: BFT blocks are final). */
  const byNumber = async (ref: NumberOrTag): Promise<Block | null> => {
    if ('tag' in ref) return ref.tag === 'earliest' ? await b.reader.block(0n) : b.head();
    return ref.number > headNumber() ? null : await known(b.reader.block(ref.number));
  };
  const byHash = async (hash: string): Promise<Block | null> => {
    const block = await known(b.reader.block(hexToBytes(hash)));
    // A block being stored is visible a moment before the head moves to it: reads stop at the head.
    return block === null || block.header.number > headNumber() ? null : block;
  };
  const at = async (ref: BlockRef): Promise<Block | null> => {
    if (!('hash' in ref)) return byNumber(ref);
    // go-ethereum answers an unknown hash in a block-or-hash parameter with an error, not null.
    const block = await byHash(ref.hash);
    if (block === null) throw new RpcError(RPC_CODES.server, 'header for hash not found');
    return block;
  };

  const txCount = (block: Block | null) => (block === null ? null : hexQ(block.transactions.length));
  const txAt = (block: Block | null, i: bigint) => {
    const tx = block?.transactions[Number(i)];
    return block === null || i >= BigInt(block.transactions.length) || tx === undefined ? null : formatTx(tx, block, Number(i));
  };
  const uncleCount = (block: Block | null) => (block === null ? null : hexQ(block.uncleHeaders.length));

  const receiptsOf = async (block: Block): Promise<readonly TxReceipt[]> => {
    const receipts = await b.receipts(block.hash());
    if (receipts === undefined || receipts.length !== block.transactions.length) {
      throw new Error(`block ${block.header.number} is missing its receipts`);
    }
    return receipts;
  };

  const feeHistory = async (count: bigint, newest: NumberOrTag, ps: number[] | undefined) => {
    const empty = { oldestBlock: '0x0', gasUsedRatio: null };
    if (count < 1n) return empty;
    const blocks = count > BigInt(MAX_FEE_HISTORY) ? BigInt(MAX_FEE_HISTORY) : count;
    const head = headNumber();
    if ('number' in newest && newest.number > head) {
      throw new RpcError(RPC_CODES.server, `request beyond head block: requested ${newest.number}, head ${head}`);
    }
    const last = 'number' in newest ? newest.number : newest.tag === 'earliest' ? 0n : head;
    const n = last + 1n < blocks ? last + 1n : blocks;
    const oldest = last + 1n - n;
    const baseFeePerGas: string[] = [];
    const gasUsedRatio: number[] = [];
    const baseFeePerBlobGas: string[] = [];
    const blobGasUsedRatio: number[] = [];
    const reward: string[][] = [];
    const withRewards = ps !== undefined && ps.length > 0;
    for (let num = oldest; num <= last; num++) {
      let block: Block | null = null;
      let h: BlockHeader | undefined;
      if (withRewards || b.header === undefined) {
        block = await known(b.reader.block(num));
        h = block?.header;
      } else {
        h = await b.header(num);
      }
      if (h === undefined) break; // go-ethereum cuts the history at the first block it does not have
      const baseFee = h.baseFeePerGas ?? 0n;
      baseFeePerGas[Number(num - oldest)] = hexQ(baseFee);
      baseFeePerGas[Number(num - oldest) + 1] = hexQ(nextBaseFee(h));
      gasUsedRatio.push(Number(h.gasUsed) / Number(h.gasLimit));
      if (h.excessBlobGas === undefined) {
        baseFeePerBlobGas[Number(num - oldest)] = '0x0';
        baseFeePerBlobGas[Number(num - oldest) + 1] = '0x0';
      } else {
        const nextExcess = h.excessBlobGas + (h.blobGasUsed ?? 0n) - TARGET_BLOB_GAS_PER_BLOCK;
        baseFeePerBlobGas[Number(num - oldest)] = hexQ(blobBaseFee(h.excessBlobGas));
        baseFeePerBlobGas[Number(num - oldest) + 1] = hexQ(blobBaseFee(nextExcess < 0n ? 0n : nextExcess));
      }
      blobGasUsedRatio.push(h.blobGasUsed === undefined ? 0 : Number(h.blobGasUsed) / Number(MAX_BLOB_GAS_PER_BLOCK));
      if (withRewards && block !== null) reward.push(await rewards(block, ps));
    }
    if (gasUsedRatio.length === 0) return empty;
    return {
      oldestBlock: hexQ(oldest),
      ...(ps !== undefined && ps.length > 0 ? { reward } : {}),
      baseFeePerGas,
      gasUsedRatio,
      baseFeePerBlobGas,
      blobGasUsedRatio,
    };
  };

  /** go-ethereum's percentiles: tips sorted ascending, each weighted by the gas its transaction used. */
  const rewards = async (block: Block, ps: number[]): Promise<string[]> => {
    if (block.transactions.length === 0) return ps.map(() => '0x0');
    const receipts = await receiptsOf(block);
    const baseFee = block.header.baseFeePerGas ?? 0n;
    const sorted = block.transactions
      .map((tx, i) => ({ reward: effectiveTip(tx, baseFee), gasUsed: receipts[i]!.gasUsed }))
      .sort((x, y) => (x.reward < y.reward ? -1 : x.reward > y.reward ? 1 : 0));
    let i = 0;
    let sum = sorted[0]!.gasUsed;
    return ps.map((p) => {
      const threshold = BigInt(Math.trunc((Number(block.header.gasUsed) * p) / 100));
      while (sum < threshold && i < sorted.length - 1) {
        i++;
        sum += sorted[i]!.gasUsed;
      }
      return hexQ(sorted[i]!.reward);
    });
  };

  return new Map<string, MethodDef>([
    ['eth_getBlockTransactionCountByHash', method([hash32], [], async ([h]) => txCount(await byHash(h)))],
    ['eth_getBlockTransactionCountByNumber', method([blockNumber], [], async ([ref]) => txCount(await byNumber(ref)))],
    ['eth_getTransactionByBlockHashAndIndex', method([hash32, index], [], async ([h, i]) => txAt(await byHash(h), i))],
    ['eth_getTransactionByBlockNumberAndIndex', method([blockNumber, index], [], async ([ref, i]) => txAt(await byNumber(ref), i))],
    [
      'eth_getBlockReceipts',
      method([blockRef], [], async ([ref]) => {
        const block = await at(ref);
        if (block === null) return null;
        const receipts = await receiptsOf(block);
        let firstLogIndex = 0;
        return block.transactions.map((tx, i) => {
          const r = receipts[i]!;
          const out = formatReceipt(tx, block, i, r, firstLogIndex);
          firstLogIndex += r.logs.length;
          return out;
        });
      }),
    ],
    ['eth_getUncleCountByBlockHash', method([hash32], [], async ([h]) => uncleCount(await byHash(h)))],
    ['eth_getUncleCountByBlockNumber', method([blockNumber], [], async ([ref]) => uncleCount(await byNumber(ref)))],
    ['eth_getUncleByBlockHashAndIndex', method([hash32, index], [], () => null)],
    ['eth_getUncleByBlockNumberAndIndex', method([blockNumber, index], [], () => null)],
    ['eth_syncing', method([], [], () => false)],
    // The next block's base fee, as eth_feeHistory's last entry gives it (zero under free gas).
    ['eth_baseFee', method([], [], () => hexQ(nextBaseFee(b.head().header)))],
    // go-ethereum's: the blob base fee of the head's blob gas (EIP-4844). This chain takes no blob
    // transactions (validation.ts), so no block uses blob gas and the fee stays at its minimum,
    // 1 wei: the correct value, and what a wallet needs to know there is nothing to pay for.
    ['eth_blobBaseFee', method([], [], () => hexQ(blobBaseFee(b.head().header.excessBlobGas ?? 0n)))],
    ['eth_feeHistory', method([hexOrDecimal64, blockNumber], [percentiles], ([count, newest, ps]) => feeHistory(count, newest, ps))],
  ]);
}

/** The block, or null when the store does not have it. */
async function known(p: Promise<Block>): Promise<Block | null> {
  try {
    return await p;
  } catch (e) {
    if (isBulwarkError(e, 'READ_UNKNOWN_BLOCK')) return null;
    throw e;
  }
}
