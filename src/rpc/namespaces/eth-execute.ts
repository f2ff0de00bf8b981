/**
 * `eth_createAccessList` and `eth_simulateV1`: EVM work on the client node's own executed state
 * (`execution/access-list.ts`, `execution/simulate.ts`), like tracing, and through the node's EVM
 * gate like eth_call (`evm-gate.ts`): gas capped, a deadline from arrival, so many at once.
 * Without local state (`--no-local-state`, or once it diverged) they say they need it.
 *
 * `eth_simulateV1` serves the specification's common subset: blocks of calls with block and state
 * overrides, `validation: false`, `traceTransfers: false`; the rest is refused by name (-32602).
 */
import { createAddressFromString } from '@ethereumjs/util';
import { isBulwarkError } from '../../common/errors.ts';
import { hexToBytes } from '../../crypto/hex.ts';
import { createAccessList } from '../../execution/access-list.ts';
import type { BlockTag, ChainSource } from '../../execution/reader.ts';
import { unpackRevert } from '../../execution/trace/index.ts';
import {
  MAX_SIMULATED_BLOCKS,
  SimulationError,
  simulateBlocks,
  type AccountOverride,
  type BlockOverrides,
  type BlockStateCall,
  type SimulatedBlock,
} from '../../execution/simulate.ts';
import { RPC_CODES, RpcError, invalidParams } from '../errors.ts';
import { EvmGate } from '../evm-gate.ts';
import { formatBlock, hexD, hexQ, txHash } from '../format.ts';
import { method, type MethodDef } from '../method.ts';
import { address, blockRef, bool, data, quantity, storageKey, type BlockRef, type Param } from '../params.ts';
import { callRequestOf, txArgs } from '../tx-args.ts';

export interface EthExecuteBackend {
  /** The node's executed state, or undefined while it has none. */
  source(): ChainSource | undefined;
  readonly evm?: EvmGate;
}

/** The EVM's failure words as go-ethereum says them. */
const vmError = (e: string) => (e === 'revert' ? 'execution reverted' : e);

export function ethExecuteMethods(b: EthExecuteBackend): Map<string, MethodDef> {
  const evm = b.evm ?? new EvmGate();
  const source = (): ChainSource => {
    const s = b.source();
    if (s === undefined) throw new RpcError(RPC_CODES.server, "this method needs this node's local state (its own executed copy of the chain), which it does not have");
    return s;
  };
  return new Map<string, MethodDef>([
    [
      'eth_createAccessList',
      method([txArgs], [blockRef], ([args, ref]) =>
        evm.run(async (budget) => {
          const r = await answer(() => createAccessList(source(), callRequestOf(args), tagOf(ref), budget));
          return { accessList: r.accessList, gasUsed: hexQ(r.gasUsed), ...(r.error === undefined ? {} : { error: r.error }) };
        }),
      ),
    ],
    [
      'eth_simulateV1',
      method([simulatePayload], [blockRef], ([payload, ref]) =>
        evm.run(async (budget) => {
          const blocks = await answer(() => simulateBlocks(source(), payload.blocks, tagOf(ref), budget));
          return blocks.map((sim) => formatSimulated(sim, payload.fullTransactions));
        }),
      ),
    ],
  ]);
}

/** Every block here is final: the tags other than earliest name the head. */
function tagOf(ref: BlockRef | undefined): BlockTag {
  if (ref === undefined || 'tag' in ref) return ref?.tag === 'earliest' ? 0n : 'latest';
  return 'hash' in ref ? hexToBytes(ref.hash) : ref.number;
}

/** What cannot run becomes an RPC error: go-ethereum's words for an unknown block, the simulation's own codes. */
async function answer<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof SimulationError) throw new RpcError(err.rpcCode, err.message);
    if (isBulwarkError(err, 'READ_UNKNOWN_BLOCK')) throw new RpcError(RPC_CODES.server, 'header not found');
    if (isBulwarkError(err, 'READ_CALL_INVALID')) throw new RpcError(RPC_CODES.server, err.message);
    throw err;
  }
}

function formatSimulated(sim: SimulatedBlock, full: boolean): Record<string, unknown> {
  const { block } = sim;
  const json = formatBlock(block, full);
  let logIndex = 0;
  const calls = sim.calls.map((c, i) => {
    const tx = block.transactions[i]!;
    const base = { returnData: hexD(c.returnData), gasUsed: hexQ(c.gasUsed) };
    if (!c.success) {
      const reason = c.error === 'revert' ? unpackRevert(c.returnData) : undefined;
      const error = c.error === 'revert'
        ? { code: RPC_CODES.revert, message: reason === undefined ? 'execution reverted' : `execution reverted: ${reason}`, data: hexD(c.returnData) }
        : { code: -32015, message: `vm execution error: ${vmError(c.error ?? 'unknown')}` };
      return { status: '0x0', ...base, error };
    }
    const logs = c.logs.map(([a, topics, d]) => ({
      address: hexD(a),
      topics: topics.map(hexD),
      data: hexD(d),
      blockNumber: hexQ(block.header.number),
      blockHash: hexD(block.hash()),
      blockTimestamp: hexQ(block.header.timestamp),
      transactionHash: hexD(txHash(tx)),
      transactionIndex: hexQ(i),
      logIndex: hexQ(logIndex++),
      removed: false,
    }));
    return { status: '0x1', ...base, logs };
  });
  return { ...json, calls };
}

