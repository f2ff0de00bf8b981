/**
 * Gauges every node serves beside its own (`replica/metrics.ts`, `client/metrics.ts`): which node
 * this is, and the disk its directory lives on — each store's size and the filesystem's free and
 * total bytes — read when scraped. Registered by the composition roots (`node/`), which know the
 * node directory and its stores.
 */
import { readdir, lstat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { Gauge, type Registry } from 'prom-client';

export interface NodeIdentity {
  readonly role: 'replica' | 'client';
  readonly id: number;
  readonly chainId: bigint;
  /** The node directory: its filesystem's free and total space are reported. */
  readonly dir: string;
  /** The node's databases by name (`data`, `state`): the bytes of their files are reported. */
  readonly stores: Readonly<Record<string, string>>;
}

export function registerNodeGauges(registry: Registry, node: NodeIdentity): void {
  const registers = [registry];
  const info = new Gauge({
    name: 'bulwark_node_info',
    help: 'Always 1; labelled with what this node is (role, id, chain id), to join on or to count nodes by role',
    labelNames: ['role', 'node_id', 'chain_id'],
    registers,
  });
  info.set({ role: node.role, node_id: String(node.id), chain_id: node.chainId.toString() }, 1);
  new Gauge({
    name: 'bulwark_store_disk_bytes',
    help: "Bytes of the files of each of the node's databases on disk (data: the ledger; state: a client node's own executed state)",
    labelNames: ['store'],
    registers,
    async collect() {
      for (const [store, path] of Object.entries(node.stores)) this.set({ store }, await treeBytes(path));
    },
  });
  // One statfs per scrape for both gauges; each reads the figures the other's collect left if recent.
  let fsFigures: Promise<{ free: number; size: number } | null> | null = null;
  let takenAt = -Infinity;
  const figures = () => {
    if (fsFigures === null || performance.now() - takenAt > 100) {
      takenAt = performance.now();
      fsFigures = statfs(node.dir).then(
        (s) => ({ free: s.bavail * s.bsize, size: s.blocks * s.bsize }),
        () => null,
      );
    }
    return fsFigures;
  };
  new Gauge({
    name: 'bulwark_disk_free_bytes',
    help: "Bytes available to this node on the filesystem holding its directory (what an unprivileged writer may still use)",
    registers,
    async collect() {
      const f = await figures();
      if (f !== null) this.set(f.free);
    },
  });
  new Gauge({
    name: 'bulwark_disk_size_bytes',
    help: "Total bytes of the filesystem holding this node's directory",
    registers,
    async collect() {
      const f = await figures();
      if (f !== null) this.set(f.size);
    },
  });
}

/** The bytes of every regular file under `path` (0 when it does not exist); files vanishing meanwhile (compactions) are skipped. */
export async function treeBytes(path: string): Promise<number> {
  const st = await lstat(path).catch(() => null);
  if (st === null) return 0;
  if (st.isFile()) return st.size;
  if (!st.isDirectory()) return 0;
  const entries = await readdir(path).catch(() => [] as string[]);
  const sizes = await Promise.all(entries.map((e) => treeBytes(join(path, e))));
  return sizes.reduce((a, b) => a + b, 0);
}
