// The Node end of the sync socket shared with berth-nsexec and the container's init (protocol diagram in
// native/src/common/protocol.h): messages arrive on the event loop through an fd watcher, never by blocking.
import { DeadlineExceededError } from '@berth/errdefs';
import { closeSync } from 'node:fs';
import { native, type SyncMessage } from './native.ts';
import { SyncType } from './plan/tags.ts';

export class SyncChannel {
  private readonly fd: number;
  private readonly queue: (SyncMessage | Error)[] = [];
  private waiter?: (m: SyncMessage | Error) => void;
  private watcher?: { close(): void };
  private closed = false;

  constructor(fd: number) {
    this.fd = fd;
    const n = native();
    this.watcher = new n.FdWatcher(fd, () => this.drain());
  }

  private push(m: SyncMessage | Error): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(m);
    } else {
      this.queue.push(m);
    }
  }

  private drain(): void {
    const n = native();
    for (;;) {
      let m: SyncMessage | null;
      try {
        m = n.syncRecv(this.fd);
      } catch (err) {
        this.stopWatching();
        this.push(err as Error);
        return;
      }
      if (!m) return;
      this.push(m);
      if (m.type === SyncType.EOF) {
        this.stopWatching();
        return;
      }
    }
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** The next message (type 0 at EOF); rejects after `timeoutMs` with `what` in the message. */
  next(timeoutMs: number, what: string): Promise<SyncMessage> {
    const queued = this.queue.shift();
    if (queued) return queued instanceof Error ? Promise.reject(queued) : Promise.resolve(queued);
    if (!this.watcher) return Promise.resolve({ type: SyncType.EOF, value: 0, text: '', fd: -1 });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new DeadlineExceededError(`${what}: no answer from the container process within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        if (m instanceof Error) reject(m);
        else resolve(m);
      };
    });
  }

  send(type: number): void {
    native().syncSend(this.fd, type);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching();
    for (const m of this.queue) if (!(m instanceof Error) && m.fd >= 0) closeSync(m.fd);
    closeSync(this.fd);
  }
}
