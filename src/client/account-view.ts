/**
 * The committed account fields the pool checks transactions against, read from the replicas
 * (f + 1 matching signed answers) at the mirror's head. An answer holds for as long as the head
 * stays where it was read, so it is kept until the head moves, and one read serves everyone who
 * asks for the same field meanwhile: a burst from one sender, or a wallet sending again on an idle
 * chain, costs the replicas one read, not one per transaction.
 */
import type { AccountView } from './txpool.ts';

export type AccountField = 'nonce' | 'balance';

const MAX_ENTRIES = 50_000;

export class HeadAccountView implements AccountView {
  readonly #read: (field: AccountField, address: string, blockNumber: number) => Promise<bigint>;
  readonly #head: () => number;
  #at = -1;
  readonly #answers = new Map<string, Promise<bigint>>();

  constructor(read: (field: AccountField, address: string, blockNumber: number) => Promise<bigint>, head: () => number) {
    this.#read = read;
    this.#head = head;
  }

  nonce(address: string): Promise<bigint> {
    return this.#get('nonce', address);
  }

  balance(address: string): Promise<bigint> {
    return this.#get('balance', address);
  }

  #get(field: AccountField, address: string): Promise<bigint> {
    const at = this.#head();
    if (at !== this.#at) {
      this.#answers.clear();
      this.#at = at;
    }
    const key = `${field}:${address.toLowerCase()}`;
    const known = this.#answers.get(key);
    if (known !== undefined) return known;
    const answer = this.#read(field, address, at);
    if (this.#answers.size < MAX_ENTRIES) {
      this.#answers.set(key, answer);
      // A failed read is not remembered: the next caller asks again.
      answer.catch(() => this.#answers.get(key) === answer && this.#answers.delete(key));
    }
    return answer;
  }
}
