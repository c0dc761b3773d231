import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle, describe } from '../connections/connection-lifecycle.js';
import type { ConnectionSession } from '../connections/connection-session.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { WS_THROTTLER_NAME } from './throttler-metadata.constants.js';
import { WsThrottlerStorage, type WsThrottlerStorageRecord } from './ws-throttler-storage.interface.js';
import { isThenable } from '../utils/is-thenable.js';
import { ThrottledLog } from '../utils/throttled-log.js';
import { InboundMessages } from './inbound-messages.js';

/**
 * Refusals a streak may get without strikes, as a multiple of the rule's limit: a burst of up to
 * ten times the limit, sent at once, is answered and forgiven; past that every refusal is a strike
 * even within `rateLimit.strikeGraceMs` (a flooder never gets an unbounded free ride).
 */
export const BURST_REFUSALS_PER_LIMIT = 10;

/** The longest a penalty close waits for the socket's pending acks to be answered. */
export const PENALTY_FLUSH_MS = 5000;

/** A socket's refusals since its last accepted message. */
interface Streak {
  /** When the first refusal of the streak was decided, and sent (epoch ms). */
  readonly startedAt: number;
  refusals: number;
  /** Refusals past the grace: the ones that count toward the penalty. */
  strikes: number;
}

/** A counter: its scope (`*` is the user's shared budget), limit, window and block duration. */
export interface WsThrottleRule {
  /** `*` for the user's shared budget, else the gateway (and handler) with its own limit. */
  readonly scope: string;
  readonly limit: number;
  readonly ttl: number;
  readonly blockDuration: number;
}

/**
 * Counts a user's messages and enforces the refusal and the progressive penalty, for every
 * event a client sends: handled ones (through `WsThrottlerGuard`), the refresh event, and those
 * dropped before any handler (unknown or reserved names) — so no event name is free to flood with.
 *
 * The penalty punishes a client that keeps sending after it was told, not a burst in flight:
 * a socket's refusals since its last accepted message form a streak. While the socket has sent
 * nothing that arrived `rateLimit.strikeGraceMs` or more after the streak's first refusal was sent
 * (the time that refusal needs to reach the client and the client to stop), its refusals, up to
 * {@link BURST_REFUSALS_PER_LIMIT} × the limit of them, are answered `RATE_LIMITED` and count no
 * strike: a burst in flight, however long a busy server takes to work through it. Every later
 * refusal is a strike; more than `rateLimit.strikes` strikes close the socket. The close is orderly: the socket is refused
 * everything from then on (without touching the storage), the acks it was already promised are
 * answered first (up to {@link PENALTY_FLUSH_MS}), then it is told (`exception` `RATE_LIMITED`)
 * and disconnected.
 */
