/**
 * Check 3 of `verify-ledger`: the head's state root node is stored (the genesis root on a client
 * node's mirror); with `state: true`, every account and storage trie node and every contract's
 * code reachable from it, each checked against its hash.
 */
import { KECCAK256_RLP } from '@ethereumjs/util';
import { equalBytes, toHex } from '../common/bytes.ts';
import { keccak256 } from '../crypto/index.ts';
import { stateItemKey, trieRefs, type TrieRefs } from '../execution/trie-walk.ts';
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

/** A stored trie node, checked against its hash (its key). */
async function stateNode(c: Checker, hash: Uint8Array, where: string): Promise<Uint8Array> {
  const node = await c.kv.get(stateItemKey(false, hash));
  if (node === undefined) fail('state-node', where, 'trie node is missing from the store', toHex(hash), 'none');
  const actual = keccak256(node);
  if (!equalBytes(actual, hash)) fail('state-node', where, 'trie node does not hash to its key', toHex(hash), toHex(actual));
  c.counts.stateNodes++;
  return node;
}

/**
 * Every node reachable from `root`: account trie, each account's storage trie, each contract's
 * code (`execution/trie-walk.ts` reads what a node refers to). Nodes are content-addressed and
 * shared between tries and blocks, so each is read once.
 */
async function walkState(c: Checker, root: Uint8Array, where: string): Promise<void> {
  const seen = new Set<string>();
  const stack: { hash: Uint8Array; account: boolean; where: string }[] = [];
  const push = (hash: Uint8Array, account: boolean, at: string) => {
    const key = toHex(hash);
    if (seen.has(key)) return;
    seen.add(key);
    stack.push({ hash, account, where: at });
  };
  if (!equalBytes(root, KECCAK256_RLP)) push(root, true, where);
  while (stack.length > 0) {
    const { hash, account, where: at } = stack.pop()!;
    const encoded = await stateNode(c, hash, `${at}: node ${toHex(hash)}`);
    let refs: TrieRefs;
    try {
      refs = trieRefs(encoded, account);
    } catch (e) {
      return fail('state-node', at, (e as Error).message);
    }
    for (const h of refs.nodes) push(h, account, at);
    for (const h of refs.storageRoots) push(h, false, `storage trie ${toHex(h)}`);
    for (const h of refs.codeHashes) await checkCode(c, h);
  }
}

async function checkCode(c: Checker, codeHash: Uint8Array): Promise<void> {
  const code = await c.kv.get(stateItemKey(true, codeHash));
  if (code === undefined) fail('code', `code ${toHex(codeHash)}`, 'contract code is missing from the store');
  const actual = keccak256(code);
  if (!equalBytes(actual, codeHash)) fail('code', `code ${toHex(codeHash)}`, 'contract code does not hash to its key', toHex(codeHash), toHex(actual));
  c.counts.codes++;
}
