/**
 * Answers to state reads (`ReadQuery`: balances, nonces, code, storage, EIP-1186 proofs, calls and
 * gas estimates) from a store that holds state, at a given block. A replica answers client nodes'
 * reads with it (and signs the answers: `replica/read-service.ts`); a client node that executes the
 * certified blocks itself answers its own reads with it (`client/local-state.ts`).
 *
 * Answers are deterministic: every honest store at the same block gives the same bytes, which is
 * what lets f + 1 replicas' signatures over them be compared — except a call stopped by its
 * deadline (`execution aborted (timeout = 5s)`), which is about this store's clock: replicas agree
 * on it only when each of them stopped it.
 *
 * Calls and gas estimates run within a budget (`evm-limits.ts`): the gas cap, and one deadline for
 * all the calls of a request (`run`), so a request of 16 endless loops costs one timeout, not 16.
 */
import type { BlockHeader } from '@ethereumjs/block';
import { getMerkleStateProof, type MerkleStateManager } from '@ethereumjs/statemanager';
import { Address, setLengthLeft } from '@ethereumjs/util';
import type { ReadAnswer } from '../codec/messages.ts';
import { encodeCallOutcome, quantityBytes, type CallQuery, type ReadQuery } from '../codec/read.ts';
import { isBulwarkError } from '../common/errors.ts';
import { budgetOf, DEFAULT_EVM_LIMITS, nextTurn, type EvmBudget, type EvmLimits } from './evm-limits.ts';
import { ChainReader, type CallRequest, type ChainSource, type Simulation } from './reader.ts';
import { statePrunedMessage } from './state-from.ts';

/** Blocks for which idle EVMs are kept (see `#takeSimulation`). */
const IDLE_SIMULATION_BLOCKS = 2;
/** Blocks for which a header and a state view are kept (see `#views`). */
const VIEW_BLOCKS = 4;
const utf8 = new TextEncoder();

export interface QueryAnswers {
  /** The block the answers are at; undefined when the store has no such block. */
  readonly blockHash: Uint8Array | undefined;
  readonly answers: readonly ReadAnswer[];
}

function callRequest(c: CallQuery): CallRequest {
  const addr = (b: Uint8Array | undefined) => (b === undefined ? undefined : new Address(b));
  const from = addr(c.from);
  const to = addr(c.to);
  return {
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    ...(c.data === undefined ? {} : { data: c.data }),
    ...(c.value === undefined ? {} : { value: c.value }),
    ...(c.gas === undefined ? {} : { gas: c.gas }),
    ...(c.gasPrice === undefined ? {} : { gasPrice: c.gasPrice }),
  };
}

export class StateQueries {
  readonly #source: ChainSource;
  readonly #reader: ChainReader;
  readonly #maxIdle: number;
  readonly #limits: EvmLimits;
  /** Whether a read below the pruned floor names the floor (not where answers are signed and compared). */
  readonly #nameFloor: boolean;
  /** Idle simulations by block number, for the latest few blocks. */
  readonly #idleSimulations = new Map<bigint, Simulation[]>();
  /**
   * A block's header and a read-only view of its state, kept for the latest few blocks read:
   * decoding a header and opening a view cost more than an account lookup. Committed blocks never
   * change, and lookups only read, so one view serves every request at that block.
   */
  readonly #views = new Map<bigint, { readonly header: BlockHeader; readonly state: MerkleStateManager }>();

  /**
   * `maxIdle`: EVMs kept per block for later requests (about as many as run at once). `limits`:
   * the gas cap and timeout of a request's calls when `run` is given no budget. `signed`: the
   * answers are signed and compared with other replicas' (`replica/read-service.ts`), so an answer
   * refused as pruned leaves out this store's own floor, which other replicas may not share.
   */
  constructor(source: ChainSource, maxIdle = 16, limits: EvmLimits = DEFAULT_EVM_LIMITS, signed = false) {
    this.#source = source;
    this.#nameFloor = !signed;
    this.#reader = new ChainReader(source);
    this.#maxIdle = maxIdle;
    this.#limits = limits;
  }