@Injectable()
export class UserMessageBudget {
  private readonly logger = new Logger('RealtimeSecurity');
  /** A failing storage refuses every message: one log line per interval, not one each. */
  private readonly failures = new ThrottledLog(this.logger);
  private readonly streaks = new WeakMap<Socket, Streak>();
  /** Sockets being closed for the penalty, with the `retryAfterMs` they are answered with. */
  private readonly penalized = new WeakMap<Socket, number>();
  /** Each socket's arrivals and unanswered acks, as the message pipeline records them. */
  readonly inbound = new InboundMessages();
  /** The user's shared budget (`rateLimit.messageLimit` per `rateLimit.messageWindowMs`). */
  readonly shared: WsThrottleRule;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(WsThrottlerStorage) private readonly storage: WsThrottlerStorage,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly events: SecurityEventsService,
  ) {
    const { messageLimit, messageWindowMs } = options.rateLimit;
    this.shared = Object.freeze({ scope: '*', limit: messageLimit, ttl: messageWindowMs, blockDuration: 0 });
  }

  /** False when message rate limiting is off (`rateLimit.messageLimit: 0`). */
  get enabled(): boolean {
    return this.options.rateLimit.messageLimit !== 0;
  }

  /**
   * Counts one message of `session` against `rule` (the shared budget by default): synchronously
   * with a synchronous storage (it then throws), else through the promise it returns (which then
   * rejects). Refuses with `RATE_LIMITED` and `retryAfterMs` when over; a socket with more than
   * `rateLimit.strikes` strikes (refusals past the grace, see the class) is closed for the penalty.
   * A storage failure refuses with `SERVICE_UNAVAILABLE`.
   */
  charge(session: ConnectionSession, event: string | undefined, rule: WsThrottleRule = this.shared): void | Promise<void> {
    if (!this.enabled) return;
    const closing = this.penalized.get(session.socket);
    if (closing !== undefined) throw new WsSecurityException(SecurityErrorCode.RATE_LIMITED, { retryAfterMs: closing });
    let record: WsThrottlerStorageRecord | Promise<WsThrottlerStorageRecord>;
    try {
      record = this.storage.increment(`ws:${rule.scope}:${session.userKey}`, rule.ttl, rule.limit, rule.blockDuration, WS_THROTTLER_NAME);
    } catch (error) {
      throw this.storageFailed(error);
    }
    // A synchronous storage (the in-memory one) settles the message without a promise.
    if (!isThenable(record)) return this.settle(session, event, record, rule);
    // Normalised to a native promise: callers tell a synchronous answer from `instanceof Promise`.
    return Promise.resolve(record).then((settled) => this.settle(session, event, settled, rule), (error: unknown) => {
      throw this.storageFailed(error);
    });
  }

  private storageFailed(error: unknown): WsSecurityException {
    this.failures.error('storage', `message rate storage failed: ${describe(error)}`);
    return new WsSecurityException(SecurityErrorCode.SERVICE_UNAVAILABLE);
  }

  /**
   * While `socket` is being closed for the penalty (everything it sends is refused): the
   * `retryAfterMs` to answer with; `undefined` otherwise.
   */
  penaltyRetryAfterMs(socket: Socket): number | undefined {
    return this.penalized.get(socket);
  }

  /** Accepts the message, or refuses it (and counts a strike toward the penalty once past the grace). */
  private settle(session: ConnectionSession, event: string | undefined, record: WsThrottlerStorageRecord, rule: WsThrottleRule): void {
    const socket = session.socket;
    if (!record.isBlocked) {
      // Only a socket with a streak has an entry: no WeakMap write per accepted message.
      if (this.streaks.has(socket)) this.streaks.delete(socket);
      return;
    }
    const retryAfterMs = Math.max(1, record.timeToBlockExpire) * 1000;
    const closing = this.penalized.get(socket);
    if (closing !== undefined) throw new WsSecurityException(SecurityErrorCode.RATE_LIMITED, { retryAfterMs: closing });
    const now = Date.now();
    let streak = this.streaks.get(socket);
    if (streak === undefined) {
      streak = { startedAt: now, refusals: 0, strikes: 0 };
      this.streaks.set(socket, streak);
    }
    streak.refusals += 1;
    // Judged by what the socket has sent, not by when a busy server gets to it: a burst that
    // arrived before the grace ended is forgiven however long its processing takes.
    const lastArrivalAt = this.inbound.lastArrivalAt(socket) ?? now;
    const grace = this.options.rateLimit.strikeGraceMs;
    const inFlight = grace > 0 && lastArrivalAt - streak.startedAt < grace && streak.refusals <= rule.limit * BURST_REFUSALS_PER_LIMIT;
    if (!inFlight) streak.strikes += 1;
    const penalty = streak.strikes > this.options.rateLimit.strikes;
    if (streak.refusals === 1 || penalty) {
      const { userId, tenantId } = session.principal;
      this.events.emit({
        kind: 'rate_limited', code: SecurityErrorCode.RATE_LIMITED, userId, tenantId, namespace: socket.nsp.name,
        ...(event !== undefined ? { event } : {}),
      });
    }
    if (penalty) {
      this.streaks.delete(socket);
      this.penalize(session, retryAfterMs);
    }
    throw new WsSecurityException(SecurityErrorCode.RATE_LIMITED, { retryAfterMs });
  }

  /**
   * Closes a socket for the penalty, in order: from now on it is refused everything; the acks it
   * was promised (this refusal included) are answered; then it is told and disconnected.
   */
  private penalize(session: ConnectionSession, retryAfterMs: number): void {
    const socket = session.socket;
    this.penalized.set(socket, retryAfterMs);
    void this.inbound.settled(socket, PENALTY_FLUSH_MS).then(() => {
      // Handlers of messages without an ack, accepted before the penalty, finish on this turn.
      setImmediate(() => this.lifecycle.terminate(session, SecurityErrorCode.RATE_LIMITED));
    });
  }
}
