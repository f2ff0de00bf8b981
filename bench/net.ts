/**
 * TLS transport throughput over one loopback link: a client node streams 1 KiB frames to a replica
 * running in its own process (as in production: one process per node, so sender and receiver do not
 * share a CPU), with back-pressure respected — when `send` refuses, the sender waits for queue space
 * and sends the same frame again. Also the time to bring a link up: TCP, the mutual TLS 1.3
 * handshake, pinning and the acceptor's greeting.
 *
 *   npm run bench:net
 *   BENCH_FRAMES=1000000 BENCH_FRAME_BYTES=1024 BENCH_HANDSHAKES=20 npm run bench:net
 *
 * Prints progress on stderr, then one JSON object as the last line of stdout.
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseChainConfig } from '../src/execution/chain-config.ts';
import { TlsTransport } from '../src/net/tls-transport.ts';
import { generateNetwork, type GeneratedNetwork } from '../src/setup/generate.ts';
import { tlsNodesOf } from '../src/setup/transport-config.ts';

const FRAMES = Number(process.env.BENCH_FRAMES ?? 500_000);
const FRAME_BYTES = Number(process.env.BENCH_FRAME_BYTES ?? 1024);
const HANDSHAKES = Number(process.env.BENCH_HANDSHAKES ?? 20);
const WARMUP = Math.min(50_000, Math.ceil(FRAMES / 10));

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/** Replica 0 and client node 1, from a fixed seed, so both processes build the same network. */
function network(replicaPort: number): GeneratedNetwork {
  return generateNetwork({
    topology: { replicas: 1, clients: 1, replicaEndpoints: [{ host: '127.0.0.1', port: replicaPort }], clientEndpoints: [{ host: '127.0.0.1', port: 1 }] },
    chainConfig: parseChainConfig({ chainId: 1 }),
    seed: new Uint8Array(32).fill(42),
  });
}

function transport(net: GeneratedNetwork, id: 0 | 1): TlsTransport {
  const s = id === 0 ? net.replicas[0]! : net.clients[0]!;
  // No receive rate limit: the benchmark measures what one link carries (the default caps a peer at 128 MiB/s).
  return new TlsTransport({ self: id, nodes: tlsNodesOf(net.network), key: s.tls.key, certificate: s.tls.certificate.pem, tuning: { receiveBytesPerSecond: 0 } });
}

/** The receiving replica: counts frames and reports each time a target count is reached. */
async function receiver(port: number): Promise<void> {
  const t = transport(network(port), 0);
  let received = 0;
  let target = Infinity;
  t.onFrame(() => {
    if (++received === target) process.send!({ kind: 'reached', received });
  });
  process.on('message', (m: { kind: string; target?: number }) => {
    if (m.kind === 'expect') {
      target = m.target!;
      if (received >= target) process.send!({ kind: 'reached', received });
    }
    if (m.kind === 'stop') void t.close().then(() => process.exit(0));
  });
  await t.start();
  process.send!({ kind: 'listening' });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function linkUp(t: TlsTransport): Promise<number> {
  const up = new Promise<void>((resolve) => t.onPeerStatus((_peer, connected) => connected && resolve()));
  const start = performance.now();
  await t.start();
  await up;
  return performance.now() - start;
}

async function main(): Promise<void> {
  const port = await freePort();
  const net = network(port);
  const child = fork(fileURLToPath(import.meta.url), ['--receiver', String(port)], { execArgv: ['--import', 'tsx'] });
  const messages: Array<{ kind: string; received?: number }> = [];
  let wake: (() => void) | null = null;
  child.on('message', (m: { kind: string }) => {
    messages.push(m);
    wake?.();
  });
  const next = async (kind: string): Promise<void> => {
    for (;;) {
      const i = messages.findIndex((m) => m.kind === kind);
      if (i >= 0) {
        messages.splice(i, 1);
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  await next('listening');

  const handshakes: number[] = [];
  for (let i = 0; i < HANDSHAKES; i++) {
    const t = transport(net, 1);
    handshakes.push(await linkUp(t));
    await t.close();
  }
  handshakes.sort((a, b) => a - b);
  const handshakeMs = handshakes[Math.floor(handshakes.length / 2)]!;
  log(`link up (TCP + mutual TLS 1.3 + pin + greeting), median of ${HANDSHAKES}: ${handshakeMs.toFixed(2)} ms (min ${handshakes[0]!.toFixed(2)}, max ${handshakes.at(-1)!.toFixed(2)})`);

  const sender = transport(net, 1);
  await linkUp(sender);
  const frame = new Uint8Array(FRAME_BYTES).fill(7);
  let refusals = 0;
  const stream = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      while (!sender.send(0, frame)) {
        refusals++;
        await sender.waitForSpace(0);
      }
    }
  };
  child.send({ kind: 'expect', target: WARMUP });
  await stream(WARMUP);
  await next('reached');
  child.send({ kind: 'expect', target: WARMUP + FRAMES });
  refusals = 0;
  const start = performance.now();
  await stream(FRAMES);
  await next('reached');
  const seconds = (performance.now() - start) / 1000;
  const stats = sender.stats()[0]!;
  log(`${FRAMES} frames of ${FRAME_BYTES} bytes in ${seconds.toFixed(2)} s; queue-full refusals (waited, resent): ${refusals}; link errors: ${stats.errors}`);
  await sender.close();
  child.send({ kind: 'stop' });
  await new Promise((resolve) => child.once('exit', resolve));

  const framesPerSec = Math.round(FRAMES / seconds);
  const mbPerSec = Number(((FRAMES * FRAME_BYTES) / seconds / 1e6).toFixed(1));
  console.log(JSON.stringify({ framesPerSec, mbPerSec, handshakeMs: Number(handshakeMs.toFixed(2)) }));
}

if (process.argv[2] === '--receiver') await receiver(Number(process.argv[3]));
else await main();
