/**
 * Run as a child process (`node --expose-gc --import tsx`, glibc mapping blocks of 128 KiB and more
 * on their own as node processes do): writes 100 batches of 512 puts of 4 KiB (2 MiB each) to a
 * new RocksDB store at argv[2], collects, and prints one JSON line: the RSS growth and RocksDB's
 * memtables, in MiB. Every batch's native WriteBatch should be gone by then.
 */
import { openRocksStore } from '../../src/storage/rocksdb.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
};

const store = await openRocksStore(process.argv[2]!);
const value = new Uint8Array(4096).fill(7);
await store.write([{ type: 'put', key: Uint8Array.of(0), value }]);
await settle();
const before = process.memoryUsage().rss;
for (let b = 0; b < 100; b++) {
  const ops = [];
  for (let i = 0; i < 512; i++) ops.push({ type: 'put' as const, key: Uint8Array.of(1, b, i >> 8, i & 255), value });
  await store.write(ops);
}
await settle();
const m = store.memoryUsage?.() ?? { memtables: 0, pinnedMemtables: 0 };
const MiB = 2 ** 20;
process.stdout.write(`${JSON.stringify({ rssGrowthMb: (process.memoryUsage().rss - before) / MiB, memtablesMb: (m.memtables + m.pinnedMemtables) / MiB })}\n`);
await store.close();
