/**
 * The shape of a network: how many replicas (n ≥ 3f + 2c + 1, SBFT's bound), how many client nodes,
 * and where each listens. Ids follow Concord-BFT: replicas 0..n-1, client nodes from `firstClient`
 * (n, unless ids are kept free for replicas added later: `maxReplicas`).
 */
import { isIP } from 'node:net';
import { BulwarkError } from '../common/errors.ts';
import { MAX_SIGNERS } from '../crypto/bitvector.ts';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface Topology {
  readonly f: number;
  readonly c: number;
  readonly n: number;
  /** The first client node id: n, or the `maxReplicas` asked for. */
  readonly firstClient: number;
  readonly replicas: readonly Endpoint[];
  readonly clients: readonly Endpoint[];
}

export interface TopologyInput {
  readonly f?: number;
  readonly c?: number;
  readonly replicas?: number;
  readonly clients: number;
  /** Replica ids to keep (0..maxReplicas-1) so replicas can be added later: client ids follow them. */
  readonly maxReplicas?: number;
  readonly replicaEndpoints?: readonly Endpoint[];
  readonly clientEndpoints?: readonly Endpoint[];
  /** Defaults for nodes without an explicit endpoint: this host, consecutive ports from basePort. */
  readonly host?: string;
  readonly basePort?: number;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_BASE_PORT = 7100;

function invalid(message: string, details: Record<string, unknown> = {}): BulwarkError {
  return new BulwarkError('SETUP_INVALID_INPUT', message, details);
}

/**
 * Resolves f, c and n from whichever of them were given, refusing combinations that do not fit
 * n ≥ 3f + 2c + 1. Given n without f, f is the largest that fits (five replicas: f = 1, one to
 * spare, the step from four to seven); given f without n, n is the least, 3f + 2c + 1.
 */
export function resolveFaults(input: { f?: number; c?: number; replicas?: number }): { f: number; c: number; n: number } {
  const c = input.c ?? 0;
  checkCount('c', c, 0);
  if (input.f !== undefined) checkCount('f', input.f, 0);
  if (input.replicas !== undefined) checkCount('replicas', input.replicas, 1);
  let f = input.f;
  if (f === undefined) {
    if (input.replicas === undefined) f = 1;
    else {
      const rest = input.replicas - 1 - 2 * c;
      if (rest < 0) {
        throw invalid(`${input.replicas} replicas do not fit n ≥ 3f + 2c + 1 with c = ${c} (n ≥ ${2 * c + 1})`, { replicas: input.replicas, c });
      }
      f = Math.floor(rest / 3);
    }
  }
  const least = 3 * f + 2 * c + 1;
  const n = input.replicas ?? least;
  if (n < least) {
    throw invalid(`--replicas ${n} contradicts f = ${f}, c = ${c} (n ≥ 3f + 2c + 1 = ${least})`, { replicas: n, f, c });
  }
  if (f === 0 && c > 0) throw invalid(`c = ${c} needs f ≥ 1 (slow replicas are tolerated only beside Byzantine ones)`, { f, c });
  if (n > MAX_SIGNERS) throw invalid(`n = ${n} exceeds the ${MAX_SIGNERS} replicas a signer bit-vector can name`);
  return { f, c, n };
}

export function resolveTopology(input: TopologyInput): Topology {
  const { f, c, n } = resolveFaults(input);
  checkCount('clients', input.clients, 0);
  const host = input.host ?? DEFAULT_HOST;
  checkHost(host, 'host');
  const basePort = input.basePort ?? DEFAULT_BASE_PORT;
  const total = n + input.clients;
  if (!Number.isInteger(basePort) || basePort < 1 || basePort + total - 1 > 65535) {
    throw invalid(`base port ${basePort} leaves no room for ${total} consecutive ports`, { basePort, total });
  }
  const replicas = endpoints('replica', input.replicaEndpoints, n, 0, host, basePort);
  const clients = endpoints('client', input.clientEndpoints, input.clients, n, host, basePort);
  const seen = new Set<string>();
  for (const e of [...replicas, ...clients]) {
    const key = `${e.host.toLowerCase()}:${e.port}`;
    if (seen.has(key)) throw invalid(`endpoint ${key} is given to two nodes`, { endpoint: key });
    seen.add(key);
  }
  const firstClient = input.maxReplicas ?? n;
  if (!Number.isInteger(firstClient) || firstClient < n || firstClient > MAX_SIGNERS) {
    throw invalid(`--max-replicas ${firstClient} must be at least the ${n} replicas and at most ${MAX_SIGNERS}`, { maxReplicas: firstClient, n });
  }
  return { f, c, n, firstClient, replicas, clients };
}

function endpoints(kind: string, given: readonly Endpoint[] | undefined, count: number, firstId: number, host: string, basePort: number): Endpoint[] {
  if (given === undefined) return Array.from({ length: count }, (_, i) => ({ host, port: basePort + firstId + i }));
  if (given.length !== count) {
    throw invalid(`${given.length} ${kind} endpoints given for ${count} ${kind} nodes`, { kind, given: given.length, count });
  }
  for (const e of given) {
    checkHost(e.host, `${kind} endpoint`);
    checkPort(e.port);
  }
  return [...given];
}

/** `host:port`, `[v6]:port`, or a bare host that takes its port from `defaultPort`. */
export function parseEndpoint(text: string, defaultPort?: number): Endpoint {
  const t = text.trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(t);
  if (m === null || m[1] === undefined) throw invalid(`cannot read endpoint "${text}" (expected host:port)`, { endpoint: text });
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined) throw invalid(`endpoint "${text}" has no port`, { endpoint: text });
  checkHost(m[1], 'endpoint');
  checkPort(port);
  return { host: m[1], port };
}

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function isValidHost(host: string): boolean {
  return isIP(host) !== 0 || HOSTNAME.test(host);
}

function checkHost(host: string, what: string): void {
  if (!isValidHost(host)) throw invalid(`${what} "${host}" is neither an IP address nor a host name`, { host });
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`port ${port} is not in 1..65535`, { port });
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw invalid(`${name} must be an integer ≥ ${min}, got ${value}`, { [name]: value });
}
