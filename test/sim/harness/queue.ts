/** A min-heap of timed events; ties run in insertion order, so a run is fully determined. */
interface Ev {
  at: number;
  order: number;
  run: () => void;
}

export class EventQueue {
  #heap: Ev[] = [];
  #order = 0;
  now = 0;

  at(time: number, run: () => void): void {
    this.#push({ at: Math.max(time, this.now), order: this.#order++, run });
  }

  after(delay: number, run: () => void): void {
    this.at(this.now + delay, run);
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Runs the next event; false when none is left or the next is after `until`. */
  runNext(until: number): boolean {
    const top = this.#heap[0];
    if (top === undefined || top.at > until) return false;
    const last = this.#heap.pop()!;
    if (this.#heap.length > 0) {
      this.#heap[0] = last;
      this.#down(0);
    }
    this.now = top.at;
    top.run();
    return true;
  }

  #less(a: Ev, b: Ev): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  #push(e: Ev): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
