// Keccak-256 in the browser: @noble/hashes' audited implementation, served by the node from its
// node_modules as the package ships it (explorer-site.ts).
import { keccak_256 } from '/vendor/noble-hashes/sha3.js';

export function keccak256(bytes) {
  return keccak_256(bytes);
}
