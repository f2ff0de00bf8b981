/**
 * `eth_createAccessList`: the EIP-2930 access list a message would use, found as go-ethereum finds
 * it. The message runs on top of a block as `eth_call` runs it (no nonce or balance checks, the
 * block's header as environment, gas as asked up to the cap), with the EVM reporting every address
 * and slot it warmed (ethereumjs' `reportAccessList`, the journal's record of EIP-2929 accesses).
 * The list found is put in the message and the message run again, until the list no longer
 * changes: declaring an access list changes gas, and gas can change the path the code takes.
 *
 * As go-ethereum's access-list tracer: the sender, the recipient (or the created contract) and the
 * precompiles are warm anyway and are left out, unless slots of theirs were touched (then the
 * address comes with those slots). Addresses and keys are sorted, so the answer is deterministic.
 *
 * Each run is rolled back; the whole search runs under one budget (gas cap, deadline), preempted
 * from inside the interpreter as calls are (`evm-limits.ts`).
 */
import { assertStateKept } from './state-from.ts';
import { runTx } from '@ethereumjs/vm';
import { createAddressFromBigInt, createContractAddress } from '@ethereumjs/util';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import { EvmPreemption, budgetOf, cappedGas, type EvmBudget } from './evm-limits.ts';
import { createNodeVm } from './precompiles.ts';
import { ChainReader, unsignedTx, type AccessListJson, type BlockTag, type CallRequest, type ChainSource } from './reader.ts';
import { firstLine } from './validation.ts';

export interface AccessListResult {
  readonly accessList: AccessListJson;
  /** Gas the message used with the access list declared. */
  readonly gasUsed: bigint;
  /** Why the message failed with it (go-ethereum's words: `execution reverted`, `out of gas`, …), if it did. */
  readonly error: string | undefined;
}

/** Runs before giving up on a list that keeps changing (go-ethereum has no bound but the timeout; lists converge in two or three). */
const MAX_ROUNDS = 16;

const ZERO_ADDRESS = createAddressFromBigInt(0n);

export async function createAccessList(source: ChainSource, req: CallRequest, tag: BlockTag, budget: EvmBudget = budgetOf()): Promise<AccessListResult> {
  const block = await new ChainReader(source).block(tag);
  assertStateKept(source, block.header.number);
  const common = source.common.copy();
  const state = source.stateAt(block.header.stateRoot, true);
  const preemption = new EvmPreemption();
  const vm = await createNodeVm(common, state, source.blockHashes, preemption.opcodes(common));
  const from = req.from ?? ZERO_ADDRESS;
  const nonce = (await state.getAccount(from))?.nonce ?? 0n;
  const to = req.to ?? createContractAddress(from, nonce);
  const warmAnyway = new Set([from.toString(), to.toString(), ...[...vm.evm.precompiles.keys()].map((a) => `0x${a}`)]);
  const gasLimit = cappedGas(req.gas, block.header.gasLimit, budget.gasCap);
  const baseFee = block.header.baseFeePerGas ?? 0n;

  const runWith = async (list: AccessListJson) => {
    await state.checkpoint();
    try {
      const tx = unsignedTx(source, { ...req, accessList: list }, nonce, gasLimit, baseFee);
      tx.getSenderAddress = () => from;
      return await runTx(vm, { tx, block, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true, reportAccessList: true });
    } catch (e) {
      if (isBulwarkError(e)) throw e;
      throw new BulwarkError('READ_CALL_INVALID', firstLine(e));
    } finally {
      // An aborted run left the EVM's own checkpoints open above ours: nothing runs on it again.
      if (!preemption.aborted) await state.revert();
    }
  };

  return preemption.run(budget.deadline, async () => {
    let list = normalize(req.accessList ?? [], warmAnyway);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const r = await runWith(list);
      const found = normalize(r.accessList ?? [], warmAnyway);
      if (sameList(found, list)) {
        const err = r.execResult.exceptionError?.error;
        return { accessList: found, gasUsed: r.totalGasSpent, error: err === undefined ? undefined : err === 'revert' ? 'execution reverted' : err };
      }
      list = found;
    }
    throw new BulwarkError('READ_CALL_INVALID', `the access list did not settle within ${MAX_ROUNDS} runs`);
  });
}

/** Lower-case 0x addresses and 32-byte keys, sorted; addresses warm anyway only with slots. */
function normalize(list: AccessListJson, warmAnyway: ReadonlySet<string>): AccessListJson {
  const byAddress = new Map<string, Set<string>>();
  for (const { address, storageKeys } of list) {
    const a = `0x${address.replace(/^0x/i, '').toLowerCase().padStart(40, '0')}`;
    const keys = byAddress.get(a) ?? new Set<string>();
    for (const k of storageKeys) keys.add(`0x${k.replace(/^0x/i, '').toLowerCase().padStart(64, '0')}`);
    byAddress.set(a, keys);
  }
  return [...byAddress]
    .filter(([a, keys]) => keys.size > 0 || !warmAnyway.has(a))
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([address, keys]) => ({ address, storageKeys: [...keys].sort() }));
}

function sameList(x: AccessListJson, y: AccessListJson): boolean {
  return JSON.stringify(x) === JSON.stringify(y);
}
