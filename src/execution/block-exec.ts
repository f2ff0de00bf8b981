/**
 * Runs one block's ordered transactions against the VM's state: the heart of the executor, shared
 * by `Executor` and the conformance runner so that both exercise exactly the same path.
 *
 * Each transaction is decoded and checked (stateless, then against the state earlier transactions
 * left), executed, or left out with its reason. All state changes happen inside one journal
 * checkpoint, committed only once the whole block has run; any unexpected error reverts it.
 */
import type { Block } from '@ethereumjs/block';
import type { TypedTransaction } from '@ethereumjs/tx';
import { runTx, type RunTxResult, type VM } from '@ethereumjs/vm';
import type { TxReceipt } from '../ledger/receipt.ts';
import { accumulateBeaconRoot, sealBlock } from './assemble.ts';
import type { ChainConfig } from './chain-config.ts';
import type { DecodedTxs } from './decoded-txs.ts';
import { TxRejection, decodeAndCheck, firstLine, type RejectReason } from './validation.ts';

export interface Rejected {
  /** Position of the transaction in the ordered input. */
  readonly index: number;
  /** The transaction hash, when the bytes decoded far enough to have one. */
  readonly hash: Uint8Array | undefined;
  readonly reason: RejectReason;
  readonly message: string;
}

export interface ExecutionResult {
  readonly block: Block;
  /**
   * The included transactions exactly as received. ethereumjs decodes only canonical encodings
   * (strict RLP, no leading zeros), so these are the bytes `serialize()` would give, without
   * re-encoding every transaction for the body, the transactions root and the hash index.
   */
  readonly rawTransactions: readonly Uint8Array[];
  readonly receipts: readonly TxReceipt[];
  readonly stateRoot: Uint8Array;
  readonly rejected: readonly Rejected[];
}

export interface BlockContext {
  readonly vm: VM;
  readonly config: ChainConfig;
  /** Transactions this process decoded and checked already (a client node's pool admissions). */
  readonly decoded?: DecodedTxs;
}

