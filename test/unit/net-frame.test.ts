import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeFrames, FrameDecoder, KEEPALIVE_FRAME } from '../../src/net/frame.ts';

function decodeAll(decoder: FrameDecoder, chunks: Buffer[]): { frames: Buffer[]; keepalives: number; error?: number } {
  const frames: Buffer[] = [];
  let keepalives = 0;
  for (const chunk of chunks) {
    const r = decoder.push(chunk, { frame: (f) => frames.push(Buffer.from(f)), keepalive: () => keepalives++ });
    if (!r.ok) return { frames, keepalives, error: r.length };
  }
  return { frames, keepalives };
}

/** Cuts a buffer at random points (a seeded walk, so a failure reproduces). */
function split(buf: Buffer, seed: number, maxPiece: number): Buffer[] {
  const out: Buffer[] = [];
  let s = seed;
  for (let off = 0; off < buf.length; ) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (s % maxPiece);
    out.push(buf.subarray(off, off + n));
    off += n;
  }
  return out;
}

test('frames and keepalives survive any split of the stream', () => {
  const frames = Array.from({ length: 200 }, (_, i) => randomBytes(1 + ((i * 7919) % 3000)));
  const wire = Buffer.concat([KEEPALIVE_FRAME, encodeFrames(frames.slice(0, 100)), KEEPALIVE_FRAME, encodeFrames(frames.slice(100))]);
  for (const [seed, maxPiece] of [
    [1, 1],
    [2, 3],
    [3, 5000],
    [4, 65536],
  ] as const) {
    const got = decodeAll(new FrameDecoder(1 << 20), split(wire, seed, maxPiece));
    assert.equal(got.error, undefined);
    assert.equal(got.keepalives, 2);
    assert.deepEqual(got.frames, frames, `seed ${seed}, pieces up to ${maxPiece}`);
  }
});

test('a large frame arriving in many chunks is assembled once, exactly', () => {
  const big = randomBytes(3 * 1024 * 1024 + 17);
  const got = decodeAll(new FrameDecoder(4 * 1024 * 1024), split(encodeFrames([big]), 9, 65536));
  assert.equal(got.frames.length, 1);
  assert.ok(got.frames[0]!.equals(big));
});

test('a frame over the limit stops the decoder and reports its length', () => {
  const decoder = new FrameDecoder(1024);
  const ok = randomBytes(1024);
  const got = decodeAll(decoder, [encodeFrames([ok, randomBytes(1025), ok])]);
  assert.equal(got.error, 1025);
  assert.deepEqual(got.frames, [ok], 'frames before the bad one are delivered, nothing after');
  assert.equal(decoder.push(encodeFrames([ok]), { frame: () => assert.fail(), keepalive: () => assert.fail() }).ok, false);
});

test('a length header announcing 4 GiB is refused before any allocation', () => {
  const got = decodeAll(new FrameDecoder(16 * 1024 * 1024), [Buffer.from([0xff, 0xff]), Buffer.from([0xff, 0xff, 1, 2, 3])]);
  assert.equal(got.error, 0xffffffff);
});

test('delivered frames do not alias the read buffer', () => {
  const chunk = encodeFrames([Buffer.from('abc'), Buffer.from('def')]);
  const seen: Uint8Array[] = [];
  new FrameDecoder(100).push(chunk, { frame: (f) => seen.push(f), keepalive: () => {} });
  chunk.fill(0);
  assert.deepEqual(seen.map((f) => Buffer.from(f).toString()), ['abc', 'def']);
});
