import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { readAccessRule, type AccessRule } from '../authorization/access-rule.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle } from '../connections/connection-lifecycle.js';
import type { ConnectionSession } from '../connections/connection-session.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { WsAuthorizationGuard } from '../guards/ws-authorization.guard.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { SecurityMetrics } from '../metrics/security-metrics.js';
import { TransportLimits } from '../throttling/transport-limits.service.js';
import { UserMessageBudget, type WsThrottleRule } from '../throttling/user-message.budget.js';
import { WsThrottlerGuard } from '../throttling/ws-throttler.guard.js';
import { isThenable } from '../utils/is-thenable.js';
import { wsDataOf, wsPatternOf } from '../utils/ws-arguments.js';
import { HandshakePipeline } from './handshake.pipeline.js';
import { reply } from './socket-reply.js';

type Ack = (body: unknown) => void;
type SocketEvent = [string, ...unknown[]];

/** What one gateway handler needs checked, read once from its decorators. */
interface HandlerPlan {
  readonly gateway: object;
  /** `@WsPublic()`, `@WsAuthorize()` (method beats class), or denied. */
  readonly access: AccessRule;
  /**
   * The counter its messages are charged to, once known: a rule, or `null` (not counted);
   * `undefined` while it is read per message (not read yet, or computed per message).
   */
  rate: WsThrottleRule | null | undefined;
}

/**
 * Everything the library does with one incoming event of an authenticated socket, in order.
 *
 * On arrival (one `socket.use` middleware per socket; every event, handled or not):
 *  1. the session is open (`UNAUTHORIZED`);
 *  2. the token has not expired, plus grace (`TOKEN_EXPIRED`, and the socket closes);
 *  3. the socket is not being closed for the rate-limit penalty (`RATE_LIMITED`); the event's
 *     arrival is stamped and its ack counted as promised (a penalty close answers it first);
 *  4. the refresh event is answered here, on every namespace (charged to the user's budget);
 *  5. the event name is screened: reserved names (`BAD_REQUEST`) and names no handler listens to
 *     (`NOT_FOUND`) are dropped, each still charged to the user's budget.
 * Before the handler (`admit`: the module's one guard, first on every gateway, with the
 * handler's plan read once from its decorators):
 *  6. the session is still open (`UNAUTHORIZED`) and its user not banned (`BANNED`, and the
 *     socket closes);
 *  7. rate: `@SkipThrottle()` handlers are not counted; a handler's own `@WsThrottle()` /
 *     `@Throttle()` counts on its own counter, every other one on the user's shared budget, kept
 *     on the session (`RATE_LIMITED` with `retryAfterMs`; a storage failure `SERVICE_UNAVAILABLE`);
 *  8. access: `@WsPublic()` passes, no decorator is `FORBIDDEN`; `@WsAuthorize()` checks the
 *     resource id the message names (`VALIDATION_FAILED`), then the permission (`FORBIDDEN`).
 * Then Nest's pipes (`WsValidationPipe`: caps, forbidden keys and the DTO, in one walk for a flat
 * payload; `VALIDATION_FAILED`) and the handler; every refusal of steps 6 to 8, of the pipe or of
 * the handler reaches the exception filter, which answers the ack `{ error: { code, message } }`.
 * Steps 1 to 5 answer the ack themselves.
 */
