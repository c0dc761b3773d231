import type { PresenceChange } from '../presence/presence.interface.js';

/** An announced presence change travelling between nodes. */
export interface PresenceBusMessage {
  /** Who announced it (a node's `PresenceService`, or a node reaping a dead one); a service skips its own. */
  readonly origin: string;
  readonly change: PresenceChange;
}

/**
 * Carries announced presence changes to every node, so each node's `changes$` (and the
 * `presence_update` broadcast) also reports users connecting to or leaving other nodes. The
 * in-process default delivers within this process; cluster mode swaps in a Redis one. Delivery
 * may include the publisher; listeners skip their own origin and must not throw.
 */
export interface PresenceBus {
  publish(message: PresenceBusMessage): Promise<void>;
  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: (message: PresenceBusMessage) => void): () => void;
}

/** Injection token of the active {@link PresenceBus}. */
export const PresenceBus = Symbol('PresenceBus');
