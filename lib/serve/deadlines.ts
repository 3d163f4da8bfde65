/**
 * Many timeouts of the same length behind one timer.
 *
 * @module
 */

const COMPACT_MIN = 1024;
const settled = () => {};

/** One pending timeout. */
export interface Deadline {
  /** performance.now() when it expires. */
  at: number;
  /** Called once, when it expires before being settled. */
  expire: () => void;
  /** Settled or expired. */
  done: boolean;
}

/**
 * Deadlines that share one timeout length, in start order (so in deadline
 * order), behind a single timer: in Deno a timer per request costs more than
 * the rest of the bookkeeping of a small proxied GET. The timer is re-armed
 * for the oldest unsettled deadline when it fires, never cleared on the fast
 * path, and unref'd (the work it guards keeps a process alive, not it).
 */
export class DeadlineQueue {
  #items: Deadline[] = [];
  #head = 0;
  #compactAt = COMPACT_MIN;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Infinity;
  #ms: number;

  /** A queue whose deadlines expire `ms` after they are added. */
  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Starts a deadline; `expire` runs once if it is not settled within the timeout. */
  add(expire: () => void): Deadline {
    const deadline = { at: performance.now() + this.#ms, expire, done: false };
    if (this.#items.length >= this.#compactAt) {
      // Behind one slow request, settled deadlines pile up: drop them.
      this.#items = this.#items.slice(this.#head).filter((d) => !d.done);
      this.#head = 0;
      this.#compactAt = Math.max(COMPACT_MIN, this.#items.length * 2);
    }
    this.#items.push(deadline);
    if (this.#timer === undefined) this.#arm(deadline.at);
    return deadline;
  }

  /** Marks a deadline met (or moot): it will not expire. */
  settle(deadline: Deadline): void {
    deadline.done = true;
    deadline.expire = settled;
    this.#dropSettled();
  }

  /** Stops the timer; pending deadlines never expire. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
    this.#items = [];
    this.#head = 0;
  }

  #dropSettled(): void {
    const items = this.#items;
    while (this.#head < items.length && items[this.#head].done) this.#head++;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head > COMPACT_MIN && this.#head * 2 > items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedAt = at;
    const timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
    // Never what keeps a process alive: the requests themselves do.
    (timer as unknown as { unref?: () => void }).unref?.();
    this.#timer = timer;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = performance.now();
    // Re-read the list each time: an expiry may add deadlines (and compact).
    while (this.#head < this.#items.length) {
      const d = this.#items[this.#head];
      if (!d.done) {
        if (d.at > now) break;
        d.done = true;
        d.expire();
      }
      this.#head++;
    }
    this.#dropSettled();
    // (An expiry may have armed the timer for a later deadline than the head's.)
    if (this.#head < this.#items.length && this.#items[this.#head].at < this.#armedAt) {
      this.#arm(this.#items[this.#head].at);
    }
  }
}
