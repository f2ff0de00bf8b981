/**
 * A peer's bounded queue of frames waiting for its socket. Bounded in frames and in bytes: when
 * either limit would be passed the frame is refused (the caller counts the drop), because the
 * protocol above retransmits what matters and an unbounded queue to a slow or dead peer is how a
 * replica runs out of memory.
 */
export interface QueueLimits {
  readonly maxBytes: number;
  readonly maxFrames: number;
}

export class SendQueue {
  private items: Uint8Array[] = [];
  private head = 0;
  private queuedBytes = 0;

  constructor(private readonly limits: QueueLimits) {}

  get bytes(): number {
    return this.queuedBytes;
  }

  get frames(): number {
    return this.items.length - this.head;
  }

  push(frame: Uint8Array): boolean {
    if (this.frames + 1 > this.limits.maxFrames || this.queuedBytes + frame.length > this.limits.maxBytes) return false;
    this.items.push(frame);
    this.queuedBytes += frame.length;
    return true;
  }

  /**
   * Removes frames from the front until about `maxBytes` are taken (always at least one frame, so a
   * frame larger than the batch still goes out, alone).
   */
  take(maxBytes: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let taken = 0;
    while (this.head < this.items.length) {
      const next = this.items[this.head]!;
      if (out.length > 0 && taken + next.length > maxBytes) break;
      out.push(next);
      taken += next.length;
      this.head++;
    }
    this.queuedBytes -= taken;
    this.compact();
    return out;
  }

  /** True once the queue holds at most half of each limit: room for a burst again. */
  hasRoom(): boolean {
    return this.queuedBytes * 2 <= this.limits.maxBytes && this.frames * 2 <= this.limits.maxFrames;
  }

  /** Drops the consumed prefix now and then, so `take` stays O(frames taken) amortised. */
  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
