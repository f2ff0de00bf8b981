/**
 * Builds ethereumjs' `Common` for a chain: Cancun rules on our chain id, with our native crypto.
 * Keccak from hash-wasm and native ecrecover make the VM several times faster than its pure-JS
 * defaults; sha256 from node:crypto serves the precompile.
 */
import { Mainnet, createCustomCommon, type Common, type CustomCrypto } from '@ethereumjs/common';
import { paramsTx } from '@ethereumjs/tx';
import { keccak256, sha256 } from '../crypto/hash.ts';
import { ecrecover } from '../crypto/secp256k1.ts';

export function nativeCrypto(): CustomCrypto {
  return { keccak256, sha256, ecrecover };
}

export function buildCommon(chainId: bigint, hardfork = 'cancun'): Common {
  const common = createCustomCommon(
    { chainId: Number(chainId), name: `bulwark-${chainId}` },
    Mainnet,
    { hardfork, customCrypto: nativeCrypto() },
  );
  // Transactions merge their parameters into a copy of Common on every construction (a deep JSON
  // copy, ~30 µs each); merged here once, decoders pass `TX_OPTIONS_PARAMS` to skip that.
  common.updateParams(paramsTx);
  return common;
}

/** Pass as `params` when decoding transactions with a Common from `buildCommon`. */
export const TX_OPTIONS_PARAMS = Object.freeze({});
