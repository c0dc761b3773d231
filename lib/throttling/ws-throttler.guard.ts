import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { sessionOf, type ConnectionSession } from '../connections/connection-session.js';
import { HandlerCache } from '../utils/handler-cache.js';
import { isThenable } from '../utils/is-thenable.js';
import { wsClientOf, wsPatternOf } from '../utils/ws-arguments.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { THROTTLER_BLOCK_DURATION, THROTTLER_LIMIT, THROTTLER_SKIP, THROTTLER_TTL, WS_THROTTLER_NAME } from './throttler-metadata.constants.js';
import { UserMessageBudget, type WsThrottleRule } from './user-message.budget.js';

type Resolvable = number | ((context: ExecutionContext) => number | Promise<number>);
type Handler = (...args: never[]) => unknown;

/**
 * Message rate limits, keyed by USER (tenant + user id of the authenticated session), so opening
 * more sockets, or spreading them over nodes with a shared storage, buys no extra messages.
 * The module runs it on every gateway handler as one step of the message path (`MessagePipeline`,
 * before authorization and the gateways' own guards); as a guard of its own it leaves HTTP routes
 * alone. In order, for each message:
 *  1. `@SkipThrottle()` / `@WsSkipThrottle()` on the handler or gateway: let through;
 *  2. the rule: a handler's (or gateway's) own `@Throttle({ default: { limit, ttl } })` /
 *     `@WsThrottle()` counts against its own counter; every other handler counts against the
 *     user's shared budget (`rateLimit.messageLimit` per `rateLimit.messageWindowMs`);
 *  3. count it through {@link UserMessageBudget} (which also counts the events no handler sees);
 *     a storage failure refuses (`SERVICE_UNAVAILABLE`); over the limit: `RATE_LIMITED` with
 *     `retryAfterMs` (the ack resolves through the exception filter). A socket refused more than `rateLimit.strikes` times in a row, without one accepted
 *     message in between, is told (`exception` `RATE_LIMITED`) and disconnected.
 */
@Injectable()
export class WsThrottlerGuard implements CanActivate {
  /** Static rules; `null` for a rule computed per message. */
  private readonly rules = new HandlerCache<WsThrottleRule | null>();
  private readonly skipped = new HandlerCache<boolean>();

  constructor(
    private readonly budget: UserMessageBudget,
    private readonly reflector: Reflector,
  ) {}

  private get shared(): WsThrottleRule {
    return this.budget.shared;
  }

  /**
   * Synchronous (no promise on the message's way) when the rule is static and the storage answers
   * synchronously, as the in-memory one does; a promise otherwise.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'ws') return true;
    const rule = this.ruleOf(context);
    if (rule === null) return true;
    const session = sessionOf(wsClientOf(context));
    if (session === undefined) throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    const charged = this.charge(session, eventOf(context), rule);
    return charged instanceof Promise ? charged.then(() => true) : true;
  }

  /**
   * The counter a gateway handler's messages are charged to: `null` when they are not counted
   * (`@SkipThrottle()`, or message limits off); a promise when a value is computed per message.
   * The message path reads it once per handler when it is static.
   */
  ruleOf(context: ExecutionContext): WsThrottleRule | null | Promise<WsThrottleRule> {
    if (!this.budget.enabled || this.isSkipped(context)) return null;
    return this.ruleFor(context);
  }

  /** Counts one message of `session` against `rule` (settled once the rule is). */
  charge(session: ConnectionSession, event: string | undefined, rule: WsThrottleRule | Promise<WsThrottleRule>): void | Promise<void> {
    return isThenable(rule) ? Promise.resolve(rule).then((resolved) => this.budget.charge(session, event, resolved)) : this.budget.charge(session, event, rule);
  }

  /** `@SkipThrottle()` / `@WsSkipThrottle()` on the handler or its gateway (read once per handler). */
  protected isSkipped(context: ExecutionContext): boolean {
    const handler = context.getHandler() as Handler;
    const gateway = context.getClass();
    let skip = this.skipped.get(handler, gateway);
    if (skip === undefined) {
      skip = this.reflector.getAllAndOverride<boolean | undefined>(THROTTLER_SKIP + WS_THROTTLER_NAME, [handler, gateway]) === true;
      this.skipped.set(handler, gateway, skip);
    }
    return skip;
  }

  /**
   * The handler's rule; cached per handler and gateway (and then answered synchronously) unless a
   * value is computed per message.
   */
  protected ruleFor(context: ExecutionContext): WsThrottleRule | Promise<WsThrottleRule> {
    const cached = this.rules.get(context.getHandler(), context.getClass());
    if (cached !== undefined && cached !== null) return cached;
    return this.readRule(context);
  }

  private async readRule(context: ExecutionContext): Promise<WsThrottleRule> {
    const handler = context.getHandler() as Handler;
    const gateway = context.getClass();
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
    this.rules.set(handler, gateway, dynamic ? null : rule);
    return rule;
  }
}

async function numberOf(name: string, value: Resolvable, context: ExecutionContext): Promise<number> {
  const resolved = typeof value === 'function' ? await value(context) : value;
  if (typeof resolved !== 'number' || !Number.isFinite(resolved) || resolved < 0) {
    throw new Error(`WsThrottlerGuard: the throttle \`${name}\` of ${context.getClass().name}.${context.getHandler().name} is not a non-negative number. Fix its @Throttle()/@WsThrottle() value.`);
  }
  return resolved;
}

function eventOf(context: ExecutionContext): string | undefined {
  const pattern = wsPatternOf(context);
  return typeof pattern === 'string' ? pattern : undefined;
}
