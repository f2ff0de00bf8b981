/**
 * Precompile set-up for every VM the node creates.
 *
 * The point-evaluation precompile (0x0a, EIP-4844) needs a KZG library whose trusted setup takes
 * seconds to load. Rather than make every process pay that at start-up, 0x0a is wrapped: the first
 * call loads KZG (once per process), then runs ethereumjs' own precompile. Without KZG at all,
 * ethereumjs throws from inside the precompile and the transaction would be dropped instead of executed.
 */
import type { Common } from '@ethereumjs/common';
import { getActivePrecompiles, type CustomPrecompile, type PrecompileInput } from '@ethereumjs/evm';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import { createAddressFromString } from '@ethereumjs/util';
import { createVM, type VM } from '@ethereumjs/vm';
import { BulwarkError } from '../common/errors.ts';
import { initKzg } from '../crypto/kzg.ts';

const POINT_EVALUATION = '000000000000000000000000000000000000000a';

export function customPrecompiles(common: Common): CustomPrecompile[] {
  const original = getActivePrecompiles(common).get(POINT_EVALUATION);
  if (original === undefined) {
    throw new BulwarkError('EXEC_NO_PRECOMPILE', `hardfork ${common.hardfork()} has no point-evaluation precompile`);
  }
  return [
    {
      address: createAddressFromString(`0x${POINT_EVALUATION}`),
      function: async (input: PrecompileInput) => {
        input.common.customCrypto.kzg ??= await initKzg();
        return original(input);
      },
    },
  ];
}

/** The one way the node creates a VM: our precompile set-up, over the given state and chain. */
export async function createNodeVm(common: Common, stateManager: MerkleStateManager, blockchain: unknown): Promise<VM> {
  return createVM({
    common,
    stateManager,
    blockchain: blockchain as never,
    evmOpts: { customPrecompiles: customPrecompiles(common) },
  });
}
