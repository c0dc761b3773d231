import { Inject, Injectable, Logger } from '@nestjs/common';
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
import { hasLocalCounters, type LocalThrottlerCounters } from './local-throttler-counters.interface.js';
import type { LocalCounter } from './session-traffic.js';

/**
 * Refusals a streak may get without strikes, as a multiple of the rule's limit: a burst of up to
 * ten times the limit, sent at once, is answered and forgiven; past that every refusal is a strike
 * even within `rateLimit.strikeGraceMs` (a flooder never gets an unbounded free ride).
 */
export const BURST_REFUSALS_PER_LIMIT = 10;

/** The longest a penalty close waits for the socket's pending acks to be answered. */
export const PENALTY_FLUSH_MS = 5000;

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
  /** Each socket's arrivals and unanswered acks, as the message pipeline records them. */
  readonly inbound = new InboundMessages();
  /** The user's shared budget (`rateLimit.messageLimit` per `rateLimit.messageWindowMs`). */
  readonly shared: WsThrottleRule;
  /** The storage's own counters, when they live in this process: sessions hold theirs. */
  private readonly local: LocalThrottlerCounters | null;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(WsThrottlerStorage) private readonly storage: WsThrottlerStorage,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly events: SecurityEventsService,
  ) {
    const { messageLimit, messageWindowMs } = options.rateLimit;
    this.shared = Object.freeze({ scope: '*', limit: messageLimit, ttl: messageWindowMs, blockDuration: 0 });
    this.local = hasLocalCounters(storage) ? storage : null;
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
    const traffic = session.traffic;
    if (traffic.penaltyRetryAfterMs !== undefined) throw new WsSecurityException(SecurityErrorCode.RATE_LIMITED, { retryAfterMs: traffic.penaltyRetryAfterMs });
    if (this.local !== null) {
      // The session's own counter: no key built, no lookup, no record per message.
      let retryAfterSeconds: number;
      try {
        // Counted at its arrival, stamped by the message path (the clock is read once per message).
        const at = traffic.lastArrivalAt !== 0 ? traffic.lastArrivalAt : Date.now();
        retryAfterSeconds = this.local.hit(this.counterOf(session, rule, this.local), rule.ttl, rule.limit, rule.blockDuration, at);
      } catch (error) {
        throw this.storageFailed(error);
      }
      if (retryAfterSeconds === 0) {
        if (traffic.streak !== undefined) traffic.streak = undefined;
        return;
      }
      return this.refuse(session, event, retryAfterSeconds, rule);
    }
    let record: WsThrottlerStorageRecord | Promise<WsThrottlerStorageRecord>;
    try {
      record = this.storage.increment(counterKey(rule, session), rule.ttl, rule.limit, rule.blockDuration, WS_THROTTLER_NAME);
    } catch (error) {
      throw this.storageFailed(error);
    }
    // A synchronous storage settles the message without a promise.
    if (!isThenable(record)) return this.settle(session, event, record, rule);
    // Normalised to a native promise: callers tell a synchronous answer from `instanceof Promise`.
    return Promise.resolve(record).then((settled) => this.settle(session, event, settled, rule), (error: unknown) => {
      throw this.storageFailed(error);
    });
  }

  /** The session's counter for `rule` in a local storage (fetched again once the storage dropped it). */
  private counterOf(session: ConnectionSession, rule: WsThrottleRule, local: LocalThrottlerCounters): LocalCounter {
    const traffic = session.traffic;
    if (rule === this.shared) {
      let counter = traffic.sharedCounter;
      if (counter === undefined || counter.swept) counter = traffic.sharedCounter = local.counterFor(counterKey(rule, session), WS_THROTTLER_NAME);
      return counter;
    }
    const scoped = (traffic.scopedCounters ??= new Map());
    let counter = scoped.get(rule.scope);
    if (counter === undefined || counter.swept) {
      counter = local.counterFor(counterKey(rule, session), WS_THROTTLER_NAME);
      scoped.set(rule.scope, counter);
    }
    return counter;
  }

  private storageFailed(error: unknown): WsSecurityException {
    this.failures.error('storage', `message rate storage failed: ${describe(error)}`);
    return new WsSecurityException(SecurityErrorCode.SERVICE_UNAVAILABLE);
  }

  /**
   * While `socket` is being closed for the penalty (everything it sends is refused): the
   * `retryAfterMs` to answer with; `undefined` otherwise.
   */
  penaltyRetryAfterMs(session: ConnectionSession): number | undefined {
    return session.traffic.penaltyRetryAfterMs;
  }

  /** A storage's answer: accepts the message, or refuses it. */
  private settle(session: ConnectionSession, event: string | undefined, record: WsThrottlerStorageRecord, rule: WsThrottleRule): void {
    if (!record.isBlocked) {
      if (session.traffic.streak !== undefined) session.traffic.streak = undefined;
      return;
    }
    this.refuse(session, event, record.timeToBlockExpire, rule);
  }

  /** Refuses the message, and counts a strike toward the penalty once past the grace. */
  private refuse(session: ConnectionSession, event: string | undefined, retryAfterSeconds: number, rule: WsThrottleRule): never {
    const { socket, traffic } = session;
    const retryAfterMs = Math.max(1, retryAfterSeconds) * 1000;
    if (traffic.penaltyRetryAfterMs !== undefined) throw new WsSecurityException(SecurityErrorCode.RATE_LIMITED, { retryAfterMs: traffic.penaltyRetryAfterMs });
    const now = Date.now();
    let streak = traffic.streak;
    if (streak === undefined) {
      streak = { startedAt: now, refusals: 0, strikes: 0 };
      traffic.streak = streak;
    }
    streak.refusals += 1;
    // Judged by what the socket has sent, not by when a busy server gets to it: a burst that
    // arrived before the grace ended is forgiven however long its processing takes.
    const lastArrivalAt = this.inbound.lastArrivalAt(session) ?? now;
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
      traffic.streak = undefined;
      this.penalize(session, retryAfterMs);
    }
    throw new WsSecurityException(SecurityErrorCode.RATE_LIMITED, { retryAfterMs });
  }

  /**
   * Closes a socket for the penalty, in order: from now on it is refused everything; the acks it
   * was promised (this refusal included) are answered; then it is told and disconnected.
   */
  private penalize(session: ConnectionSession, retryAfterMs: number): void {
    session.traffic.penaltyRetryAfterMs = retryAfterMs;
    void this.inbound.settled(session, PENALTY_FLUSH_MS).then(() => {
      // Handlers of messages without an ack, accepted before the penalty, finish on this turn.
      setImmediate(() => this.lifecycle.terminate(session, SecurityErrorCode.RATE_LIMITED));
    });
  }
}

/** The storage key of a user's counter for `rule` (`ws:<scope>:<tenant/user>`). */
function counterKey(rule: WsThrottleRule, session: ConnectionSession): string {
  return `ws:${rule.scope}:${session.userKey}`;
}
