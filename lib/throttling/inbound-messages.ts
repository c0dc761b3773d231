import type { ConnectionSession } from '../connections/connection-session.js';

type Ack = (...args: unknown[]) => void;

/**
 * What each socket has sent, as the message path sees it on arrival (before any handler,
 * however late the handlers run on a busy server): when its latest event arrived, and the acks it
 * was promised and has not been answered yet. The rate-limit penalty reads the first to tell a
 * client still sending after a refusal from a burst that was already in flight, and waits for the
 * second before a penalty close, so the acks of messages accepted (or refused) before it arrive.
 * Kept on the session (`session.traffic`): no lookup per message.
 */
export class InboundMessages {
  /** Called for every event on arrival: stamps it and wraps its ack (the last argument, when a function) so its answer is counted. */
  track(session: ConnectionSession, event: unknown[], now = Date.now()): void {
    const traffic = session.traffic;
    traffic.lastArrivalAt = now;
    const last = event.length - 1;
    const ack = event[last];
    if (last < 1 || typeof ack !== 'function') return;
    traffic.pendingAcks += 1;
    let answered = false;
    event[last] = (...args: unknown[]) => {
      (ack as Ack)(...args);
      if (answered) return;
      answered = true;
      traffic.pendingAcks -= 1;
      if (traffic.pendingAcks === 0 && traffic.ackWaiters !== null) {
        const waiters = traffic.ackWaiters;
        traffic.ackWaiters = null;
        for (const waiter of waiters) waiter();
      }
    };
  }

  /** When the socket's latest event arrived; `undefined` before its first. */
  lastArrivalAt(session: ConnectionSession): number | undefined {
    const at = session.traffic.lastArrivalAt;
    return at === 0 ? undefined : at;
  }

  /** Acks promised on the socket and not answered yet. */
  pending(session: ConnectionSession): number {
    return session.traffic.pendingAcks;
  }

  /**
   * Resolves once every ack promised on the socket so far has been answered, the socket has
   * disconnected, or `timeoutMs` has passed (a handler that never answers does not hold the close).
   */
  settled(session: ConnectionSession, timeoutMs: number): Promise<void> {
    const { traffic, socket } = session;
    if (traffic.pendingAcks === 0 || !socket.connected) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        socket.off('disconnect', finish);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      socket.once('disconnect', finish);
      (traffic.ackWaiters ??= []).push(finish);
    });
  }
}
