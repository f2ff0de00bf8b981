/**
 * The soak's write load: ETH transfers, ERC-20 `transfer`s and Token deploys in a chosen mix,
 * signed here with per-sender nonces and sent as JSON-RPC batches of `eth_sendRawTransaction`.
 *
 * Two modes. At a target rate the load is open-loop: every 20 ms the transactions due by the
 * schedule go out whether or not earlier ones have been answered, up to a bound on batches in
 * flight; what falls more than a second behind is skipped and counted (the network, or the
 * harness, could not keep up). At `max`, `inFlight` loops each send a batch and wait for its
 * answers: as fast as the node accepts.
 *
 * Each sender keeps at most `maxPending` accepted transactions waiting for a block, so the load
 * stays within what the pool guarantees every sender and nothing is evicted by design.
 *
 * Nonces stay right because each sender has at most one transaction on the wire: it is answered
 * before the sender's next is signed. Accepted, the sender's nonce moves on; refused, the sender
 * re-reads its pending nonce from the node (`eth_getTransactionCount(addr, 'pending')`) before it
 * sends again. A batch without an answer is retried with back-off (the same signed bytes: `already
 * known` then means accepted); after 30 s its transactions are `uncertain` and their senders re-read.
 * A transaction refused with `txpool is full` (the node's pool is at its bound: the network is busy)
 * is counted as refused; its sender keeps its nonce and waits `BUSY_HOLD_MS` before it sends again,
 * as a client backing off would.
 */
import { isBusy } from '../rpc/load.ts';
import { bytecode, encodeCall } from '../../test/helpers/abi.ts';
import { signTx } from '../../test/helpers/chain.ts';
import { hex, type Chain, type Hex } from './chain.ts';
import type { Ledger, SentTx, TxKind } from './ledger.ts';
import { TransportError, sleep, type RpcAnswer, type RpcCall, type SoakRpc } from './rpc.ts';

export type Mix = Readonly<Record<TxKind, number>>;

export interface LoadOptions {
  readonly rpc: SoakRpc;
  readonly chain: Chain;
  readonly token: Hex;
  readonly ledger: Ledger;
  readonly mix: Mix;
  /** Transactions per second, or 'max'. */
  readonly rate: number | 'max';
  readonly batch: number;
  readonly inFlight: number;
  /**
   * A sender with this many accepted transactions not yet in a block waits. The pool guarantees
   * each sender 16 pending slots; beyond them, a full pool evicts a sender's latest accepted
   * transaction (as go-ethereum's does), which strands everything the sender sends after it.
   */
  readonly maxPending: number;
}

interface SenderState {
  nonce: bigint;
  /** A transaction of this sender is on the wire, or its nonce is being read. */
  busy: boolean;
  /** Its nonce must be read from the node before it sends again. */
  resync: boolean;
  /** It sends nothing before this (`performance.now()`): the node said its pool was full. */
  holdUntil: number;
}

interface Outgoing {
  readonly tx: SentTx;
  readonly raw: Hex;
}

const SEND_DEADLINE_MS = 30_000;
const TICK_MS = 20;
const BUSY_HOLD_MS = 500;

/** Parses `transfer=60,erc20=35,deploy=5` (missing kinds weigh 0). */
export function parseMix(text: string): Mix {
  const mix: Record<TxKind, number> = { transfer: 0, erc20: 0, deploy: 0 };
  for (const part of text.split(',')) {
    const [kind, weight] = part.split('=').map((s) => s.trim());
    if (!(kind! in mix) || weight === undefined || !/^\d+(\.\d+)?$/.test(weight)) throw new Error(`--mix: "${part}" is not kind=weight (kinds: transfer, erc20, deploy)`);
    mix[kind as TxKind] = Number(weight);
  }
  if (mix.transfer + mix.erc20 + mix.deploy <= 0) throw new Error('--mix: the weights add up to 0');
  return mix;
}

