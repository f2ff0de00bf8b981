/**
 * Moves transactions from the pool to consensus: ready transactions (consecutive nonces per
 * sender) are packed into one client request — one signature, one ordering slot, one reply for
 * many transactions — with a few requests in flight. When a request's result comes back, what was
 * ordered leaves the pool, whatever each transaction's outcome; a request that times out puts its
 * transactions back to be sent again (their nonces make a second inclusion impossible).
 */
import { decodeRequestResult, encodeTxPayload, type TxOutcome } from '../codec/tx-payload.ts';
import type { BftClient, Committed } from './bft-client.ts';
import type { TxPool } from './txpool.ts';

export interface SubmitterOptions {
  readonly pool: TxPool;
  readonly client: Pick<BftClient, 'submit'>;
  readonly maxTxsPerRequest?: number;
  readonly maxInFlight?: number;
  /** The block gas limit: a request's transactions together declare no more gas than one block holds. */
  readonly maxGasPerRequest?: number;
  /** Each transaction's outcome, by hash, once f + 1 replicas vouched for it. */
  readonly onOutcome?: (hash: string, outcome: TxOutcome, committed: Committed) => void;
  readonly onError?: (err: unknown) => void;
}

export class Submitter {
  readonly #o: SubmitterOptions;
  #inFlight = 0;
  #stopped = false;

  constructor(o: SubmitterOptions) {
    this.#o = o;
  }

  /** Call after anything that may have made transactions ready (an add, a result). */
  kick(): void {
    while (!this.#stopped && this.#inFlight < (this.#o.maxInFlight ?? 4)) {
      const ready = this.#o.pool.takeReady(this.#o.maxTxsPerRequest ?? 500, this.#o.maxGasPerRequest);
      if (ready.length === 0) return;
      this.#inFlight++;
      const hashes = ready.map((t) => t.hash);
      this.#o.client
        .submit(encodeTxPayload(ready.map((t) => t.raw)))
        .then(async (committed) => {
          const result = decodeRequestResult(committed.result);
          if (!result.malformed) result.txs.forEach((outcome, i) => this.#o.onOutcome?.(hashes[i]!, outcome, committed));
          await this.#o.pool.settle(
            hashes.map((hash, i) => {
              const outcome = result.malformed ? undefined : result.txs[i];
              return { hash, included: outcome?.included === true, ...(outcome?.included === false ? { reason: outcome.reason } : {}) };
            }),
          );
        })
        .catch((err: unknown) => {
          this.#o.pool.release(hashes);
          this.#o.onError?.(err);
        })
        .finally(() => {
          this.#inFlight--;
          this.kick();
        });
    }
  }

  stop(): void {
    this.#stopped = true;
  }
}