/** Executes `rawTxs` in the environment `env` (header fields known before execution). */
export async function executeBlock(ctx: BlockContext, env: Block, rawTxs: readonly Uint8Array[]): Promise<ExecutionResult> {
  const { vm } = ctx;
  const journal = vm.evm.journal;
  await journal.checkpoint();
  try {
    await accumulateBeaconRoot(vm, env.header.parentBeaconBlockRoot ?? new Uint8Array(32), env.header.timestamp);
    const rejected: Rejected[] = [];
    const receipts: TxReceipt[] = [];
    const included: TypedTransaction[] = [];
    const includedRaw: Uint8Array[] = [];
    const results: RunTxResult[] = [];
    let gasUsed = 0n;
    const decoded = rawTxs.map((raw) => decodeOrRejection(raw, ctx, env));
    await prefetchAccounts(vm, decoded);
    for (let index = 0; index < rawTxs.length; index++) {
      // A long block gives the event loop a turn now and then: a replica answers its peers while
      // it executes.
      if (index % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
      const d = decoded[index]!;
      const tx = d instanceof TxRejection ? undefined : d;
      try {
        if (tx === undefined) throw d;
        await checkAgainstState(vm, tx, env, gasUsed);
        const r = await runChecked(vm, tx, env, gasUsed);
        gasUsed += r.totalGasSpent;
        included.push(tx);
        includedRaw.push(rawTxs[index]!);
        results.push(r);
        receipts.push(toReceipt(tx, r));
      } catch (e) {
        if (!(e instanceof TxRejection)) throw e;
        rejected.push({ index, hash: tx?.hash(), reason: e.reason, message: e.message });
      }
    }
    const stateRoot = await vm.stateManager.getStateRoot();
    await journal.commit();
    const block = await sealBlock(vm.common, env, { txs: included, raw: includedRaw }, results, stateRoot, gasUsed);
    return { block, rawTransactions: includedRaw, receipts, stateRoot, rejected };
  } catch (e) {
    await journal.revert();
    throw e;
  }
}

function decodeOrRejection(raw: Uint8Array, ctx: BlockContext, env: Block): TypedTransaction | TxRejection {
  // Found only if it passed the same stateless checks; those that depend on the block are redone.
  const known = ctx.decoded?.take(raw, ctx.vm.common);
  if (known !== undefined && raw.length <= ctx.config.maxTxBytes && known.gasLimit <= env.header.gasLimit) return known;
  try {
    return decodeAndCheck(raw, ctx.config, ctx.vm.common, env.header.gasLimit);
  } catch (e) {
    if (e instanceof TxRejection) return e;
    throw e;
  }
}

/**
 * Loads every sender and recipient into the state cache concurrently before the transactions run
 * one by one, so the disk reads of a block overlap instead of queueing behind each other. Reads only:
 * the outcome cannot depend on it.
 */
async function prefetchAccounts(vm: VM, txs: readonly (TypedTransaction | TxRejection)[]): Promise<void> {
  const seen = new Set<string>();
  const loads: Promise<unknown>[] = [];
  for (const tx of txs) {
    if (tx instanceof TxRejection) continue;
    for (const address of [tx.getSenderAddress(), tx.to]) {
      if (address === undefined || seen.has(address.toString())) continue;
      seen.add(address.toString());
      loads.push(vm.stateManager.getAccount(address));
    }
  }
  await Promise.all(loads);
}

/** Stateful checks, so the common rejections carry a precise reason rather than the VM's text. */
async function checkAgainstState(vm: VM, tx: TypedTransaction, env: Block, gasUsed: bigint): Promise<void> {
  const gasLeft = env.header.gasLimit - gasUsed;
  if (tx.gasLimit > gasLeft) {
    throw new TxRejection('TX_BLOCK_GAS_EXHAUSTED', `gas limit ${tx.gasLimit} above the ${gasLeft} left in this block`);
  }
  const baseFee = env.header.baseFeePerGas ?? 0n;
  const maxFee = 'maxFeePerGas' in tx ? tx.maxFeePerGas : tx.gasPrice;
  if (maxFee < baseFee) throw new TxRejection('TX_FEE_BELOW_BASE_FEE', `fee cap ${maxFee} below base fee ${baseFee}`);
  const account = await vm.stateManager.getAccount(tx.getSenderAddress());
  const nonce = account?.nonce ?? 0n;
  if (tx.nonce < nonce) throw new TxRejection('TX_NONCE_TOO_LOW', `nonce ${tx.nonce}, account nonce ${nonce}`);
  if (tx.nonce > nonce) throw new TxRejection('TX_NONCE_TOO_HIGH', `nonce ${tx.nonce}, account nonce ${nonce}`);
  const cost = tx.gasLimit * maxFee + tx.value;
  const balance = account?.balance ?? 0n;
  if (balance < cost) throw new TxRejection('TX_INSUFFICIENT_FUNDS', `needs ${cost}, balance ${balance}`);
  if (account?.isContract() === true) throw new TxRejection('TX_SENDER_NOT_EOA', 'sender has code (EIP-3607)');
}

/** Whatever else the VM refuses (it reverts its own checkpoint) becomes a rejection, not a crash. */
async function runChecked(vm: VM, tx: TypedTransaction, block: Block, blockGasUsed: bigint): Promise<RunTxResult> {
  try {
    return await runTx(vm, { tx, block, blockGasUsed });
  } catch (e) {
    throw new TxRejection('TX_INVALID', firstLine(e));
  }
}

function toReceipt(tx: TypedTransaction, r: RunTxResult): TxReceipt {
  const receipt = r.receipt as { status?: 0 | 1; cumulativeBlockGasUsed: bigint; logs: TxReceipt['logs'] };
  return {
    txType: tx.type,
    status: receipt.status ?? 1,
    cumulativeGasUsed: receipt.cumulativeBlockGasUsed,
    gasUsed: r.totalGasSpent,
    contractAddress: r.createdAddress?.bytes,
    logs: receipt.logs,
  };
}
