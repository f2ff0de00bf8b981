/**
 * Builds ethereumjs' `Common` for a chain: Cancun rules on our chain id, with our native crypto.
 * Keccak from hash-wasm and native ecrecover make the VM several times faster than its pure-JS
 * defaults; sha256 from node:crypto serves the precompile.
 */
import { Common, Mainnet, createCustomCommon, type CustomCrypto, type ParamsDict } from '@ethereumjs/common';
import { paramsBlock } from '@ethereumjs/block';
import { paramsTx } from '@ethereumjs/tx';
import { keccak256, sha256 } from '../crypto/hash.ts';
import { ecrecover } from '../crypto/secp256k1.ts';
import { kzg } from '../crypto/kzg.ts';
// Every transaction's sender from the native Keccak, once per transaction (see the module).
import './tx-sender.ts';

export function nativeCrypto(): CustomCrypto {
  return { keccak256, sha256, ecrecover, kzg: kzg() };
}

export function buildCommon(chainId: bigint, hardfork = 'cancun'): Common {
  const common = createCustomCommon(
    { chainId: Number(chainId), name: `bulwark-${chainId}` },
    Mainnet,
    { hardfork, customCrypto: nativeCrypto() },
  );
  // Every transaction copies Common and merges its parameters into the copy (a deep JSON copy and a
  // rebuild of the parameter cache, ~40 µs, a tenth of a transfer's cost); every block header does
  // the same with the block's. They are merged here once; decoders pass `TX_OPTIONS_PARAMS`
  // (empty), and merging nothing skips the rebuild. Own properties carry over to `copy()`, so every
  // copy behaves the same. (Block decoding passes its options on to each transaction: without it,
  // the client node's mirror spent 11 % of its CPU time here, measured by a CPU profile under the soak.)
  common.updateParams(paramsBlock);
  common.updateParams(paramsTx);
  const merge = Common.prototype.updateParams;
  common.updateParams = function (this: Common, params: ParamsDict) {
    return Object.keys(params).length === 0 ? this : merge.call(this, params);
  };
  return common;
}

/** Pass as `params` when decoding transactions, headers or blocks with a Common from `buildCommon`. */
export const TX_OPTIONS_PARAMS = Object.freeze({});
