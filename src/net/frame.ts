/**
 * Length-prefixed frames: a u32 big-endian payload length, then the payload. A length of zero is a
 * keepalive: it proves the link is alive and is never delivered, which is why `send` refuses empty
 * frames. A length of CONTROL_MARKER (0xfffffffe, never an application frame's length) announces a
 * transport-level control frame: a second u32 length, then that many bytes, bounded by the same
 * limit, handed to the sink's `control` and never delivered as an application frame. The one control
 * frame so far is an introduction (`encodeIntroduction`).
 *
 * The decoder copies each byte once: a frame that sits inside one received chunk is copied out in
 * one step; a frame spread over several chunks is assembled into a buffer of its final size as the
 * chunks arrive. Nothing is re-concatenated, so a 16 MiB frame in 64 KiB chunks costs 16 MiB of
 * copying, not 2 GiB.
 */
export const FRAME_HEADER_BYTES = 4;
/** The header value that announces a control frame instead of an application frame's length. */
export const CONTROL_MARKER = 0xffff_fffe;
/** The largest application frame a u32 header can carry (CONTROL_MARKER and above are not lengths). */
export const MAX_FRAME_LIMIT = CONTROL_MARKER - 1;

export type DecodeResult = { readonly ok: true } | { readonly ok: false; readonly length: number };

export interface FrameSink {
  frame(payload: Uint8Array): void;
  keepalive(): void;
  /** A control frame's body; control frames are skipped when absent. */
  control?(body: Uint8Array): void;
}

export class FrameDecoder {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  /** The CONTROL_MARKER was read: the next header is a control frame's length. */
  private controlNext = false;
  /** The body being assembled is a control frame's. */
  private bodyIsControl = false;
  private failed = false;

  constructor(private maxFrameBytes: number) {}

  /**
   * The largest frame (application or control) accepted from the next header on; a connection
   * lowers it while an unauthenticated peer owes its introduction, so a stranger cannot make it
   * allocate a maximal frame.
   */
  set limit(bytes: number) {
    this.maxFrameBytes = bytes;
  }

  get limit(): number {
    return this.maxFrameBytes;
  }

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
        const control = this.controlNext;
        if (length === CONTROL_MARKER && !control) {
          this.controlNext = true;
          continue;
        }
        this.controlNext = false;
        if (length > this.maxFrameBytes) {
          this.failed = true;
          return { ok: false, length };
        }
        if (length === 0) {
          if (control) sink.control?.(new Uint8Array());
          else sink.keepalive();
          continue;
        }
        if (chunk.length - off >= length) {
          const payload = copyOut(chunk, off, length);
          off += length;
          if (control) sink.control?.(payload);
          else sink.frame(payload);
          continue;
        }
        this.body = Buffer.allocUnsafe(length);
        this.bodyFilled = 0;
        this.bodyIsControl = control;
      }
      const n = Math.min(this.body.length - this.bodyFilled, chunk.length - off);
      chunk.copy(this.body, this.bodyFilled, off, off + n);
      this.bodyFilled += n;
      off += n;
      if (this.bodyFilled === this.body.length) {
        const done = this.body;
        this.body = null;
        if (this.bodyIsControl) sink.control?.(done);
        else sink.frame(done);
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

/** The control frame kind of an introduction. */
const INTRODUCTION = 1;
const INTRODUCTION_HEAD_BYTES = 1 + 4;

/**
 * An introduction as it travels: CONTROL_MARKER, the body's length, then the body: the kind (u8),
 * the sender's node id (u32 big-endian) and the introduction's bytes. Null when the body would
 * exceed `maxFrameBytes` (the receiver would refuse the frame).
 */
export function encodeIntroduction(node: number, bytes: Uint8Array, maxFrameBytes: number): Buffer | null {
  const bodyLength = INTRODUCTION_HEAD_BYTES + bytes.length;
  if (bodyLength > maxFrameBytes || !Number.isInteger(node) || node < 0 || node > 0xffff_ffff) return null;
  const out = Buffer.allocUnsafe(2 * FRAME_HEADER_BYTES + bodyLength);
  out.writeUInt32BE(CONTROL_MARKER, 0);
  out.writeUInt32BE(bodyLength, FRAME_HEADER_BYTES);
  out.writeUInt8(INTRODUCTION, 2 * FRAME_HEADER_BYTES);
  out.writeUInt32BE(node, 2 * FRAME_HEADER_BYTES + 1);
  out.set(bytes, 2 * FRAME_HEADER_BYTES + INTRODUCTION_HEAD_BYTES);
  return out;
}

export type ControlFrame =
  | { readonly kind: 'introduction'; readonly node: number; readonly bytes: Uint8Array }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'malformed' };

/** Reads a control frame's body; kinds this version does not know are 'unknown' (to be ignored). */
export function decodeControl(body: Uint8Array): ControlFrame {
  if (body.length === 0) return { kind: 'malformed' };
  if (body[0] !== INTRODUCTION) return { kind: 'unknown' };
  if (body.length < INTRODUCTION_HEAD_BYTES) return { kind: 'malformed' };
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return { kind: 'introduction', node: view.getUint32(1), bytes: body.subarray(INTRODUCTION_HEAD_BYTES) };
}
