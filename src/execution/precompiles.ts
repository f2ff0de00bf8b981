/**
 * The one way the node creates a VM, so every VM (executor, reads, conformance) gets the same
 * set-up: our Common (native crypto and KZG) over the given state and chain.
 */
import type { Common } from '@ethereumjs/common';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import { createVM, type VM } from '@ethereumjs/vm';

export async function createNodeVm(common: Common, stateManager: MerkleStateManager, blockchain: unknown): Promise<VM> {
  return createVM({ common, stateManager, blockchain: blockchain as never });
}
