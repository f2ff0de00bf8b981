/**
 * State reads for client nodes, answered by this replica from its own committed state at the block
 * asked for, signed with its execution key. Reads do not go through consensus: the client node
 * asks every replica and accepts an answer only when f + 1 of them sign the same one. At most
 * `maxInFlight` reads run at once; up to `maxQueued` more wait their turn, and beyond that a read
 * is dropped unanswered (`answer` resolves to null): "busy" is not a fact replicas could agree on.
 */
import { Address } from '@ethereumjs/util';
import type { ReadReply, ReadRequest } from '../codec/messages.ts';
import { encodeCallOutcome, encodeReadQuery, quantityBytes, readReplyBytes, type CallQuery } from '../codec/read.ts';
import { isBulwarkError } from '../common/errors.ts';
import { sha256 } from '../crypto/index.ts';
import type { Executor } from '../execution/executor.ts';
import { ChainReader, type CallRequest } from '../execution/reader.ts';

const ZERO32 = new Uint8Array(32);
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
  readonly #waiting: (() => void)[] = [];

  constructor(executor: Executor, sign: (bytes: Uint8Array) => Uint8Array, limits: { maxInFlight?: number; maxQueued?: number } = {}) {
    this.#executor = executor;
    this.#reader = new ChainReader(executor);
    this.#sign = sign;
    this.#maxInFlight = limits.maxInFlight ?? 16;
    this.#maxQueued = limits.maxQueued ?? 1_024;
  }

  async answer(clientId: number, m: ReadRequest): Promise<ReadReply | null> {
    if (this.#inFlight >= this.#maxInFlight) {
      if (this.#waiting.length >= this.#maxQueued) return null;
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
    {
      const header = await this.#executor.blocks.headerByNumber(BigInt(m.blockNumber));
      if (header === undefined) return this.#reply(clientId, m, ZERO32, false, utf8.encode('block not available'));
      const tag = header.number;
      const q = m.query;
      let result: Uint8Array;
      try {
        switch (q.kind) {
          case 'balance':
            result = quantityBytes(await this.#reader.balance(new Address(q.address), tag));
            break;
          case 'nonce':
            result = quantityBytes(await this.#reader.nonce(new Address(q.address), tag));
            break;
          case 'code':
            result = await this.#reader.code(new Address(q.address), tag);
            break;
          case 'storage':
            result = await this.#reader.storage(new Address(q.address), BigInt(`0x${Buffer.from(q.slot).toString('hex')}`), tag);
            break;
          case 'call':
            result = encodeCallOutcome(await this.#reader.call(callRequest(q.call), tag));
            break;
          case 'estimateGas':
            result = quantityBytes(await this.#reader.estimateGas(callRequest(q.call), tag));
            break;
        }
      } catch (err) {
        // A deterministic failure (e.g. a call that fails even with the gas cap) is an answer too.
        const message = isBulwarkError(err) ? err.message : 'read failed';
        return this.#reply(clientId, m, header.hash(), false, utf8.encode(message));
      }
      return this.#reply(clientId, m, header.hash(), true, result);
    }
  }

  #reply(clientId: number, m: ReadRequest, blockHash: Uint8Array, ok: boolean, result: Uint8Array): ReadReply {
    const queryDigest = sha256(encodeReadQuery(m.query));
    const signature = this.#sign(readReplyBytes(clientId, m.id, queryDigest, m.blockNumber, blockHash, ok, sha256(result)));
    return { type: 'ReadReply', id: m.id, blockNumber: m.blockNumber, blockHash, ok, result, signature };
  }
}
