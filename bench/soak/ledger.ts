/**
 * The harness's own record of every transaction it sent and what the node said about it: the
 * ground truth the accounting at the end compares the chain against. A transaction is `accepted`
 * (the node returned its hash, or said `already known`), `refused` (a JSON-RPC error: counted with
 * its message, then forgotten) or `uncertain` (no answer after every retry: it may or may not be
 * in the pool, and is settled at the end by looking for its receipt).
 */
export type TxKind = 'transfer' | 'erc20' | 'deploy';

export interface SentTx {
  readonly hash: string;
  /** Index into the chain's senders. */
  readonly sender: number;
  readonly nonce: bigint;
  readonly kind: TxKind;
  /** The ETH recipient (transfer) or the token recipient (erc20); null for a deploy. */
  readonly to: `0x${string}` | null;
  /** Wei for a transfer, tokens for an ERC-20 transfer. */
  readonly value: bigint;
  /** performance.now() when its batch went out (the first attempt). */
  readonly sentAt: number;
  status: 'sending' | 'accepted' | 'uncertain';
  /** performance.now() when the watcher first saw it in a block, and that block; or null. */
  seenAt: number | null;
  seenIn: bigint | null;
}

/** Counts since the last `take()`, for the samples. */
export interface IntervalCounts {
  sent: number;
  accepted: number;
  refused: number;
  skipped: number;
  /** How long each batch of sends took to be answered (ms). */
  readonly answerMs: number[];
}

const emptyCounts = (): IntervalCounts => ({ sent: 0, accepted: 0, refused: 0, skipped: 0, answerMs: [] });

export class Ledger {
  /** Every transaction not refused, by hash. */
  readonly txs = new Map<string, SentTx>();
  sent = 0;
  accepted = 0;
  refused = 0;
  uncertain = 0;
  /** Transactions the open-loop schedule wanted but could not send (more than 1 s behind). */
  skipped = 0;
  /** Refusal messages and how often each came. */
  readonly refusals = new Map<string, number>();
  /** Per sender: accepted transactions not yet seen in a block. */
  readonly #unseen = new Map<number, number>();
  #interval = emptyCounts();

  sending(tx: SentTx): void {
    this.txs.set(tx.hash, tx);
    this.sent++;
    this.#interval.sent++;
  }

  accept(tx: SentTx): void {
    if (tx.status === 'uncertain') this.uncertain--;
    if (tx.status === 'accepted') return;
    tx.status = 'accepted';
    this.accepted++;
    this.#interval.accepted++;
    if (tx.seenAt === null) this.#unseen.set(tx.sender, this.unseen(tx.sender) + 1);
  }

  /** The watcher saw it in `block` (an accepted, uncertain or still unanswered transaction). */
  seen(tx: SentTx, seenAt: number, block: bigint): void {
    if (tx.seenAt !== null) return;
    tx.seenAt = seenAt;
    tx.seenIn = block;
    if (tx.status === 'accepted') this.#unseen.set(tx.sender, this.unseen(tx.sender) - 1);
  }

  unseen(sender: number): number {
    return this.#unseen.get(sender) ?? 0;
  }

  refuse(tx: SentTx, message: string): void {
    if (tx.status === 'uncertain') this.uncertain--;
    this.txs.delete(tx.hash);
    this.refused++;
    this.#interval.refused++;
    // Messages may carry numbers (nonces, balances): grouped by their words.
    const key = message.replace(/0x[0-9a-f]+|\d+/gi, 'N');
    this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
  }

  uncertainOutcome(tx: SentTx): void {
    if (tx.status === 'sending') {
      tx.status = 'uncertain';
      this.uncertain++;
    }
  }

  answered(ms: number): void {
    this.#interval.answerMs.push(ms);
  }

  skip(n: number): void {
    this.skipped += n;
    this.#interval.skipped += n;
  }

  /** The counts since the previous call. */
  take(): IntervalCounts {
    const out = this.#interval;
    this.#interval = emptyCounts();
    return out;
  }

  acceptedTxs(): SentTx[] {
    return [...this.txs.values()].filter((t) => t.status === 'accepted');
  }

  uncertainTxs(): SentTx[] {
    return [...this.txs.values()].filter((t) => t.status === 'uncertain');
  }

  /** Accepted transactions not yet seen in a block. */
  outstanding(): number {
    let n = 0;
    for (const t of this.txs.values()) if (t.status === 'accepted' && t.seenAt === null) n++;
    return n;
  }
}
