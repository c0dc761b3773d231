import { Inject, Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Socket } from 'socket.io';
import { RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle, describe } from '../connections/connection-lifecycle.js';
import { sessionOf, type ConnectionSession } from '../connections/connection-session.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { THROTTLER_BLOCK_DURATION, THROTTLER_LIMIT, THROTTLER_SKIP, THROTTLER_TTL, WS_THROTTLER_NAME } from './throttler-metadata.constants.js';
import { WsThrottlerStorage, type WsThrottlerStorageRecord } from './ws-throttler-storage.interface.js';

/** The limit that applies to one handler, and whose counter it uses. */
export interface WsThrottleRule {
  /** `*` for the user's shared budget, else the gateway (and handler) with its own limit. */
  readonly scope: string;
  readonly limit: number;
  readonly ttl: number;
  readonly blockDuration: number;
}

type Resolvable = number | ((context: ExecutionContext) => number | Promise<number>);
type Handler = (...args: never[]) => unknown;

/**
 * Message rate limits, keyed by USER (tenant + user id of the authenticated session), so opening
 * more sockets, or spreading them over nodes with a shared storage, buys no extra messages.
 * The module installs it as a global guard (it runs before the gateways' own guards), for every
 * gateway handler; HTTP routes are left alone. In order, for each message:
 *  1. `@SkipThrottle()` / `@WsSkipThrottle()` on the handler or gateway: let through;
 *  2. the rule: a handler's (or gateway's) own `@Throttle({ default: { limit, ttl } })` /
 *     `@WsThrottle()` counts against its own counter; every other handler counts against the
 *     user's shared budget (`rateLimit.messageLimit` per `rateLimit.messageWindowMs`);
 *  3. count it in the {@link WsThrottlerStorage}; a storage failure refuses (`SERVICE_UNAVAILABLE`);
 *  4. over the limit: `RATE_LIMITED` with `retryAfterMs` (the ack resolves through the exception
 *     filter). A socket refused more than `rateLimit.strikes` times in a row, without one accepted
 *     message in between, is told (`exception` `RATE_LIMITED`) and disconnected.
 */
@Injectable()
export class WsThrottlerGuard implements CanActivate {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly strikes = new WeakMap<Socket, number>();
  private readonly rules = new WeakMap<Handler, WeakMap<object, WsThrottleRule | null>>();
  private readonly shared: WsThrottleRule;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(WsThrottlerStorage) private readonly storage: WsThrottlerStorage,
    private readonly reflector: Reflector,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly events: SecurityEventsService,
  ) {
    const { messageLimit, messageWindowMs } = options.rateLimit;
    this.shared = Object.freeze({ scope: '*', limit: messageLimit, ttl: messageWindowMs, blockDuration: 0 });
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'ws' || this.options.rateLimit.messageLimit === 0 || this.isSkipped(context)) return true;
    const socket = context.switchToWs().getClient<Socket>();
    const session = sessionOf(socket);
    if (session === undefined) throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    const rule = await this.ruleFor(context);
    let record: WsThrottlerStorageRecord;
    try {
      record = await this.storage.increment(this.keyFor(rule, session), rule.ttl, rule.limit, rule.blockDuration, WS_THROTTLER_NAME);
    } catch (error) {
      this.logger.error(`message rate storage failed: ${describe(error)}`);
      throw new WsSecurityException(SecurityErrorCode.SERVICE_UNAVAILABLE);
    }
    if (!record.isBlocked) {
      this.strikes.delete(socket);
      return true;
    }
    return this.refuse(context, session, record);
  }

  protected isSkipped(context: ExecutionContext): boolean {
    return this.reflector.getAllAndOverride<boolean | undefined>(THROTTLER_SKIP + WS_THROTTLER_NAME, [context.getHandler(), context.getClass()]) === true;
  }

  /** The handler's rule; cached per handler and gateway unless a value is computed per message. */
  protected async ruleFor(context: ExecutionContext): Promise<WsThrottleRule> {
    const handler = context.getHandler() as Handler;
    const gateway = context.getClass();
    let byGateway = this.rules.get(handler);
    const cached = byGateway?.get(gateway);
    if (cached !== undefined && cached !== null) return cached;
    const targets = [handler, gateway];
    const limit = this.reflector.getAllAndOverride<Resolvable | undefined>(THROTTLER_LIMIT + WS_THROTTLER_NAME, targets);
    const ttl = this.reflector.getAllAndOverride<Resolvable | undefined>(THROTTLER_TTL + WS_THROTTLER_NAME, targets);
    const block = this.reflector.getAllAndOverride<Resolvable | undefined>(THROTTLER_BLOCK_DURATION + WS_THROTTLER_NAME, targets);
    let rule: WsThrottleRule;
    if (limit === undefined && ttl === undefined) {
      rule = this.shared;
    } else {
      const own = this.reflector.get<unknown>(THROTTLER_LIMIT + WS_THROTTLER_NAME, handler) !== undefined
        || this.reflector.get<unknown>(THROTTLER_TTL + WS_THROTTLER_NAME, handler) !== undefined;
      rule = {
        scope: own ? `${gateway.name}.${handler.name}` : gateway.name,
        limit: await numberOf('limit', limit ?? this.shared.limit, context),
        ttl: await numberOf('ttl', ttl ?? this.shared.ttl, context),
        blockDuration: await numberOf('blockDuration', block ?? 0, context),
      };
    }
    const dynamic = [limit, ttl, block].some((v) => typeof v === 'function');
    if (byGateway === undefined) {
      byGateway = new WeakMap();
      this.rules.set(handler, byGateway);
    }
    byGateway.set(gateway, dynamic ? null : rule);
    return rule;
  }

  /** One counter per user and scope; the user key is URI-encoded, so it cannot collide. */
  protected keyFor(rule: WsThrottleRule, session: ConnectionSession): string {
    return `ws:${rule.scope}:${session.userKey}`;
  }

  /** Throws `RATE_LIMITED`; past the strikes, disconnects first. Reports the first refusal of a run only. */
  protected refuse(context: ExecutionContext, session: ConnectionSession, record: WsThrottlerStorageRecord): never {
    const socket = session.socket;
    const retryAfterMs = Math.max(1, record.timeToBlockExpire) * 1000;
    const strikes = (this.strikes.get(socket) ?? 0) + 1;
    const penalty = strikes > this.options.rateLimit.strikes;
    if (strikes === 1 || penalty) {
      const { userId, tenantId } = session.principal;
      const pattern: unknown = context.switchToWs().getPattern();
      this.events.emit({
        kind: 'rate_limited',
        code: SecurityErrorCode.RATE_LIMITED,
        userId,
        tenantId,
        namespace: socket.nsp.name,
        ...(typeof pattern === 'string' ? { event: pattern } : {}),
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

async function numberOf(name: string, value: Resolvable, context: ExecutionContext): Promise<number> {
  const resolved = typeof value === 'function' ? await value(context) : value;
  if (typeof resolved !== 'number' || !Number.isFinite(resolved) || resolved < 0) {
    throw new Error(`WsThrottlerGuard: the throttle \`${name}\` of ${context.getClass().name}.${context.getHandler().name} is not a non-negative number. Fix its @Throttle()/@WsThrottle() value.`);
  }
  return resolved;
}
