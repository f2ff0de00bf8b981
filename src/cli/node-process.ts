/**
 * How a node process is started by the launchers here (`npm start`, the test and benchmark
 * networks): an explicit V8 heap limit, so that a leak ends at a known size on every machine and
 * V8 collects before the heap grows far past what is live, and glibc's allocator kept to two arenas.
 *
 * Measured with `npm run soak -- --rate max` (bench/RESULTS.md): with a 2,048 MB limit and a 64 MB
 * semi-space a replica's live heap of ~220 MB grew to 600 MB between collections, and with glibc's
 * default of 8 arenas per core the native heap fragmented; RSS reached 1.4 GB in 5 minutes. With
 * 768 MB, 32 MB and 2 arenas it stayed under 800 MB at the same throughput. Everything a replica
 * keeps is bounded well inside 768 MB (README, "Security limits").
 */
export const NODE_HEAP_MB = 768;
export const NODE_SEMI_SPACE_MB = 32;

/**
 * V8 flags for a node process, followed by those of `BULWARK_NODE_V8_FLAGS` (for diagnosis, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`, which Node refuses in NODE_OPTIONS).
 */
export function nodeV8Flags(
  heapMb: number = NODE_HEAP_MB,
  semiSpaceMb: number | undefined = NODE_SEMI_SPACE_MB,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const extra = (env.BULWARK_NODE_V8_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
  return [`--max-old-space-size=${heapMb}`, ...(semiSpaceMb === undefined ? [] : [`--max-semi-space-size=${semiSpaceMb}`]), ...extra];
}

/**
 * The environment of a node process: ours, with glibc's allocator told to keep two arenas and to
 * serve every block of 128 KiB or more with its own mapping (unless set). RocksDB allocates its
 * memtables and the buffers of each flush in large blocks; under glibc's default the threshold for
 * that rises to 32 MiB after the first such free, the blocks then come from the main heap, and a
 * replica's main heap grew by ~100 MB at each memtable flush and never shrank.
 */
export function nodeEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', ...env };
}
