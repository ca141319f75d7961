/**
 * Coalesces requests to re-apply a whole rule set: a request made while a sync runs is served by the next one,
 * and requests arriving together share it. The returned promise settles once a sync that began after the
 * request has finished, so callers see their change in the kernel.
 */
export class CoalescingSync {
  private next: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  private running = false;

  private readonly apply: () => Promise<void>;

  constructor(apply: () => Promise<void>) {
    this.apply = apply;
  }

  request(): Promise<void> {
    if (!this.next) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.next = { promise, resolve, reject };
    }
    const p = this.next.promise;
    if (!this.running) void this.loop();
    return p;
  }

  private async loop(): Promise<void> {
    this.running = true;
    while (this.next) {
      const batch = this.next;
      this.next = undefined;
      try {
        await this.apply();
        batch.resolve();
      } catch (err) {
        batch.reject(err);
      }
    }
    this.running = false;
  }
}

/** Runs tasks for one key one after another (operations on one container must not interleave). */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(task, task);
    const tail = result.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