export class LoadGenerator {
  transportErrors = 0;
  lastTransportError: string | null = null;
  readonly #o: LoadOptions;
  readonly #senders: SenderState[];
  readonly #pending = new Set<Promise<void>>();
  #cursor = 0;
  #stopped = false;
  #loops: Promise<void>[] = [];

  constructor(o: LoadOptions, firstNonces: readonly bigint[]) {
    this.#o = o;
    this.#senders = firstNonces.map((nonce) => ({ nonce, busy: false, resync: false, holdUntil: 0 }));
  }

  start(): void {
    const { rate, inFlight } = this.#o;
    const senders = rate === 'max' ? Array.from({ length: inFlight }, () => this.#closedLoop()) : [this.#openLoop(rate)];
    this.#loops = [...senders, this.#resyncLoop()];
  }

  /** Stops sending and waits for every batch on the wire to be answered (or given up). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    await Promise.all([...this.#pending]);
  }

  async #closedLoop(): Promise<void> {
    while (!this.#stopped) {
      const batch = this.#next(this.#o.batch);
      if (batch.length === 0) await sleep(5);
      else await this.#send(batch);
    }
  }

  async #openLoop(rate: number): Promise<void> {
    const maxBatches = Math.max(4 * this.#o.inFlight, 16);
    const t0 = performance.now();
    let issued = 0;
    while (!this.#stopped) {
      let due = Math.floor(((performance.now() - t0) / 1000) * rate) - issued;
      if (due > rate) {
        this.#o.ledger.skip(due - Math.ceil(rate));
        issued += due - Math.ceil(rate);
        due = Math.ceil(rate);
      }
      while (due > 0 && this.#pending.size < maxBatches) {
        const batch = this.#next(Math.min(due, this.#o.batch));
        if (batch.length === 0) break;
        issued += batch.length;
        due -= batch.length;
        const p = this.#send(batch).finally(() => this.#pending.delete(p));
        this.#pending.add(p);
      }
      await sleep(TICK_MS);
    }
  }

  /** Up to `n` transactions from distinct idle senders, signed, their senders marked busy. */
  #next(n: number): Outgoing[] {
    const out: Outgoing[] = [];
    const count = this.#senders.length;
    const now = performance.now();
    for (let seen = 0; seen < count && out.length < n; seen++) {
      const i = this.#cursor;
      this.#cursor = (this.#cursor + 1) % count;
      const s = this.#senders[i]!;
      if (s.busy || s.resync || s.holdUntil > now || this.#o.ledger.unseen(i) >= this.#o.maxPending) continue;
      s.busy = true;
      out.push(this.#sign(i, s.nonce));
    }
    return out;
  }

  #sign(sender: number, nonce: bigint): Outgoing {
    const { chain, token, mix } = this.#o;
    const key = chain.senders[sender]!.key;
    const pick = Math.random() * (mix.transfer + mix.erc20 + mix.deploy);
    const kind: TxKind = pick < mix.transfer ? 'transfer' : pick < mix.transfer + mix.erc20 ? 'erc20' : 'deploy';
    const to = kind === 'deploy' ? null : chain.recipients[Math.floor(Math.random() * chain.recipients.length)]!;
    const value = kind === 'transfer' ? BigInt(1 + Math.floor(Math.random() * 1_000_000)) : kind === 'erc20' ? BigInt(1 + Math.floor(Math.random() * 100)) : 0n;
    const fields =
      kind === 'transfer'
        ? { to: to!, value, gasLimit: 21_000n }
        : kind === 'erc20'
          ? { to: token, data: encodeCall('transfer(address,uint256)', to!, value), gasLimit: 60_000n }
          : { data: bytecode('Token', 1_000n), gasLimit: 1_000_000n };
    const signed = signTx(chain.common, key, { nonce, gasPrice: chain.gasPrice, ...fields });
    const tx: SentTx = { hash: hex(signed.hash()), sender, nonce, kind, to, value, sentAt: 0, status: 'sending', seenAt: null, seenIn: null };
    return { tx, raw: hex(signed.serialize()) };
  }

  async #send(batch: Outgoing[]): Promise<void> {
    const { rpc, ledger } = this.#o;
    const sentAt = performance.now();
    const txs = batch.map((o) => {
      const tx = { ...o.tx, sentAt };
      ledger.sending(tx);
      return tx;
    });
    const calls = batch.map((o): RpcCall => ['eth_sendRawTransaction', [o.raw]]);
    const end = sentAt + SEND_DEADLINE_MS;
    let answers: RpcAnswer[] | null = null;
    let retried = false;
    for (let backoff = 200; answers === null; backoff = Math.min(backoff * 2, 5_000)) {
      try {
        answers = await rpc.batch(calls);
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        this.transportErrors++;
        this.lastTransportError = err.message;
        // Once stopping (the end of the load, or a dead node), a batch without an answer is not tried again.
        if (performance.now() + backoff > end || this.#stopped) {
          for (const tx of txs) this.#uncertain(tx);
          return;
        }
        retried = true;
        await sleep(backoff);
      }
    }
    ledger.answered(performance.now() - sentAt);
    const recheck: SentTx[] = [];
    answers.forEach((a, i) => {
      const tx = txs[i]!;
      if (a.error === undefined || a.error.message === 'already known') this.#accepted(tx);
      // After a lost answer, a refusal may only mean the first attempt got in (`nonce too low`).
      else if (retried) recheck.push(tx);
      else this.#refused(tx, a.error.message);
    });
    if (recheck.length > 0) await this.#recheck(recheck);
  }

