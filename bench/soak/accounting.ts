/**
 * The soak's final accounting, once the load has stopped and the chain has drained: the chain
 * must hold exactly what the node acknowledged.
 *
 * - Every accepted transaction has a receipt (lost = accepted without one). Transactions whose
 *   send went unanswered (`uncertain`) count as accepted if they have a receipt.
 * - Each sender's nonce moved, by block B, by exactly its transactions included by B (a lost one
 *   is counted as lost, not here).
 * - ETH: read at one block B (the head when the check starts), each recipient (fresh this run)
 *   holds exactly the values of the transfers to it included by B, each sender paid exactly its
 *   included transfers plus fees (gasUsed × effectiveGasPrice; 0 in free-gas mode at gas price 0),
 *   and the changes over all senders, recipients and the deployer add up to minus the fees.
 * - Token: each recipient received and each sender gave exactly its included ERC-20 transfers, and
 *   the total supply equals the sum of balances over every holder the run touched.
 */
import { snapshot, type Chain, type Hex, type Receipt, type Snapshot } from './chain.ts';
import type { Ledger, SentTx } from './ledger.ts';
import type { RpcCall, SoakRpc } from './rpc.ts';

export interface Accounting {
  readonly accepted: number;
  readonly included: number;
  readonly lost: number;
  /** Lost transactions the node still knows (in its pool) and ones it has forgotten. */
  readonly lostStillPending: number;
  readonly reverted: number;
  /** Uncertain sends that turned out to be included (counted as accepted). */
  readonly uncertainIncluded: number;
  readonly nonceMismatches: number;
  readonly ethOk: boolean;
  readonly tokenOk: boolean;
  readonly balancesOk: boolean;
  /** What did not add up, first few of each kind. */
  readonly problems: readonly string[];
}

/** The accounts the run touched, in snapshot order: deployer, senders, recipients. */
export function holdersOf(chain: Chain): Hex[] {
  return [chain.deployer.address, ...chain.senders.map((s) => s.address), ...chain.recipients];
}

export function nonceAccountsOf(chain: Chain): Hex[] {
  return [chain.deployer.address, ...chain.senders.map((s) => s.address)];
}

/**
 * The receipts of `txs`, null where there is none: by block (`eth_getBlockReceipts`) for those the
 * watcher saw in one, one by one for the rest. One by one costs the client node tens of
 * milliseconds a receipt under load: a long soak's hundreds of thousands would take hours.
 */
async function receipts(rpc: SoakRpc, txs: readonly SentTx[]): Promise<(Receipt | null)[]> {
  const blocks = [...new Set(txs.flatMap((t) => (t.seenIn === null ? [] : [t.seenIn])))];
  const byHash = new Map<string, Receipt>();
  const perBlock = await rpc.all<(Receipt & { transactionHash: string })[] | null>(
    blocks.map((b): RpcCall => ['eth_getBlockReceipts', [`0x${b.toString(16)}`]]),
    10,
  );
  for (const rs of perBlock) for (const r of rs ?? []) byHash.set(r.transactionHash, r);
  const rest = txs.filter((t) => !byHash.has(t.hash));
  const single = await rpc.all<Receipt | null>(rest.map((t): RpcCall => ['eth_getTransactionReceipt', [t.hash]]), 50);
  rest.forEach((t, i) => {
    if (single[i] !== null && single[i] !== undefined) byHash.set(t.hash, single[i]!);
  });
  return txs.map((t) => byHash.get(t.hash) ?? null);
}