// -------------------------------------------------------------------------------------------------
// The payload
// -------------------------------------------------------------------------------------------------

interface SimulatePayload {
  readonly blocks: BlockStateCall[];
  readonly fullTransactions: boolean;
}

const object = (v: unknown, i: number, what: string): Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidParams(i, `${what} must be an object`);
  return v as Record<string, unknown>;
};
const present = (x: unknown) => x !== undefined && x !== null;

const simulatePayload: Param<SimulatePayload> = (v, i) => {
  const o = object(v, i, 'the simulation payload');
  if (o.validation === true) throw invalidParams(i, 'validation: true is not supported by this node (it simulates as eth_call does)');
  if (o.traceTransfers === true) throw invalidParams(i, 'traceTransfers: true is not supported by this node');
  if (!Array.isArray(o.blockStateCalls)) throw invalidParams(i, 'blockStateCalls must be an array');
  if (o.blockStateCalls.length === 0) throw invalidParams(i, 'empty input');
  if (o.blockStateCalls.length > MAX_SIMULATED_BLOCKS) throw new RpcError(-38026, `too many blocks: at most ${MAX_SIMULATED_BLOCKS}`);
  return {
    blocks: o.blockStateCalls.map((b: unknown) => blockStateCall(b, i)),
    fullTransactions: present(o.returnFullTransactions) ? bool(o.returnFullTransactions, i) : false,
  };
};

function blockStateCall(v: unknown, i: number): BlockStateCall {
  const o = object(v, i, 'a block state call');
  const calls = present(o.calls) ? o.calls : [];
  if (!Array.isArray(calls)) throw invalidParams(i, 'calls must be an array');
  return {
    blockOverrides: present(o.blockOverrides) ? blockOverrides(o.blockOverrides, i) : {},
    stateOverrides: present(o.stateOverrides) ? stateOverrides(o.stateOverrides, i) : [],
    calls: calls.map((c) => callRequestOf(txArgs(c, i))),
  };
}

function blockOverrides(v: unknown, i: number): BlockOverrides {
  const o = object(v, i, 'blockOverrides');
  if (Array.isArray(o.withdrawals) && o.withdrawals.length > 0) throw invalidParams(i, 'blockOverrides.withdrawals: this chain has no withdrawals');
  if (present(o.blobBaseFee)) throw invalidParams(i, 'blockOverrides.blobBaseFee: this chain carries no blobs');
  const q = (k: string) => (present(o[k]) ? quantity(o[k], i) : undefined);
  const out: { -readonly [K in keyof BlockOverrides]: BlockOverrides[K] } = {};
  for (const k of ['number', 'time', 'gasLimit', 'baseFeePerGas'] as const) {
    const n = q(k);
    if (n !== undefined) out[k] = n;
  }
  if (present(o.feeRecipient)) out.feeRecipient = createAddressFromString(address(o.feeRecipient, i));
  if (present(o.prevRandao)) out.prevRandao = storageKey(o.prevRandao, i);
  return out;
}

function stateOverrides(v: unknown, i: number): [ReturnType<typeof createAddressFromString>, AccountOverride][] {
  return Object.entries(object(v, i, 'stateOverrides')).map(([a, ov]) => {
    const o = object(ov, i, `the override of ${a}`);
    if (present(o.movePrecompileToAddress)) throw invalidParams(i, 'movePrecompileToAddress is not supported by this node');
    if (present(o.state) && present(o.stateDiff)) throw invalidParams(i, `account ${a} has both 'state' and 'stateDiff'`);
    const slots = (s: unknown) => new Map(Object.entries(object(s, i, 'storage')).map(([k, x]) => [hexD(storageKey(k, i)), storageKey(x, i)] as const));
    const out: { -readonly [K in keyof AccountOverride]: AccountOverride[K] } = {};
    if (present(o.balance)) out.balance = quantity(o.balance, i);
    if (present(o.nonce)) out.nonce = quantity(o.nonce, i);
    if (present(o.code)) out.code = data()(o.code, i);
    if (present(o.state)) out.state = slots(o.state);
    if (present(o.stateDiff)) out.stateDiff = slots(o.stateDiff);
    return [createAddressFromString(address(a, i)), out];
  });
}