  /** Transactions refused on a retry: known to the node (accepted before) or really refused. */
  async #recheck(txs: SentTx[]): Promise<void> {
    try {
      const found = await this.#o.rpc.batchRetrying(txs.map((t): RpcCall => ['eth_getTransactionByHash', [t.hash]]), 10_000);
      found.forEach((a, i) => (a.result !== null && a.result !== undefined ? this.#accepted(txs[i]!) : this.#refused(txs[i]!, a.error?.message ?? 'refused on a retry')));
    } catch {
      for (const tx of txs) this.#uncertain(tx);
    }
  }

  #accepted(tx: SentTx): void {
    this.#o.ledger.accept(tx);
    const s = this.#senders[tx.sender]!;
    s.nonce = tx.nonce + 1n;
    s.busy = false;
  }

  #refused(tx: SentTx, message: string): void {
    this.#o.ledger.refuse(tx, message);
    const s = this.#senders[tx.sender]!;
    // A full pool took nothing of it: the same nonce goes out again, a little later.
    if (isBusy(message)) s.holdUntil = performance.now() + BUSY_HOLD_MS;
    else s.resync = true;
    s.busy = false;
  }

  #uncertain(tx: SentTx): void {
    this.#o.ledger.uncertainOutcome(tx);
    const s = this.#senders[tx.sender]!;
    s.resync = true;
    s.busy = false;
  }

  /** Senders whose nonce is in doubt read their pending nonce from the node, in one batch. */
  async #resyncLoop(): Promise<void> {
    while (!this.#stopped) {
      const due = this.#senders.flatMap((s, i) => (s.resync && !s.busy ? [i] : []));
      if (due.length > 0) {
        for (const i of due) this.#senders[i]!.busy = true;
        try {
          const answers = await this.#o.rpc.batch(due.map((i): RpcCall => ['eth_getTransactionCount', [this.#o.chain.senders[i]!.address, 'pending']]));
          answers.forEach((a, k) => {
            const s = this.#senders[due[k]!]!;
            if (a.error === undefined) {
              s.nonce = BigInt(a.result as string);
              s.resync = false;
            }
          });
        } catch (err) {
          if (!(err instanceof TransportError)) throw err;
          this.transportErrors++;
          this.lastTransportError = err.message;
        } finally {
          for (const i of due) this.#senders[i]!.busy = false;
        }
      }
      await sleep(100);
    }
  }
}
