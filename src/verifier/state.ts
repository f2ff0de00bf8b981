/**
 * Check 3 of `verify-ledger`: the head's state root node is stored (the genesis root on a client
 * node's mirror); with `state: true`, every account and storage trie node and every contract's
 * code reachable from it, each checked against its hash.
 */
import { RLP } from '@ethereumjs/rlp';
import { KECCAK256_NULL, KECCAK256_RLP } from '@ethereumjs/util';
import { equalBytes, toHex } from '../common/bytes.ts';
import { keccak256 } from '../crypto/index.ts';
import { PREFIX } from '../storage/index.ts';
import type { CheckedBlock, Checker } from './checker.ts';
import { fail, readOrFail } from './problems.ts';
import { readStateFrom } from '../execution/state-from.ts';

// ---- 3. state ----------------------------------------------------------------------------------

export async function checkHeadState(c: Checker, head: CheckedBlock): Promise<void> {
  // A client node's mirror keeps blocks only: the one state it holds is genesis's.
  const header = c.ctx.role === 'replica' ? head.header : (await c.blocks.headerByNumber(0n))!;
  // A pruned store (`execution/prune.ts`) holds the states of blocks from "state-from" on: the
  // head's must be among them; the older ones are counted as skipped, not looked for.
  const stateFrom = await readOrFail('state-node', 'meta "state-from"', () => readStateFrom(c.kv));
  if (stateFrom > header.number) fail('state-node', 'meta "state-from"', `says the state of block ${header.number} is pruned, yet it is the one whose state must be kept`, `≤ ${header.number}`, String(stateFrom));
  c.counts.statesPruned = Number(stateFrom);
  const root = header.stateRoot;
  const where = `state root ${toHex(root)} of block ${header.number}`;
  if (!c.ctx.state) {
    if (equalBytes(root, KECCAK256_RLP)) return;
    await stateNode(c, root, where);
    return;
  }
  await walkState(c, root, where);
}

async function stateNode(c: Checker, hash: Uint8Array, where: string): Promise<unknown[]> {
  const node = await c.kv.get(Uint8Array.of(PREFIX.stateTrie, ...hash));
  if (node === undefined) fail('state-node', where, 'trie node is missing from the store', toHex(hash), 'none');
  const actual = keccak256(node);
  if (!equalBytes(actual, hash)) fail('state-node', where, 'trie node does not hash to its key', toHex(hash), toHex(actual));
  c.counts.stateNodes++;
  try {
    return RLP.decode(node) as unknown[];
  } catch {
    return fail('state-node', where, 'trie node does not decode');
  }
}

/**
 * Every node reachable from `root`: account trie, each account's storage trie, each contract's
 * code. Nodes are content-addressed and shared between tries and blocks, so each is read once.
 */
async function walkState(c: Checker, root: Uint8Array, where: string): Promise<void> {
  const seen = new Set<string>();
  const stack: { ref: Uint8Array | unknown[]; account: boolean; where: string }[] = [];
  const push = (ref: unknown, account: boolean, at: string) => {
    if (ref instanceof Uint8Array && ref.length === 0) return;
    if (ref instanceof Uint8Array && ref.length !== 32) fail('state-node', at, 'child reference is neither a hash nor an embedded node');
    if (ref instanceof Uint8Array) {
      const key = toHex(ref);
      if (seen.has(key)) return;
      seen.add(key);
    }
    stack.push({ ref: ref as Uint8Array | unknown[], account, where: at });
  };
  if (!equalBytes(root, KECCAK256_RLP)) push(root, true, where);
  while (stack.length > 0) {
    const { ref, account, where: at } = stack.pop()!;
    const node = ref instanceof Uint8Array ? await stateNode(c, ref, `${at}: node ${toHex(ref)}`) : ref;
    const values: unknown[] = [];
    if (node.length === 17) {
      for (let i = 0; i < 16; i++) push(node[i], account, at);
      if (node[16] instanceof Uint8Array && node[16].length > 0) values.push(node[16]);
    } else if (node.length === 2 && node[0] instanceof Uint8Array) {
      const leaf = (node[0][0] ?? 0) >> 4 >= 2;
      if (leaf) values.push(node[1]);
      else push(node[1], account, at);
    } else fail('state-node', at, 'trie node is neither a branch, an extension nor a leaf');
    if (account) for (const v of values) await accountValue(c, v, at, push);
  }
}

async function accountValue(c: Checker, value: unknown, at: string, push: (ref: unknown, account: boolean, at: string) => void): Promise<void> {
  let fields: Uint8Array[];
  try {
    fields = RLP.decode(value as Uint8Array) as Uint8Array[];
  } catch {
    return fail('state-node', at, 'an account does not decode');
  }
  const [, , storageRoot, codeHash] = fields;
  if (!(storageRoot instanceof Uint8Array) || !(codeHash instanceof Uint8Array)) fail('state-node', at, 'an account is not [nonce, balance, storageRoot, codeHash]');
  if (!equalBytes(storageRoot, KECCAK256_RLP)) push(storageRoot, false, `storage trie ${toHex(storageRoot)}`);
  if (equalBytes(codeHash, KECCAK256_NULL)) return;
  const code = await c.kv.get(Uint8Array.of(PREFIX.stateTrie, 0x63 /* 'c' */, ...codeHash));
  if (code === undefined) fail('code', `code ${toHex(codeHash)}`, 'contract code is missing from the store');
  const actual = keccak256(code);
  if (!equalBytes(actual, codeHash)) fail('code', `code ${toHex(codeHash)}`, 'contract code does not hash to its key', toHex(codeHash), toHex(actual));
  c.counts.codes++;
}
