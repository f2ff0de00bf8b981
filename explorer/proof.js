// Checks an EIP-1186 account proof (eth_getProof) against a state root, as a Merkle-Patricia trie
// walk: the first node must hash to the root, each next node to the reference its parent holds
// for the next nibbles of keccak(address), down to the account's leaf — or to proof that there is
// none (an empty branch slot, or a leaf or extension for another path). Every node is hashed here:
// nothing the node says about the account is taken without it.
import { keccak256 } from './hash.js';
import { bytesToBigInt, bytesToHex, equalBytes, hexToBytes } from './hex.js';
import { rlpDecode } from './rlp.js';

export const EMPTY_TRIE_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';
export const EMPTY_CODE_HASH = '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470';

function nibblesOf(bytes) {
  const out = [];
  for (const b of bytes) out.push(b >> 4, b & 15);
  return out;
}

/** A leaf's or extension's compact path: its nibbles and whether it is a leaf. */
function compactPath(bytes) {
  const n = nibblesOf(bytes);
  const flag = n[0];
  if (flag === undefined || flag > 3) throw new Error('a node with a malformed path');
  return { leaf: flag >= 2, nibbles: n.slice(flag % 2 === 1 ? 1 : 2) };
}

const startsWith = (a, at, b) => b.every((x, i) => a[at + i] === x);

/**
 * The value stored under `key` in the trie of root `root`, or null if the proof shows there is
 * none; throws an Error saying why when the proof proves neither.
 */
export function trieGet(root, key, proof) {
  const path = nibblesOf(key);
  let ref = root; // a 32-byte hash, or a node embedded in its parent (shorter than 32 bytes)
  let used = 0;
  let at = 0;
  for (;;) {
    let node;
    if (ref instanceof Uint8Array) {
      if (ref.length !== 32) throw new Error(`a reference of ${ref.length} bytes`);
      const raw = proof[used];
      if (raw === undefined) throw new Error(`the proof ends after ${used} nodes, before the path does`);
      if (!equalBytes(keccak256(raw), ref)) throw new Error(`proof node ${used} does not hash to ${used === 0 ? 'the state root' : 'the reference its parent holds'}`);
      used++;
      node = rlpDecode(raw);
    } else node = ref;
    if (!Array.isArray(node)) throw new Error('a node that is not a list');
    if (node.length === 17) {
      if (at === path.length) return node[16].length === 0 ? null : node[16];
      const child = node[path[at++]];
      if (child instanceof Uint8Array && child.length === 0) return null;
      ref = child;
    } else if (node.length === 2) {
      const p = compactPath(node[0]);
      if (p.leaf) return p.nibbles.length === path.length - at && startsWith(path, at, p.nibbles) ? node[1] : null;
      if (!startsWith(path, at, p.nibbles)) return null;
      at += p.nibbles.length;
      ref = node[1];
    } else throw new Error(`a node of ${node.length} items`);
  }
}

/**
 * Whether `proof` (eth_getProof's answer) proves its account under `stateRoot`. Returns
 * `{ ok, reasons, account }`: account is what the trie holds (null: no account), and every field
 * of the answer is compared with it.
 */
export function verifyAccountProof(proof, stateRoot) {
  const reasons = [];
  let value;
  try {
    value = trieGet(hexToBytes(stateRoot), keccak256(hexToBytes(proof.address)), proof.accountProof.map(hexToBytes));
  } catch (err) {
    return { ok: false, reasons: [`the account proof does not check against the state root: ${err.message}`], account: null };
  }
  let account = null;
  if (value !== null) {
    const fields = rlpDecode(value);
    if (!Array.isArray(fields) || fields.length !== 4) return { ok: false, reasons: ['the proved leaf is not an account'], account: null };
    account = { nonce: bytesToBigInt(fields[0]), balance: bytesToBigInt(fields[1]), storageHash: bytesToHex(fields[2]), codeHash: bytesToHex(fields[3]) };
  }
  const held = account ?? { nonce: 0n, balance: 0n, storageHash: EMPTY_TRIE_ROOT, codeHash: EMPTY_CODE_HASH };
  if (BigInt(proof.balance) !== held.balance) reasons.push(`the balance answered (${BigInt(proof.balance)}) is not the proved one (${held.balance})`);
  if (BigInt(proof.nonce) !== held.nonce) reasons.push(`the nonce answered (${BigInt(proof.nonce)}) is not the proved one (${held.nonce})`);
  if (proof.codeHash.toLowerCase() !== held.codeHash) reasons.push('the code hash answered is not the proved one');
  if (proof.storageHash.toLowerCase() !== held.storageHash) reasons.push('the storage root answered is not the proved one');
  return { ok: reasons.length === 0, reasons, account };
}
