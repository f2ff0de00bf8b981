/**
 * State reads for client nodes, answered by this replica from its own committed state at the block
 * asked for, signed with its execution key. Reads do not go through consensus: the client node
 * asks every replica and accepts an answer only when f + 1 of them sign the same one. At most
 * `maxInFlight` reads run at once; up to `maxQueued` more wait their turn, and beyond that a read
 * is dropped unanswered: "busy" is not a fact replicas could agree on. Neither is "I do not have
 * that block yet": a read for a block this replica has not reached waits for it (up to 2 s).
 *
 * The calls and gas estimates of a request run within the EVM limits (`evm-limits.ts`, go-ethereum's
 * defaults: gas capped at 50,000,000, and 5 s for the whole request from its arrival, waiting
 * included), preempted from inside the interpreter, which gives the event loop — consensus — a
 * turn every few milliseconds however many reads run.
 */
import type { ReadAnswer, ReadReply, ReadRequest } from '../codec/messages.ts';
import { readAnswersDigest, readQueriesDigest, readReplyBytes } from '../codec/read.ts';
import type { Executor } from '../execution/executor.ts';
import { budgetOf, DEFAULT_EVM_LIMITS, type EvmBudget, type EvmLimits } from '../execution/evm-limits.ts';
import { StateQueries } from '../execution/state-queries.ts';
import { sleep, systemClock, type Clock } from '../common/clock.ts';

const ZERO32 = new Uint8Array(32);
/** How long a read for a block this replica has not reached yet waits for it. */
const BLOCK_WAIT_MS = 2_000;
/** How far ahead of this replica's head a read may be and still be waited for. */
const BLOCK_WAIT_AHEAD = 64n;

export class ReadService {
  readonly #executor: Executor;
  readonly #queries: StateQueries;
  readonly #sign: (bytes: Uint8Array) => Uint8Array;
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  readonly #evm: EvmLimits;
  readonly #clock: Clock;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];
  /** Reads waiting for this replica to reach their block. */
  #awaitingBlock = 0;

  constructor(
    executor: Executor,
    sign: (bytes: Uint8Array) => Uint8Array,
    limits: { maxInFlight?: number; maxQueued?: number; evm?: Partial<EvmLimits> } = {},
    clock: Clock = systemClock,
  ) {
    this.#executor = executor;
    this.#clock = clock;
    this.#sign = sign;
    this.#maxInFlight = limits.maxInFlight ?? 16;
    this.#evm = { ...DEFAULT_EVM_LIMITS, ...limits.evm };
    this.#queries = new StateQueries(executor, this.#maxInFlight, this.#evm, true);
    this.#maxQueued = limits.maxQueued ?? 1_024;
  }

  /**
   * The signed answer; or, unanswered, `busy` (too many reads queued) or `behind` (the block is
   * one this replica has not executed, and did not within 2 s). Neither is a fact other replicas
   * would sign the same way, so neither is answered.
   */
  async answer(clientId: number, m: ReadRequest): Promise<ReadReply | 'busy' | 'behind'> {
    // The request's calls must be done by 5 s after it came (the client node waits that long).
    const budget = budgetOf(this.#evm);
    // A block certified by others that this replica has not executed yet is waited for (outside
    // the concurrency limit) rather than answered "not available".
    // A replica far behind, or a request for a block far ahead, is not waited for; nor are more
    // than `maxQueued` such reads at once.
    if (BigInt(m.blockNumber) > this.#executor.head.header.number) {
      if (BigInt(m.blockNumber) > this.#executor.head.header.number + BLOCK_WAIT_AHEAD) return 'behind';
      if (this.#awaitingBlock >= this.#maxQueued) return 'busy';
      this.#awaitingBlock++;
      try {
        const until = this.#clock.now() + BLOCK_WAIT_MS;
        while (BigInt(m.blockNumber) > this.#executor.head.header.number) {
          if (this.#clock.now() >= until) return 'behind';
          await sleep(this.#clock, 5);
        }
      } finally {
        this.#awaitingBlock--;
      }
    }
    if (this.#inFlight >= this.#maxInFlight) {
      if (this.#waiting.length >= this.#maxQueued) return 'busy';
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#inFlight++;
    }
    try {
      return await this.#run(clientId, m, budget);
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next(); // the slot passes straight to the next read
      else this.#inFlight--;
    }
  }

  async #run(clientId: number, m: ReadRequest, budget: EvmBudget): Promise<ReadReply> {
    const { blockHash, answers } = await this.#queries.run(BigInt(m.blockNumber), m.queries, budget);
    return this.#reply(clientId, m, blockHash ?? ZERO32, answers);
  }

  #reply(clientId: number, m: ReadRequest, blockHash: Uint8Array, answers: readonly ReadAnswer[]): ReadReply {
    const bytes = readReplyBytes(clientId, m.id, readQueriesDigest(m.queries), m.blockNumber, blockHash, readAnswersDigest(answers));
    return { type: 'ReadReply', id: m.id, blockNumber: m.blockNumber, blockHash, answers, signature: this.#sign(bytes) };
  }
}
