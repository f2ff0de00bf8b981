/**
 * The method table of the specification conformance tests (`test/unit/rpc-spec-*.test.ts`): every
 * method of the execution-apis `eth`, `debug` and `txpool` groups by its yaml file, as types, so a
 * test file's table (`SpecTable<'eth/state.yaml'>`) that leaves a method out does not compile, and
 * `rpc-spec.test.ts` checks this list against the yaml files themselves.
 *
 * Each method's test is either `served` — it must get at least one answer, every answer validated
 * against the method's result schema (and what it sent against the parameter schemas), and check
 * at least one error case — or `refused` with the reason this chain cannot serve it, and must then
 * see that refusal.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { RpcError } from '../../src/rpc/errors.ts';
import { startRpcContext, type RpcContext } from './rpc-context.ts';
import { SpecValidator } from './spec.ts';

export const SPEC_FILES = {
  'eth/block.yaml': ['eth_getBlockByHash', 'eth_getBlockByNumber', 'eth_getBlockTransactionCountByHash', 'eth_getBlockTransactionCountByNumber', 'eth_getBlockReceipts', 'eth_getBlockAccessList'],
  'eth/capabilities.yaml': ['eth_capabilities'],
  'eth/client.yaml': ['eth_chainId', 'eth_syncing', 'eth_coinbase', 'eth_accounts', 'eth_blockNumber', 'eth_config', 'net_version'],
  'eth/execute.yaml': ['eth_call', 'eth_estimateGas', 'eth_createAccessList', 'eth_simulateV1'],
  'eth/fee_market.yaml': ['eth_gasPrice', 'eth_baseFee', 'eth_blobBaseFee', 'eth_maxPriorityFeePerGas', 'eth_feeHistory'],
  'eth/fill.yaml': ['eth_fillTransaction'],
  'eth/filter.yaml': ['eth_newFilter', 'eth_newBlockFilter', 'eth_newPendingTransactionFilter', 'eth_uninstallFilter', 'eth_getFilterChanges', 'eth_getFilterLogs', 'eth_getLogs'],
  'eth/sign.yaml': ['eth_sign', 'eth_signTransaction'],
  'eth/state.yaml': ['eth_getBalance', 'eth_getStorageAt', 'eth_getStorageValues', 'eth_getTransactionCount', 'eth_getCode', 'eth_getProof'],
  'eth/submit.yaml': ['eth_sendTransaction', 'eth_sendRawTransaction'],
  'eth/transaction.yaml': ['eth_getTransactionByHash', 'eth_getTransactionByBlockHashAndIndex', 'eth_getTransactionByBlockNumberAndIndex', 'eth_getTransactionReceipt'],
  'debug/getters.yaml': ['debug_getRawHeader', 'debug_getRawBlock', 'debug_getRawTransaction', 'debug_getRawReceipts', 'debug_getRawBlockAccessList', 'debug_getBadBlocks'],
  'debug/trace.yaml': ['debug_traceBlockByNumber', 'debug_traceBlockByHash', 'debug_traceTransaction'],
  'txpool/pool.yaml': ['txpool_status', 'txpool_content', 'txpool_contentFrom'],
} as const;

export type SpecFile = keyof typeof SPEC_FILES;
/** Every method of the specification's eth, debug and txpool groups (57). */
export type SpecMethodName = (typeof SPEC_FILES)[SpecFile][number];

/** What a method's test can do: call it and have its answer checked, or see it refused. */
export interface SpecRun {
  readonly ctx: RpcContext;
  readonly spec: SpecValidator;
  /** Calls the method with spec-conforming `params`; the answer must match the result schema. */
  answer<T = unknown>(params: readonly unknown[]): Promise<T>;
  /** Asserts the call (any params, conforming or not) fails with `code` and a message matching `message`. */
  error(params: readonly unknown[], code: number, message: RegExp): Promise<RpcError>;
}

export type SpecTest =
  | { readonly served: (t: SpecRun) => Promise<void> }
  | {
      /** Why this chain cannot serve the method (the README's API table says the same). */
      readonly refused: string;
      readonly check: (t: SpecRun) => Promise<void>;
    };

export type SpecTable<F extends SpecFile> = { readonly [M in (typeof SPEC_FILES)[F][number]]: SpecTest };

/** Registers one test per method of `file`, on one in-process RPC context. */
export function runSpecTable<F extends SpecFile>(file: F, table: SpecTable<F>): void {
  describe(`execution-apis ${file}`, () => {
    let ctx: RpcContext;
    const spec = new SpecValidator();
    before(async () => {
      ctx = await startRpcContext();
    });
    for (const [name, t] of Object.entries(table) as [SpecMethodName, SpecTest][]) {
      test(`${name}: ${'served' in t ? 'answers as the specification says' : `refused: ${t.refused}`}`, async () => {
        let answers = 0;
        let errors = 0;
        const run: SpecRun = {
          ctx,
          spec,
          async answer<T>(params: readonly unknown[]) {
            spec.assertParams(name, params);
            const result = await ctx.call(name, params);
            spec.assertResult(name, result);
            answers++;
            return result as T;
          },
          async error(params, code, message) {
            const e = await ctx.rejects(name, params, code, message);
            errors++;
            return e;
          },
        };
        if ('served' in t) {
          await t.served(run);
          assert.ok(answers > 0, `${name}: a served method's test must validate at least one answer`);
          assert.ok(errors > 0, `${name}: a served method's test must check at least one error case`);
        } else {
          await t.check(run);
          assert.ok(errors > 0, `${name}: a refused method's test must see the refusal`);
        }
      });
    }
  });
}
