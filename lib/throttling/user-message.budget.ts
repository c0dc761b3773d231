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
 */
@Injectable()
export class UserMessageBudget {
  private readonly logger = new Logger('RealtimeSecurity');
  /** A failing storage refuses every message: one log line per interval, not one each. */
  private readonly failures = new ThrottledLog(this.logger);
  private readonly strikes = new WeakMap<Socket, number>();
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
   * rejects). Refuses with `RATE_LIMITED` and `retryAfterMs` when over; a socket refused more than `rateLimit.strikes`
   * times in a row, without an accepted message in between, is told and disconnected first.
   * A storage failure refuses with `SERVICE_UNAVAILABLE`.
   */
  charge(session: ConnectionSession, event: string | undefined, rule: WsThrottleRule = this.shared): void | Promise<void> {
    if (!this.enabled) return;
    let record: WsThrottlerStorageRecord | Promise<WsThrottlerStorageRecord>;
    try {
      record = this.storage.increment(`ws:${rule.scope}:${session.userKey}`, rule.ttl, rule.limit, rule.blockDuration, WS_THROTTLER_NAME);
    } catch (error) {
      throw this.storageFailed(error);
    }
    // A synchronous storage (the in-memory one) settles the message without a promise.
    if (!isThenable(record)) return this.settle(session, event, record);
    // Normalised to a native promise: callers tell a synchronous answer from `instanceof Promise`.
    return Promise.resolve(record).then((settled) => this.settle(session, event, settled), (error: unknown) => {
      throw this.storageFailed(error);
    });
  }

  private storageFailed(error: unknown): WsSecurityException {
    this.failures.error('storage', `message rate storage failed: ${describe(error)}`);
    return new WsSecurityException(SecurityErrorCode.SERVICE_UNAVAILABLE);
  }

  /** Accepts the message, or refuses it (and counts a strike toward the penalty). */
  private settle(session: ConnectionSession, event: string | undefined, record: WsThrottlerStorageRecord): void {
    const socket = session.socket;
    if (!record.isBlocked) {
      // Only a socket with strikes has an entry: no WeakMap write per accepted message.
      if (this.strikes.has(socket)) this.strikes.delete(socket);
      return;
    }
    const retryAfterMs = Math.max(1, record.timeToBlockExpire) * 1000;
    const strikes = (this.strikes.get(socket) ?? 0) + 1;
    const penalty = strikes > this.options.rateLimit.strikes;
    if (strikes === 1 || penalty) {
      const { userId, tenantId } = session.principal;
      this.events.emit({
        kind: 'rate_limited', code: SecurityErrorCode.RATE_LIMITED, userId, tenantId, namespace: socket.nsp.name,
        ...(event !== undefined ? { event } : {}),
      });
    }
    if (penalty) {
      this.strikes.delete(socket);
      this.lifecycle.terminate(session, SecurityErrorCode.RATE_LIMITED);
    } else {
      this.strikes.set(socket, strikes);
    }
    throw new WsSecurityException(SecurityErrorCode.RATE_LIMITED, { retryAfterMs });
  }
}
