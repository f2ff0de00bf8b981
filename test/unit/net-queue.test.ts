import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBulwarkError } from '../../src/common/errors.ts';
import { Backoff } from '../../src/net/backoff.ts';
import { SendQueue } from '../../src/net/send-queue.ts';
import { DEFAULT_TUNING, resolveTuning } from '../../src/net/tls-options.ts';

test('the send queue refuses past either limit and hands out batches in order', () => {
  const q = new SendQueue({ maxBytes: 10, maxFrames: 3 });
  assert.equal(q.push(new Uint8Array(4)), true);
  assert.equal(q.push(new Uint8Array(4)), true);
  assert.equal(q.push(new Uint8Array(4)), false, 'bytes limit');
  assert.equal(q.push(new Uint8Array(1)), true);
  assert.equal(q.push(new Uint8Array(1)), false, 'frames limit');
  assert.equal(q.bytes, 9);
  assert.deepEqual(q.take(5).map((f) => f.length), [4], 'a batch stops before passing its size');
  assert.deepEqual(q.take(100).map((f) => f.length), [4, 1]);
  assert.equal(q.frames, 0);
  assert.equal(q.bytes, 0);
});

test('an oversized single frame still leaves, alone', () => {
  const q = new SendQueue({ maxBytes: 1000, maxFrames: 10 });
  q.push(new Uint8Array(500));
  q.push(new Uint8Array(10));
  assert.deepEqual(q.take(100).map((f) => f.length), [500]);
});

test('hasRoom turns true at half of each limit', () => {
  const q = new SendQueue({ maxBytes: 100, maxFrames: 100 });
  for (let i = 0; i < 6; i++) q.push(new Uint8Array(10));
  assert.equal(q.hasRoom(), false);
  q.take(10);
  assert.equal(q.hasRoom(), true);
});

test('a long-lived queue stays consistent through compaction', () => {
  const q = new SendQueue({ maxBytes: 1e9, maxFrames: 1e6 });
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 3000; i++) q.push(Uint8Array.of(next++ & 0xff));
    for (const f of q.take(2000)) assert.equal(f[0], expected++ & 0xff);
  }
  assert.equal(q.frames, next - expected);
});

test('back-off doubles from the base, caps, and stays within [ceiling/2, ceiling]', () => {
  const low = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
  const high = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.999999 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => low.next()), [50, 100, 200, 400, 500, 500]);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => high.next()), [100, 200, 400, 800, 1000, 1000]);
  low.reset();
  assert.equal(low.next(), 50);
});

test('transport options: defaults are valid, nonsense is refused with every problem named', () => {
  assert.deepEqual(resolveTuning(), DEFAULT_TUNING);
  assert.deepEqual(resolveTuning({ cipherSuites: ['TLS_CHACHA20_POLY1305_SHA256'] }).cipherSuites, ['TLS_CHACHA20_POLY1305_SHA256']);
  const refused = (tuning: object, fragment: string) =>
    assert.throws(
      () => resolveTuning(tuning),
      (e) => isBulwarkError(e, 'NET_OPTIONS_INVALID') && e.message.includes(fragment),
      fragment,
    );
  refused({ cipherSuites: ['ECDHE-RSA-AES128-GCM-SHA256'] }, 'cipherSuites');
  refused({ cipherSuites: [] }, 'cipherSuites');
  refused({ keepaliveIntervalMs: 5000, idleTimeoutMs: 4000 }, 'keepaliveIntervalMs must be below');
  refused({ maxFrameBytes: 1024, maxQueueBytes: 512 }, 'maxQueueBytes');
  refused({ maxFrameBytes: 2 ** 32 }, 'maxFrameBytes');
  refused({ handshakeTimeoutMs: 0 }, 'handshakeTimeoutMs');
  refused({ bogus: 1 }, 'bogus');
});
