/**
 * Builds ethereumjs' `Common` for a chain: Cancun rules on our chain id, with our native crypto.
 * Keccak from hash-wasm and native ecrecover make the VM several times faster than its pure-JS
 * defaults; sha256 from node:crypto serves the precompile.
 */
import { Common, Mainnet, createCustomCommon, type CustomCrypto } from '@ethereumjs/common';
import { keccak256, sha256 } from '../crypto/hash.ts';
import { ecrecover } from '../crypto/secp256k1.ts';

export function nativeCrypto(): CustomCrypto {
  return { keccak256, sha256, ecrecover };
}

export function buildCommon(chainId: bigint, hardfork = 'cancun'): Common {
  return createCustomCommon(
    { chainId: Number(chainId), name: `bulwark-${chainId}` },
    Mainnet,
    { hardfork, customCrypto: nativeCrypto() },
  );
}
