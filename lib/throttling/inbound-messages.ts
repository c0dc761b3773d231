import type { Socket } from 'socket.io';

type Ack = (...args: unknown[]) => void;

interface Inbound {
  /** When the socket's latest event reached the message pipeline (epoch ms). */
  lastArrivalAt: number;
  /** Acks promised and not answered yet. */
  pending: number;
  waiters: (() => void)[];
}

/**
 * What each socket has sent, as the message pipeline sees it on arrival (before any handler,
 * however late the handlers run on a busy server): when its latest event arrived, and the acks it
 * was promised and has not been answered yet. The rate-limit penalty reads the first to tell a
 * client still sending after a refusal from a burst that was already in flight, and waits for the
 * second before a penalty close, so the acks of messages accepted (or refused) before it arrive.
 */
export class InboundMessages {
  private readonly sockets = new WeakMap<Socket, Inbound>();

  /** Called for every event on arrival: stamps it and wraps its ack (the last argument, when a function) so its answer is counted. */
  track(socket: Socket, event: unknown[], now = Date.now()): void {
    let entry = this.sockets.get(socket);
    if (entry === undefined) {
      entry = { lastArrivalAt: now, pending: 0, waiters: [] };
      this.sockets.set(socket, entry);
    } else {
      entry.lastArrivalAt = now;
    }
    const last = event.length - 1;
    const ack = event[last];
    if (last < 1 || typeof ack !== 'function') return;
    entry.pending += 1;
    const inbound = entry;
    let answered = false;
    event[last] = (...args: unknown[]) => {
      (ack as Ack)(...args);
      if (answered) return;
      answered = true;
      inbound.pending -= 1;
      if (inbound.pending === 0 && inbound.waiters.length > 0) for (const waiter of inbound.waiters.splice(0)) waiter();
    };
  }

  /** When the socket's latest event arrived; `undefined` before its first. */
  lastArrivalAt(socket: Socket): number | undefined {
    return this.sockets.get(socket)?.lastArrivalAt;
  }

  /** Acks promised on `socket` and not answered yet. */
  pending(socket: Socket): number {
    return this.sockets.get(socket)?.pending ?? 0;
  }

  /**
   * Resolves once every ack promised on `socket` so far has been answered, the socket has
   * disconnected, or `timeoutMs` has passed (a handler that never answers does not hold the close).
   */
  settled(socket: Socket, timeoutMs: number): Promise<void> {
    const entry = this.sockets.get(socket);
    if (entry === undefined || entry.pending === 0 || !socket.connected) return Promise.resolve();
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
}