export async function account(rpc: SoakRpc, chain: Chain, token: Hex, ledger: Ledger, before: Snapshot, log: (s: string) => void): Promise<Accounting> {
  const t0 = performance.now();
  const problems: string[] = [];
  const note = (kind: string, text: string) => {
    if (problems.filter((p) => p.startsWith(`${kind}:`)).length < 5) problems.push(`${kind}: ${text}`);
  };
  // Uncertain sends first: a receipt makes them accepted.
  const uncertain = ledger.uncertainTxs();
  const uncertainReceipts = await receipts(rpc, uncertain);
  uncertain.forEach((t, i) => {
    if (uncertainReceipts[i] !== null) ledger.accept(t);
  });
  const uncertainIncluded = uncertainReceipts.filter((r) => r !== null).length;

  const after = await snapshot(rpc, token, holdersOf(chain), nonceAccountsOf(chain));
  log(`accounting: balances and nonces read at block ${after.block} (${Math.round(performance.now() - t0)} ms)`);
  const accepted = ledger.acceptedTxs();
  const rs = await receipts(rpc, accepted);
  log(`accounting: ${accepted.length} receipts asked for (${Math.round(performance.now() - t0)} ms)`);
  const lostTxs = accepted.filter((_, i) => rs[i] === null);
  let lostStillPending = 0;
  if (lostTxs.length > 0) {
    // Forgotten ones come first: a transaction dropped from the pool strands its sender's later ones there.
    const known = await rpc.all<unknown>(lostTxs.map((t): RpcCall => ['eth_getTransactionByHash', [t.hash]]), 200);
    lostStillPending = known.filter((k) => k !== null).length;
    const describe = (t: SentTx) => `${t.hash} (sender ${t.sender}, nonce ${t.nonce}, ${t.kind})`;
    for (const forgotten of [true, false]) {
      lostTxs.forEach((t, i) => {
        if ((known[i] === null) === forgotten) note(forgotten ? 'lost, unknown to the node' : 'lost, still in its pool', describe(t));
      });
    }
  }

  // What the included transactions (by block B) should have done.
  const n = chain.senders.length;
  const recipientIndex = new Map(chain.recipients.map((r, i) => [r, i]));
  const ethDelta = new Array<bigint>(1 + n + chain.recipients.length).fill(0n);
  const tokenDelta = new Array<bigint>(1 + n + chain.recipients.length).fill(0n);
  const includedBy = new Array<number>(n).fill(0);
  let fees = 0n;
  let reverted = 0;
  accepted.forEach((t, i) => {
    const r = rs[i];
    if (r === null || r === undefined || BigInt(r.blockNumber) > after.block) return;
    includedBy[t.sender]!++;
    const fee = BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice ?? '0x0');
    fees += fee;
    ethDelta[1 + t.sender]! -= fee;
    if (r.status !== '0x1') {
      reverted++;
      return;
    }
    const to = t.to === null ? undefined : recipientIndex.get(t.to);
    if (to === undefined) return;
    const [delta, moved] = t.kind === 'transfer' ? [ethDelta, t.value] : t.kind === 'erc20' ? [tokenDelta, t.value] : [null, 0n];
    if (delta === null) return;
    delta[1 + t.sender]! -= moved;
    delta[1 + n + to]! += moved;
  });

  const holders = holdersOf(chain);
  let ethOk = true;
  let tokenOk = true;
  let ethSum = 0n;
  holders.forEach((h, i) => {
    const eth = after.eth[i]! - before.eth[i]!;
    const tok = after.tokens[i]! - before.tokens[i]!;
    ethSum += eth;
    if (eth !== ethDelta[i]) {
      ethOk = false;
      note('eth', `${h} changed by ${eth} wei, the included transactions say ${ethDelta[i]}`);
    }
    if (tok !== tokenDelta[i]) {
      tokenOk = false;
      note('token', `${h} changed by ${tok} tokens, the included transfers say ${tokenDelta[i]}`);
    }
  });
  if (ethSum !== -fees) {
    ethOk = false;
    note('eth', `the balances changed by ${ethSum} wei in all, the fees were ${fees}`);
  }
  const held = after.tokens.reduce((a, b) => a + b, 0n);
  if (held !== after.totalSupply) {
    tokenOk = false;
    note('token', `total supply ${after.totalSupply}, the holders hold ${held}`);
  }

  let nonceMismatches = 0;
  chain.senders.forEach((s, i) => {
    const moved = Number(after.nonces[1 + i]! - before.nonces[1 + i]!);
    if (moved !== includedBy[i]) {
      nonceMismatches++;
      note('nonce', `sender ${i} (${s.address}): nonce moved by ${moved} by block ${after.block}, ${includedBy[i]} of its transactions included by then`);
    }
  });

  const included = accepted.length - lostTxs.length;
  return {
    accepted: accepted.length,
    included,
    lost: lostTxs.length,
    lostStillPending,
    reverted,
    uncertainIncluded,
    nonceMismatches,
    ethOk,
    tokenOk,
    balancesOk: ethOk && tokenOk,
    problems,
  };
}