@Injectable()
export class MessagePipeline {
  private readonly plans = new WeakMap<object, HandlerPlan>();
  /** Plans of a handler shared by several gateway classes (an inherited method), by gateway. */
  private readonly inheritedPlans = new WeakMap<object, WeakMap<object, HandlerPlan>>();

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly handshake: HandshakePipeline,
    private readonly events: SecurityEventsService,
    private readonly budget: UserMessageBudget,
    private readonly limits: TransportLimits,
    private readonly metrics: SecurityMetrics,
    private readonly authorization: WsAuthorizationGuard,
    private readonly throttler: WsThrottlerGuard,
  ) {}

  install(session: ConnectionSession): void {
    session.socket.use((event, next) => this.onArrival(session, event as SocketEvent, next));
  }

  /** True while this app holds `session` open (several apps may share a gateway class in one process). */
  owns(session: ConnectionSession): boolean {
    return this.lifecycle.holds(session);
  }

  /** Steps 1 to 5. */
  private onArrival(session: ConnectionSession, event: SocketEvent, next: (err?: Error) => void): void {
    const name = event[0];
    const socket = session.socket;
    this.metrics.messageReceived(socket.nsp.name, name);
    // 1. open session
    if (session.state !== 'open') {
      this.refuseOnArrival(session, event, SecurityErrorCode.UNAUTHORIZED);
      return;
    }
    // 2. unexpired token
    const now = Date.now();
    if (this.lifecycle.isExpired(session, now)) {
      this.refuseOnArrival(session, event, SecurityErrorCode.TOKEN_EXPIRED);
      const { userId, tenantId } = session.principal;
      this.events.emit({ kind: 'token_expired', code: SecurityErrorCode.TOKEN_EXPIRED, userId, tenantId, namespace: socket.nsp.name, event: typeof name === 'string' ? name : undefined });
      this.lifecycle.terminate(session, SecurityErrorCode.TOKEN_EXPIRED);
      return;
    }
    // 3. not being closed for the penalty (refused without a charge); stamped, its ack counted
    const closing = session.traffic.penaltyRetryAfterMs;
    if (closing !== undefined) {
      reply(socket, ackOf(event), new WsSecurityException(SecurityErrorCode.RATE_LIMITED, { retryAfterMs: closing }).getBody());
      return;
    }
    this.budget.inbound.track(session, event, now);
    // 4. the refresh event
    if (name === this.options.tokens.refreshEvent) {
      void this.refresh(session, event[1], ackOf(event));
      return;
    }
    // 5. the name
    this.limits.screen(socket, event, next);
  }

  /** Steps 6 to 8, for a message of `session` about to reach its handler. */
  admit(context: ExecutionContext, session: ConnectionSession): boolean | Promise<boolean> {
    const pattern = wsPatternOf(context);
    const event = typeof pattern === 'string' ? pattern : 'unknown';
    // 6. still open, not banned
    if (session.state !== 'open') throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    this.authorization.checkBan(session, event);
    const plan = this.planOf(context);
    // 7. rate
    let rate: WsThrottleRule | null | Promise<WsThrottleRule> | undefined = plan.rate;
    if (rate === undefined) {
      rate = this.throttler.ruleOf(context);
      if (!isThenable(rate)) plan.rate = rate;
    }
    if (rate !== null) {
      const charged = this.throttler.charge(session, typeof pattern === 'string' ? pattern : undefined, rate);
      if (charged instanceof Promise) return charged.then(() => this.authorization.authorize(plan.access, wsDataOf(context), session, event));
    }
    // 8. access
    return this.authorization.authorize(plan.access, wsDataOf(context), session, event);
  }

  private planOf(context: ExecutionContext): HandlerPlan {
    const handler = context.getHandler();
    const gateway = context.getClass();
    const plan = this.plans.get(handler);
    if (plan !== undefined && plan.gateway === gateway) return plan;
    const inherited = this.inheritedPlans.get(handler)?.get(gateway);
    if (inherited !== undefined) return inherited;
    // Decorators are applied when classes are defined: read once per handler and gateway.
    const created: HandlerPlan = { gateway, access: readAccessRule(handler, gateway), rate: undefined };
    if (plan === undefined) this.plans.set(handler, created);
    else {
      let byGateway = this.inheritedPlans.get(handler);
      if (byGateway === undefined) {
        byGateway = new WeakMap();
        this.inheritedPlans.set(handler, byGateway);
      }
      byGateway.set(gateway, created);
    }
    return created;
  }

  private refuseOnArrival(session: ConnectionSession, event: SocketEvent, code: SecurityErrorCode): void {
    this.metrics.messageRefused(session.socket.nsp.name, event[0], code);
    reply(session.socket, ackOf(event), new WsSecurityException(code).getBody());
  }

  private async refresh(session: ConnectionSession, payload: unknown, ack: Ack | undefined): Promise<void> {
    const token = payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as { token?: unknown }).token : undefined;
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
      this.metrics.messageRefused(session.socket.nsp.name, this.options.tokens.refreshEvent, SecurityErrorCode.VALIDATION_FAILED);
      reply(session.socket, ack, new WsSecurityException(SecurityErrorCode.VALIDATION_FAILED, {
        fields: [{ path: 'token', constraints: ['isJwt'] }],
      }).getBody());
      return;
    }
    try {
      // A refresh costs a signature check: it counts against the user's message budget.
      await this.budget.charge(session, this.options.tokens.refreshEvent);
      const { principal, override } = await this.handshake.authenticateToken(session.socket, token);
      const current = session.tokenPrincipal;
      if (principal.userId !== current.userId || principal.tenantId !== current.tenantId) {
        throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED, { message: 'Token is for another subject' });
      }
      if (session.state !== 'open') return;
      this.lifecycle.refresh(session, principal, override);
      reply(session.socket, ack, { ok: true, expiresAt: principal.expiresAt });
    } catch (error) {
      const code = error instanceof WsSecurityException ? error.code : SecurityErrorCode.SERVICE_UNAVAILABLE;
      const { userId, tenantId } = session.principal;
      // The budget reports its own refusals.
      if (code !== SecurityErrorCode.RATE_LIMITED) this.events.emit({ kind: code === SecurityErrorCode.BANNED ? 'banned' : 'handshake_refused', code, userId, tenantId, namespace: session.socket.nsp.name, event: this.options.tokens.refreshEvent });
      this.metrics.messageRefused(session.socket.nsp.name, this.options.tokens.refreshEvent, code);
      const body = error instanceof WsSecurityException ? error.getBody() : new WsSecurityException(code).getBody();
      reply(session.socket, ack, body);
      if (code === SecurityErrorCode.BANNED) this.lifecycle.terminate(session, code);
    }
  }
}

function ackOf(event: SocketEvent): Ack | undefined {
  const last = event[event.length - 1];
  return typeof last === 'function' ? (last as Ack) : undefined;
}