  /**
   * The answers to `queries` at block `blockNumber`, in order; one state view serves them all, and
   * their calls share `budget` (by default, this store's limits from now).
   */
  async run(blockNumber: bigint, queries: readonly ReadQuery[], budget: EvmBudget = budgetOf(this.#limits)): Promise<QueryAnswers> {
    const floor = this.#source.stateFrom ?? 0n;
    if (blockNumber < floor) {
      // Its trie's nodes may be gone: read, they would say "no such account" — a wrong answer.
      const pruned = { ok: false, result: utf8.encode(statePrunedMessage(blockNumber, this.#nameFloor ? floor : undefined)) };
      return { blockHash: undefined, answers: queries.map(() => pruned) };
    }
    const view = await this.#view(blockNumber);
    if (view === undefined) {
      const missing = { ok: false, result: utf8.encode('block not available') };
      return { blockHash: undefined, answers: queries.map(() => missing) };
    }
    const { header, state } = view;
    let simulation: Promise<Simulation> | undefined;
    const simulate = async () => {
      // A call stopped by its deadline leaves its EVM unusable: a later call gets another.
      if (simulation !== undefined && !(await simulation).usable) simulation = undefined;
      return (simulation ??= this.#takeSimulation(header.number));
    };
    const answers: ReadAnswer[] = [];
    try {
      for (const q of queries) answers.push(await this.#query(q, state, simulate, budget));
    } finally {
      const last = simulation === undefined ? undefined : await simulation;
      if (last?.usable === true) this.#giveSimulation(header.number, last);
    }
    return { blockHash: header.hash(), answers };
  }

  async #view(n: bigint): Promise<{ header: BlockHeader; state: MerkleStateManager } | undefined> {
    const kept = this.#views.get(n);
    if (kept !== undefined) return kept;
    const header = await this.#source.blocks.headerByNumber(n);
    if (header === undefined) return undefined;
    const view = { header, state: this.#source.stateAt(header.stateRoot) };
    this.#views.set(n, view);
    if (this.#views.size > VIEW_BLOCKS) {
      const oldest = [...this.#views.keys()].reduce((a, b) => (a < b ? a : b));
      this.#views.delete(oldest);
    }
    return view;
  }

  /**
   * An EVM on block `n`'s state for one request's calls: an idle one from an earlier request if
   * there is one (building one costs more than most calls; each call is rolled back, so a
   * simulation is as new after it), else a new one — built in a turn of the event loop of its
   * own, since building takes milliseconds without a break, and calls stopped by their deadline
   * leave no EVM to reuse (several loop calls starting together would otherwise build theirs all
   * in one go).
   */
  async #takeSimulation(n: bigint): Promise<Simulation> {
    const idle = this.#idleSimulations.get(n)?.pop();
    if (idle !== undefined) return idle;
    await nextTurn();
    return this.#reader.simulation(n);
  }

  #giveSimulation(n: bigint, simulation: Simulation): void {
    let idle = this.#idleSimulations.get(n);
    if (idle === undefined) {
      // Only the latest blocks are worth keeping EVMs for: reads come at the certified head.
      const kept = [...this.#idleSimulations.keys()].sort((a, b) => (a > b ? -1 : 1)).slice(0, IDLE_SIMULATION_BLOCKS - 1);
      for (const k of this.#idleSimulations.keys()) if (!kept.includes(k)) this.#idleSimulations.delete(k);
      this.#idleSimulations.set(n, (idle = []));
    }
    if (idle.length < this.#maxIdle) idle.push(simulation);
  }

  async #query(q: ReadQuery, state: MerkleStateManager, simulate: () => Promise<Simulation>, budget: EvmBudget): Promise<ReadAnswer> {
    try {
      // Calls after the request's deadline are not started (nor an EVM built for them).
      if ((q.kind === 'call' || q.kind === 'estimateGas') && budget.deadline.expired()) throw budget.deadline.error();
      switch (q.kind) {
        case 'balance':
          return { ok: true, result: quantityBytes((await state.getAccount(new Address(q.address)))?.balance ?? 0n) };
        case 'nonce':
          return { ok: true, result: quantityBytes((await state.getAccount(new Address(q.address)))?.nonce ?? 0n) };
        case 'code':
          return { ok: true, result: await state.getCode(new Address(q.address)) };
        case 'proof':
          // The EIP-1186 document itself: every store builds the same one from the same state.
          return { ok: true, result: utf8.encode(JSON.stringify(await getMerkleStateProof(state, new Address(q.address), [...q.slots]))) };
        case 'storage':
          return { ok: true, result: setLengthLeft(await state.getStorage(new Address(q.address), q.slot), 32) };
        case 'call':
          return { ok: true, result: encodeCallOutcome(await (await simulate()).call(callRequest(q.call), budget)) };
        case 'estimateGas':
          return { ok: true, result: quantityBytes(await (await simulate()).estimateGas(callRequest(q.call), budget)) };
      }
    } catch (err) {
      // A deterministic failure (e.g. a call that fails even with the gas cap) is an answer too, and
      // so is a call stopped by the deadline.
      return { ok: false, result: utf8.encode(isBulwarkError(err) ? err.message : 'read failed') };
    }
  }
}
