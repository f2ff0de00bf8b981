/**
 * One replica of the consensus benchmark in its own thread: the state machine, null execution,
 * and frames to its peers over MessagePorts, coalesced per event-loop turn as a TLS link would
 * coalesce writes.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { decodeMessage, encodeMessage } from '../../src/codec/message-codec.ts';
import type { Message } from '../../src/codec/messages.ts';
import { makeConsensusConfig } from '../../src/consensus/config.ts';
import type { Input, Output } from '../../src/consensus/io.ts';
import { preverify, restoreReplica, step } from '../../src/consensus/replica.ts';
import { RealKeys } from '../../test/sim/harness/real-keys.ts';

interface Setup {
  id: number;
  n: number;
  clients: number;
  batch: number;
  auth: 'signature' | 'link';
}

const setup = workerData as Setup;
const keys = new RealKeys(setup.n, setup.clients, 1);
const history = keys.keyHistory();
const crypto = keys.cryptoFor(setup.id, history);
if (setup.auth === 'link') crypto.verifyRequest = () => true;
const cfg = makeConsensusConfig({
  n: setup.n,
  f: 1,
  c: 0,
  clients: setup.clients,
  maxBatchRequests: setup.batch,
  // Ordering alone is measured: no replica shell here exchanges keys.
  keyExchange: false,
  maxInFlight: Number(process.env.BENCH_INFLIGHT ?? 8),
  fastPathTimeoutMs: Number(process.env.BENCH_FAST_TIMEOUT ?? 150),
  batchDelayMs: 1,
  maxPendingPerClient: 1 << 16,
  maxPendingTotal: 1 << 20,
});
const state = restoreReplica({ cfg, id: setup.id, crypto, keys: history, now: Date.now() });
const ZERO = new Uint8Array(32);
/** Port per replica id (undefined for self), and the main thread's port for clients. */
const peers = new Map<number, MessagePort>();
let clientPort: MessagePort | undefined;
const outbox = new Map<MessagePort, { from: number; to: number; frames: Uint8Array[] }>();
let flushScheduled = false;
let timer: NodeJS.Timeout | undefined;
let timerAt = Infinity;

function flush(): void {
  flushScheduled = false;
  for (const [port, box] of outbox) port.postMessage(box);
  outbox.clear();
}

function queue(port: MessagePort, to: number, frame: Uint8Array): void {
  let box = outbox.get(port);
  if (box === undefined) outbox.set(port, (box = { from: setup.id, to, frames: [] }));
  box.frames.push(frame);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

function feed(input: Input): void {
  const { outputs, wakeAt } = step(state, input);
  for (const o of outputs) carryOut(o);
  if (wakeAt !== null && wakeAt < timerAt) {
    clearTimeout(timer);
    timerAt = wakeAt;
    timer = setTimeout(() => {
      timerAt = Infinity;
      feed({ kind: 'tick', now: Date.now() });
    }, Math.max(0, wakeAt - Date.now()));
  }
}

function carryOut(o: Output): void {
  if (o.kind === 'send') {
    const frame = encodeMessage(o.message as Message);
    for (const to of o.to) {
      const port = to < setup.n ? peers.get(to) : clientPort;
      if (port !== undefined) queue(port, to, frame);
    }
  } else if (o.kind === 'execute') {
    const summary = { blockNumber: o.seq, blockHash: ZERO, stateRoot: ZERO, reservedDigest: ZERO };
    feed({ kind: 'executed', seq: o.seq, summary, results: o.requests.map(() => new Uint8Array(0)), now: Date.now() });
  } else if (o.kind === 'fatal') {
    throw new Error(`replica ${setup.id}: ${o.reason}`);
  }
}

let inbox: { from: number; message: Message }[] = [];
let inboxScheduled = false;

/** Everything that arrived in one turn is stepped together, its certificates checked in one batch. */
function onBox(box: { from: number; frames: Uint8Array[] }): void {
  for (const f of box.frames) inbox.push({ from: box.from, message: decodeMessage(f) });
  if (!inboxScheduled) {
    inboxScheduled = true;
    setImmediate(drainInbox);
  }
}

function drainInbox(): void {
  inboxScheduled = false;
  const items = inbox;
  inbox = [];
  preverify(state, items.map((i) => i.message));
  const now = Date.now();
  for (const { from, message } of items) feed({ kind: 'message', from, message, now });
}

parentPort!.on('message', (msg: { kind: 'peer'; id: number; port: MessagePort } | { kind: 'clients'; port: MessagePort }) => {
  if (msg.kind === 'peer') {
    peers.set(msg.id, msg.port);
    msg.port.on('message', onBox);
  } else {
    clientPort = msg.port;
    msg.port.on('message', onBox);
  }
});
