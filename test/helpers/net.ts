/**
 * Test networks on loopback: seeded trusted setups on free ports, TLS transports with short timers,
 * and helpers that wait on transport events instead of sleeping.
 */
import { createServer } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { createHash } from 'node:crypto';
import type { TransportEvent } from '../../src/net/events.ts';
import { TlsTransport } from '../../src/net/tls-transport.ts';
import type { TlsTuning } from '../../src/net/tls-options.ts';
import type { NodeId } from '../../src/net/transport.ts';
import { parseChainConfig } from '../../src/execution/chain-config.ts';
import { generateNetwork, type GeneratedNetwork } from '../../src/setup/generate.ts';
import type { ClientSecrets, ReplicaSecrets } from '../../src/setup/node-directory.ts';
import { tlsNodesOf } from '../../src/setup/transport-config.ts';
import { tlsKeyToPem } from '../../src/setup/tls-key.ts';

/** Short timers so failures show within a test's budget, long enough for a loaded 2-CPU machine. */
export const FAST: Partial<TlsTuning> = {
  handshakeTimeoutMs: 2_000,
  idleTimeoutMs: 3_000,
  keepaliveIntervalMs: 500,
  reconnectBaseMs: 20,
  reconnectMaxMs: 250,
};

/** Ports the kernel just handed out and released: free unless another process races us for them. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A seeded network of `replicas` (any n ≥ 1: c = 0 and the largest f with n ≥ 3f + 1) and `clients`. */
export async function testNetwork(replicas: number, clients: number, seedLabel: string): Promise<GeneratedNetwork> {
  const ports = await freePorts(replicas + clients);
  const seed = createHash('sha256').update(seedLabel).digest();
  return generateNetwork({
    topology: {
      replicas,
      clients,
      replicaEndpoints: ports.slice(0, replicas).map((port) => ({ host: '127.0.0.1', port })),
      clientEndpoints: ports.slice(replicas).map((port) => ({ host: '127.0.0.1', port })),
    },
    chainConfig: parseChainConfig({ chainId: 1337 }),
    seed,
  });
}

export function secretsOf(net: GeneratedNetwork, id: NodeId): ReplicaSecrets | ClientSecrets {
  const s = [...net.replicas, ...net.clients].find((x) => x.id === id);
  if (s === undefined) throw new Error(`no node ${id}`);
  return s;
}

export function transportFor(net: GeneratedNetwork, id: NodeId, tuning: Partial<TlsTuning> = {}): TlsTransport {
  const s = secretsOf(net, id);
  return new TlsTransport({
    self: id,
    nodes: tlsNodesOf(net.network),
    key: s.tls.key,
    certificate: s.tls.certificate.pem,
    tuning: { ...FAST, ...tuning },
  });
}

/** Records every event and frame of a transport, and lets a test wait for the one it expects. */
export class Probe {
  readonly events: TransportEvent[] = [];
  readonly frames: Array<{ from: NodeId; frame: Uint8Array }> = [];
  private waiters: Array<() => void> = [];

  constructor(readonly transport: TlsTransport) {
    transport.onEvent((e) => this.push(() => this.events.push(e)));
    transport.onFrame((from, frame) => this.push(() => this.frames.push({ from, frame })));
  }

  /** Resolves with the first event (past or future) matching `match`; rejects after `ms`. */
  event(match: (e: TransportEvent) => boolean, what: string, ms = 10_000): Promise<TransportEvent> {
    return this.until(() => this.events.find(match), what, ms);
  }

  /** Waits until `count` frames from `from` have arrived. */
  framesFrom(from: NodeId, count: number, ms = 10_000): Promise<Uint8Array[]> {
    return this.until(
      () => {
        const got = this.frames.filter((f) => f.from === from).map((f) => f.frame);
        return got.length >= count ? got : undefined;
      },
      `${count} frames from ${from}`,
      ms,
    );
  }

  until<T>(check: () => T | undefined, what: string, ms = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const v = check();
        if (v === undefined) return false;
        clearTimeout(timer);
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events.slice(-10))}`));
      }, ms);
      const waiter = (): void => {
        if (attempt()) this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      if (!attempt()) this.waiters.push(waiter);
    });
  }

  private push(record: () => void): void {
    record();
    for (const w of [...this.waiters]) w();
  }
}

export const linkUp = (peer: NodeId) => (e: TransportEvent) => e.kind === 'link-up' && e.peer === peer;

/** Starts transports and waits until every link among them is up. */
export async function startAll(probes: readonly Probe[], links: ReadonlyArray<[NodeId, NodeId]>): Promise<void> {
  await Promise.all(probes.map((p) => p.transport.start()));
  const byId = new Map(probes.map((p) => [p.transport.self, p]));
  await Promise.all(
    links.flatMap(([a, b]) => [byId.get(a)!.event(linkUp(b), `link ${a}→${b}`), byId.get(b)!.event(linkUp(a), `link ${b}→${a}`)]),
  );
}

/** A raw TLS 1.3 client that can present any key and certificate and offer any ALPN, for attacks. */
export function rawTls(port: number, options: Partial<ConnectionOptions> & { keyPem?: string; certPem?: string; alpn?: string[] }): TLSSocket {
  const { keyPem, certPem, alpn, ...rest } = options;
  return tlsConnect({
    host: '127.0.0.1',
    port,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ecdhCurve: 'secp384r1',
    rejectUnauthorized: false,
    ...(keyPem === undefined ? {} : { key: keyPem }),
    ...(certPem === undefined ? {} : { cert: certPem }),
    ...(alpn === undefined ? {} : { ALPNProtocols: alpn }),
    ...rest,
  });
}

export function credentialsOf(net: GeneratedNetwork, id: NodeId): { keyPem: string; certPem: string } {
  const s = secretsOf(net, id);
  return { keyPem: tlsKeyToPem(s.tls.key), certPem: s.tls.certificate.pem };
}

/** Resolves when the socket is closed, whoever closed it. */
export function closed(socket: { once(event: 'close', cb: () => void): unknown; destroyed: boolean }): Promise<void> {
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
  });
}
