import type { RoomPresenceChange } from '../presence/presence.interface.js';

/** An announced room join or leave travelling between nodes. */
export interface RoomPresenceBusMessage {
  /** Who announced it (a node, or a node reaping a dead one); a node skips its own. */
  readonly origin: string;
  readonly change: RoomPresenceChange;
}

/**
 * Carries room joins and leaves to every node, so each node's `roomChanges$` and its
 * `presence_diff` to local members also cover members of other nodes. In-process by default,
 * on Redis in cluster mode. Listeners skip their own origin and must not throw.
 */
export interface RoomPresenceBus {
  publish(message: RoomPresenceBusMessage): Promise<void>;
  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: (message: RoomPresenceBusMessage) => void): () => void;
}

/** Injection token of the active {@link RoomPresenceBus}. */
export const RoomPresenceBus = Symbol('RoomPresenceBus');
