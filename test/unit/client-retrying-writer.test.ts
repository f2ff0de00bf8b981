// Records a client node keeps for restarts (key records, stable checkpoints) are written without
// anyone waiting: on a full disk the write is reported and tried again, never an unhandled
// rejection (which would end the process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryingWriter } from '../../src/client/retrying-writer.ts';
import { storageError } from '../../src/storage/errors.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { BatchOp } from '../../src/storage/index.ts';

test('a failed write is reported with its code and written once the disk has room', async () => {
  const kv = new (class extends MemoryStore {
    full = true;
    override async write(ops: readonly BatchOp[], options?: { readonly sync?: boolean }): Promise<void> {
      if (this.full) throw storageError('STORAGE_IO', 'IO error: No space left on device');
      return super.write(ops, options);
    }
  })();
  const errors: unknown[] = [];
  const writer = new RetryingWriter(kv, (e) => errors.push(e), 20);
  const put = (k: number): BatchOp => ({ type: 'put', key: Uint8Array.of(0x21, k), value: Uint8Array.of(k) });
  writer.write([put(1)]);
  writer.write([put(2)]);
  await new Promise((r) => setTimeout(r, 70));
  assert.ok(errors.length >= 2, 'tried again');
  assert.equal((errors[0] as { code: string }).code, 'STORAGE_IO');
  kv.full = false;
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await kv.get(Uint8Array.of(0x21, 1)), Uint8Array.of(1));
  assert.deepEqual(await kv.get(Uint8Array.of(0x21, 2)), Uint8Array.of(2));
  assert.equal(writer.failures, errors.length);
  writer.close();
});
