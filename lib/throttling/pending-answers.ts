import type { Socket } from 'socket.io';

type Ack = (...args: unknown[]) => void;

interface Pending {
  count: number;
  waiters: (() => void)[];
}

/**
 * Acks a socket has been promised and not answered yet: every event that reaches the message
 * pipeline with an ack is counted until its answer is written. A penalty close waits for them
 * (bounded), so messages accepted before the penalty are handled and their acks, like the
 * refusals already decided, reach the client before the connection closes.
 */
export class PendingAnswers {
  private readonly pending = new WeakMap<Socket, Pending>();

  /** Wraps the event's ack (the last argument, when a function) so its answer is counted. */
  track(socket: Socket, event: unknown[]): void {
    const last = event.length - 1;
    const ack = event[last];
    if (last < 1 || typeof ack !== 'function') return;
    let entry = this.pending.get(socket);
    if (entry === undefined) {
      entry = { count: 0, waiters: [] };
      this.pending.set(socket, entry);
    }
    entry.count += 1;
    const done = entry;
    let answered = false;
    event[last] = (...args: unknown[]) => {
      (ack as Ack)(...args);
      if (answered) return;
      answered = true;
      done.count -= 1;
      if (done.count === 0) this.release(socket, done);
    };
  }

  /** Answers promised on `socket` and not written yet. */
  count(socket: Socket): number {
    return this.pending.get(socket)?.count ?? 0;
  }

  /**
   * Resolves once every ack promised on `socket` so far has been answered, the socket has
   * disconnected, or `timeoutMs` has passed (a handler that never answers does not hold the close).
   */
  settled(socket: Socket, timeoutMs: number): Promise<void> {
    const entry = this.pending.get(socket);
    if (entry === undefined || entry.count === 0 || !socket.connected) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        socket.off('disconnect', finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      socket.once('disconnect', finish);
      entry.waiters.push(finish);
    });
  }

  private release(socket: Socket, entry: Pending): void {
    const waiters = entry.waiters.splice(0);
    if (waiters.length === 0) this.pending.delete(socket);
    for (const waiter of waiters) waiter();
  }
}
