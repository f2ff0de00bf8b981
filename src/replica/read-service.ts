/**
 * State reads for client nodes, answered by this replica from its own committed state at the block
 * asked for, signed with its execution key. Reads do not go through consensus: the client node
 * asks every replica and accepts an answer only when f + 1 of them sign the same one. At most
 * `maxInFlight` reads run at once; up to `maxQueued` more wait their turn, and beyond that a read
 * is dropped unanswered: "busy" is not a fact replicas could agree on. Neither is "I do not have
 * that block yet": a read for a block this replica has not reached waits for it (up to 2 s).
 */
import { getMerkleStateProof, type MerkleStateManager } from '@ethereumjs/statemanager';
import { Address, setLengthLeft } from '@ethereumjs/util';
import type { ReadAnswer, ReadReply, ReadRequest } from '../codec/messages.ts';
import { encodeCallOutcome, quantityBytes, readAnswersDigest, readQueriesDigest, readReplyBytes, type CallQuery, type ReadQuery } from '../codec/read.ts';
import { isBulwarkError } from '../common/errors.ts';
import type { Executor } from '../execution/executor.ts';
import { ChainReader, type CallRequest, type Simulation } from '../execution/reader.ts';

const ZERO32 = new Uint8Array(32);
/** Blocks for which idle EVMs are kept (see `#takeSimulation`). */
const IDLE_SIMULATION_BLOCKS = 2;
/** How long a read for a block this replica has not reached yet waits for it. */
const BLOCK_WAIT_MS = 2_000;
/** How far ahead of this replica's head a read may be and still be waited for. */
const BLOCK_WAIT_AHEAD = 64n;
const utf8 = new TextEncoder();

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

export class ReadService {
  readonly #executor: Executor;
  readonly #reader: ChainReader;
  readonly #sign: (bytes: Uint8Array) => Uint8Array;
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  #inFlight = 0;
  /** Idle simulations by block number, for the latest few blocks. */
  readonly #idleSimulations = new Map<bigint, Simulation[]>();
  readonly #waiting: (() => void)[] = [];
  /** Reads waiting for this replica to reach their block. */
  #awaitingBlock = 0;

  constructor(executor: Executor, sign: (bytes: Uint8Array) => Uint8Array, limits: { maxInFlight?: number; maxQueued?: number } = {}) {
    this.#executor = executor;
    this.#reader = new ChainReader(executor);
    this.#sign = sign;
    this.#maxInFlight = limits.maxInFlight ?? 16;
    this.#maxQueued = limits.maxQueued ?? 1_024;
  }

  /**
   * The signed answer; or, unanswered, `busy` (too many reads queued) or `behind` (the block is
   * one this replica has not executed, and did not within 2 s). Neither is a fact other replicas
   * would sign the same way, so neither is answered.
   */
  async answer(clientId: number, m: ReadRequest): Promise<ReadReply | 'busy' | 'behind'> {
    // A block certified by others that this replica has not executed yet is waited for (outside
    // the concurrency limit) rather than answered "not available".
    // A replica far behind, or a request for a block far ahead, is not waited for; nor are more
    // than `maxQueued` such reads at once.
    if (BigInt(m.blockNumber) > this.#executor.head.header.number) {
      if (BigInt(m.blockNumber) > this.#executor.head.header.number + BLOCK_WAIT_AHEAD) return 'behind';
      if (this.#awaitingBlock >= this.#maxQueued) return 'busy';
      this.#awaitingBlock++;
      try {
        const until = Date.now() + BLOCK_WAIT_MS;
        while (BigInt(m.blockNumber) > this.#executor.head.header.number) {
          if (Date.now() >= until) return 'behind';
          await new Promise((r) => setTimeout(r, 5));
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
      return await this.#run(clientId, m);
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next(); // the slot passes straight to the next read
      else this.#inFlight--;
    }
  }

  async #run(clientId: number, m: ReadRequest): Promise<ReadReply> {
    const header = await this.#executor.blocks.headerByNumber(BigInt(m.blockNumber));
    if (header === undefined) {
      const missing = { ok: false, result: utf8.encode('block not available') };
      return this.#reply(clientId, m, ZERO32, m.queries.map(() => missing));
    }
    // One view of the state serves every lookup of the request, and one EVM every call.
    const state = this.#executor.stateAt(header.stateRoot);
    let simulation: Promise<Simulation> | undefined;
    const simulate = () => (simulation ??= this.#takeSimulation(header.number));
    const answers: ReadAnswer[] = [];
    try {
      for (const q of m.queries) answers.push(await this.#query(q, state, simulate));
    } finally {
      if (simulation !== undefined) this.#giveSimulation(header.number, await simulation);
    }
    return this.#reply(clientId, m, header.hash(), answers);
  }

  /**
   * An EVM on block `n`'s state for one request's calls: an idle one from an earlier request if
   * there is one (building one costs more than most calls; each call is rolled back, so a
   * simulation is as new after it), else a new one.
   */
  async #takeSimulation(n: bigint): Promise<Simulation> {
    return this.#idleSimulations.get(n)?.pop() ?? this.#reader.simulation(n);
  }

  #giveSimulation(n: bigint, simulation: Simulation): void {
    let idle = this.#idleSimulations.get(n);
    if (idle === undefined) {
      // Only the latest blocks are worth keeping EVMs for: reads come at the certified head.
      const kept = [...this.#idleSimulations.keys()].sort((a, b) => (a > b ? -1 : 1)).slice(0, IDLE_SIMULATION_BLOCKS - 1);
      for (const k of this.#idleSimulations.keys()) if (!kept.includes(k)) this.#idleSimulations.delete(k);
      this.#idleSimulations.set(n, (idle = []));
    }
    if (idle.length < this.#maxInFlight) idle.push(simulation);
  }

  async #query(q: ReadQuery, state: MerkleStateManager, simulate: () => Promise<Simulation>): Promise<ReadAnswer> {
    try {
      switch (q.kind) {
        case 'balance':
          return { ok: true, result: quantityBytes((await state.getAccount(new Address(q.address)))?.balance ?? 0n) };
        case 'nonce':
          return { ok: true, result: quantityBytes((await state.getAccount(new Address(q.address)))?.nonce ?? 0n) };
        case 'code':
          return { ok: true, result: await state.getCode(new Address(q.address)) };
        case 'proof':
          // The EIP-1186 document itself: every replica builds the same one from the same state.
          return { ok: true, result: utf8.encode(JSON.stringify(await getMerkleStateProof(state, new Address(q.address), [...q.slots]))) };
        case 'storage':
          return { ok: true, result: setLengthLeft(await state.getStorage(new Address(q.address), q.slot), 32) };
        case 'call':
          return { ok: true, result: encodeCallOutcome(await (await simulate()).call(callRequest(q.call))) };
        case 'estimateGas':
          return { ok: true, result: quantityBytes(await (await simulate()).estimateGas(callRequest(q.call))) };
      }
    } catch (err) {
      // A deterministic failure (e.g. a call that fails even with the gas cap) is an answer too.
      return { ok: false, result: utf8.encode(isBulwarkError(err) ? err.message : 'read failed') };
    }
  }

  #reply(clientId: number, m: ReadRequest, blockHash: Uint8Array, answers: readonly ReadAnswer[]): ReadReply {
    const bytes = readReplyBytes(clientId, m.id, readQueriesDigest(m.queries), m.blockNumber, blockHash, readAnswersDigest(answers));
    return { type: 'ReadReply', id: m.id, blockNumber: m.blockNumber, blockHash, answers, signature: this.#sign(bytes) };
  }
}
