/**
 * The one way the node creates a VM, so every VM (executor, reads, conformance) gets the same
 * set-up: our Common (native crypto and KZG) over the given state and chain. Reads that callers
 * can start pass `customOpcodes` (`EvmPreemption.opcodes`); block execution passes nothing.
 */
import type { Common } from '@ethereumjs/common';
import type { EVMOpts } from '@ethereumjs/evm';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import { createVM, type VM } from '@ethereumjs/vm';
// Jump-destination analysis once per contract code, not per call (see the module).
import './jump-analysis.ts';

export async function createNodeVm(
  common: Common,
  stateManager: MerkleStateManager,
  blockchain: unknown,
  customOpcodes?: EVMOpts['customOpcodes'],
): Promise<VM> {
  return createVM({ common, stateManager, blockchain: blockchain as never, ...(customOpcodes === undefined ? {} : { evmOpts: { customOpcodes } }) });
}
