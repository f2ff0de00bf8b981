/**
 * Length-prefixed frames: a u32 big-endian payload length, then the payload. A length of zero is a
 * keepalive: it proves the link is alive and is never delivered, which is why `send` refuses empty
 * frames.
 *
 * The decoder copies each byte once: a frame that sits inside one received chunk is copied out in
 * one step; a frame spread over several chunks is assembled into a buffer of its final size as the
 * chunks arrive. Nothing is re-concatenated, so a 16 MiB frame in 64 KiB chunks costs 16 MiB of
 * copying, not 2 GiB.
 */
export const FRAME_HEADER_BYTES = 4;
/** The largest length a u32 header can carry. */
export const MAX_FRAME_LIMIT = 0xffff_ffff;

export type DecodeResult = { readonly ok: true } | { readonly ok: false; readonly length: number };

export interface FrameSink {
  frame(payload: Uint8Array): void;
  keepalive(): void;
}

export class FrameDecoder {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private failed = false;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds one chunk; stops at, and reports, the first frame longer than the limit. */
  push(chunk: Buffer, sink: FrameSink): DecodeResult {
    if (this.failed) return { ok: false, length: -1 };
    let off = 0;
    while (off < chunk.length) {
      if (this.body === null) {
        let length: number;
        if (this.headerFilled === 0 && chunk.length - off >= FRAME_HEADER_BYTES) {
          length = chunk.readUInt32BE(off);
          off += FRAME_HEADER_BYTES;
        } else {
          const n = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - off);
          chunk.copy(this.header, this.headerFilled, off, off + n);
          this.headerFilled += n;
          off += n;
          if (this.headerFilled < FRAME_HEADER_BYTES) break;
          this.headerFilled = 0;
          length = this.header.readUInt32BE(0);
        }
        if (length > this.maxFrameBytes) {
          this.failed = true;
          return { ok: false, length };
        }
        if (length === 0) {
          sink.keepalive();
          continue;
        }
        if (chunk.length - off >= length) {
          sink.frame(copyOut(chunk, off, length));
          off += length;
          continue;
        }
        this.body = Buffer.allocUnsafe(length);
        this.bodyFilled = 0;
      }
      const n = Math.min(this.body.length - this.bodyFilled, chunk.length - off);
      chunk.copy(this.body, this.bodyFilled, off, off + n);
      this.bodyFilled += n;
      off += n;
      if (this.bodyFilled === this.body.length) {
        const done = this.body;
        this.body = null;
        sink.frame(done);
      }
    }
    return { ok: true };
  }
}

/** An independent copy, so a small frame the caller keeps does not pin a 64 KiB read chunk. */
function copyOut(chunk: Buffer, off: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  chunk.copy(out, 0, off, off + length);
  return out;
}

/**
 * Encodes frames into one buffer: small frames are cheaper to copy than to hand to the socket one by
 * one (each `write` is a TLS record and a syscall).
 */
export function encodeFrames(frames: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const f of frames) total += FRAME_HEADER_BYTES + f.length;
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const f of frames) {
    out.writeUInt32BE(f.length, off);
    out.set(f, off + FRAME_HEADER_BYTES);
    off += FRAME_HEADER_BYTES + f.length;
  }
  return out;
}

export function encodeHeader(length: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  out.writeUInt32BE(length, 0);
  return out;
}

export const KEEPALIVE_FRAME: Buffer = Buffer.alloc(FRAME_HEADER_BYTES);
