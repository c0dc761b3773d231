/** A local counter of the in-memory storage, as a session holds it (see `LocalThrottlerCounters`). */
export interface LocalCounter {
  /** Set when the storage dropped this counter (idle): the holder fetches the key's current one. */
  swept: boolean;
}

/** A socket's refusals since its last accepted message. */
export interface Streak {
  /** When the first refusal of the streak was decided, and sent (epoch ms). */
  readonly startedAt: number;
  refusals: number;
  /** Refusals past the grace: the ones that count toward the penalty. */
  strikes: number;
}

/**
 * What the message path keeps per socket, on its session, so that a message reads and writes it
 * without a map lookup: arrival and pending acks (`InboundMessages`), the rate-limit streak and
 * penalty, and the counters it is charged to (`UserMessageBudget`).
 */
export class SessionTraffic {
  /** When the socket's latest event reached the message path (epoch ms); 0 before its first. */
  lastArrivalAt = 0;
  /** Acks promised and not answered yet. */
  pendingAcks = 0;
  /** Waiting for `pendingAcks` to reach 0 (a penalty close); null while nobody waits. */
  ackWaiters: (() => void)[] | null = null;
  /** Set while the socket is being closed for the rate-limit penalty: the `retryAfterMs` it is answered with. */
  penaltyRetryAfterMs: number | undefined = undefined;
  streak: Streak | undefined = undefined;
  /** The user's shared budget counter, when the storage is local. */
  sharedCounter: LocalCounter | undefined = undefined;
  /** Handler-scoped counters (`@WsThrottle` with its own limit), when the storage is local. */
  scopedCounters: Map<string, LocalCounter> | undefined = undefined;
}
