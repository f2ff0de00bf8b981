/**
 * Inbound connections not yet authenticated: accepted by TCP, their TLS handshake or introduction
 * under way. Nobody is known yet, so nothing here may let strangers keep a real peer out:
 *
 *  - every connection must authenticate within `deadlineMs` of being accepted;
 *  - a source address (an IPv6 /64) holds at most `maxPerAddress`; a new connection from it evicts
 *    that address's oldest;
 *  - the pool holds at most `maxPending`; a new connection evicts the oldest of the address holding
 *    the most, so one that has a share of one (a peer reconnecting) outlives a flood from few
 *    addresses.
 *
 * Either way connections that have not even sent a TLS ClientHello (idle sockets: what costs an
 * attacker nothing to hold open) go first; a peer's ClientHello follows its connect at once.
 */
export type EvictionReason = 'pending-full' | 'address-full' | 'pre-auth-timeout';

export interface PendingLimits {
  readonly maxPending: number;
  readonly maxPerAddress: number;
  readonly deadlineMs: number;
}

/** What the pool needs of a socket: where it comes from, how to drop it, when it is gone. */
export interface PendingSocket {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

interface Entry {
  readonly key: string;
  readonly group: string;
  readonly socket: PendingSocket;
  readonly timer: NodeJS.Timeout;
  hello: boolean;
  evicted: boolean;
  /** Who refuses the connection when it is evicted (a connection held for an introduction); else the pool's default. */
  owner: ((reason: EvictionReason) => void) | null;
}

/** One TCP connection, as both its raw socket and its TLS socket can name it. */
export function connectionKey(address: string | undefined, port: number | undefined): string {
  return `${address ?? '?'}|${port ?? '?'}`;
}

/** The unit a limit applies to: an IPv4 address, or an IPv6 /64 (one host typically holds a whole one). */
export function addressGroup(address: string | undefined): string {
  if (address === undefined || address === '') return '?';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4 !== null) return v4[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const full = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${full.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class PendingPool {
  /** Live entries and evicted ones whose socket has not closed yet (so their errors are not counted twice). */
  private readonly entries = new Map<string, Entry>();
  /** Live entries, oldest first. */
  private readonly live = new Set<Entry>();
  private readonly groups = new Map<string, Set<Entry>>();
  /** Sockets evicted: the TLS layer reports their failed handshake after they are gone. */
  private readonly evictedSockets = new WeakSet<object>();

  constructor(
    private readonly limits: PendingLimits,
    /** Drops (and counts) an evicted connection no owner has claimed. */
    private readonly evicted: (socket: PendingSocket, reason: EvictionReason) => void,
  ) {}

  get size(): number {
    return this.live.size;
  }

  /** A connection just accepted: room is made for it (see above), then it is pending until settled or closed. */
  add(socket: PendingSocket): void {
    const key = connectionKey(socket.remoteAddress, socket.remotePort);
    const group = addressGroup(socket.remoteAddress);
    const same = this.groups.get(group);
    if (same !== undefined && same.size >= this.limits.maxPerAddress) this.evict(firstIdle(same), 'address-full');
    else if (this.live.size >= this.limits.maxPending) this.evict(this.victim(), 'pending-full');
    const timer = setTimeout(() => this.evict(entry, 'pre-auth-timeout'), this.limits.deadlineMs);
    timer.unref();
    const entry: Entry = { key, group, socket, timer, hello: false, evicted: false, owner: null };
    this.entries.set(key, entry);
    this.live.add(entry);
    if (same === undefined) this.groups.set(group, new Set([entry]));
    else same.add(entry);
    socket.once('close', () => {
      this.forget(entry);
      // The TLS layer may report the close after this; the entry answers `wasEvicted` until then.
      setImmediate(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    });
  }

  /** The connection's TLS ClientHello arrived: it is no longer idle. */
  hello(key: string): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) entry.hello = true;
  }

  /** Who refuses the connection if it is evicted from now on (a connection held for its introduction). */
  own(key: string, refuse: (reason: EvictionReason) => void): void {
    const entry = this.entries.get(key);
    if (entry !== undefined && !entry.evicted) entry.owner = refuse;
  }

  /** Authenticated, or refused by its owner: no longer pending. */
  settle(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.forget(entry);
    if (!entry.evicted) this.entries.delete(key);
  }

  /**
   * Whether the connection was evicted (its handshake's failure is then no news), by its raw
   * socket, or by its key while its address is still known.
   */
  wasEvicted(socket: object | undefined, key: string): boolean {
    return (socket !== undefined && this.evictedSockets.has(socket)) || this.entries.get(key)?.evicted === true;
  }

  private evict(entry: Entry, reason: EvictionReason): void {
    if (!this.live.has(entry)) return;
    this.forget(entry);
    entry.evicted = true;
    this.evictedSockets.add(entry.socket);
    if (entry.owner !== null) entry.owner(reason);
    else this.evicted(entry.socket, reason);
  }

  private forget(entry: Entry): void {
    clearTimeout(entry.timer);
    if (!this.live.delete(entry)) return;
    const group = this.groups.get(entry.group);
    group?.delete(entry);
    if (group?.size === 0) this.groups.delete(entry.group);
  }

  /** The oldest idle connection (else the oldest) of the address holding the most such connections. */
  private victim(): Entry {
    const idle = [...this.live].filter((e) => !e.hello);
    const candidates = idle.length > 0 ? idle : [...this.live];
    const byGroup = new Map<string, Entry[]>();
    for (const e of candidates) {
      const list = byGroup.get(e.group);
      if (list === undefined) byGroup.set(e.group, [e]);
      else list.push(e);
    }
    let best: Entry[] = [];
    // Oldest first within each list, and the lists in order of their oldest entry: ties go to the oldest.
    for (const list of byGroup.values()) if (list.length > best.length) best = list;
    return best[0]!;
  }
}

function firstIdle(entries: ReadonlySet<Entry>): Entry {
  for (const e of entries) if (!e.hello) return e;
  return entries.values().next().value!;
}
