/**
 * KZG commitments (EIP-4844) for the point-evaluation precompile at 0x0a. Without it ethereumjs
 * throws from inside the precompile and the whole transaction would be dropped instead of executed,
 * so the executor loads it at start-up. `kzg-wasm` is c-kzg-4844 compiled to WebAssembly with the
 * ceremony's trusted setup built in; it matches ethereumjs' `KZG` interface.
 */
import type { KZG } from '@ethereumjs/util';
import { loadKZG } from 'kzg-wasm';
import { BulwarkError } from '../common/errors.ts';

let loaded: Promise<KZG> | undefined;
let instance: KZG | undefined;

export async function initKzg(): Promise<KZG> {
  loaded ??= loadKZG(0).then((k) => {
    instance = k as unknown as KZG;
    return instance;
  });
  return loaded;
}

export function kzg(): KZG {
  if (instance === undefined) throw new BulwarkError('CRYPTO_NOT_INITIALISED', 'kzg used before initKzg() resolved');
  return instance;
}
