import { Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle } from '../connections/connection-lifecycle.js';
import type { ConnectionSession } from '../connections/connection-session.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityMetrics } from '../metrics/security-metrics.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { TransportLimits } from '../throttling/transport-limits.service.js';
import { UserMessageBudget } from '../throttling/user-message.budget.js';
import { HandshakePipeline } from './handshake.pipeline.js';
import { reply } from './socket-reply.js';

type Ack = (body: unknown) => void;
type SocketEvent = [string, ...unknown[]];

/**
 * What runs on every incoming event of an authenticated socket, before any handler, in order:
 *  1. the session is still open (a closed or banned session handles nothing);
 *  2. the token has not expired (plus grace): otherwise `TOKEN_EXPIRED` and the socket closes;
 *  3. a socket being closed for the rate-limit penalty is refused; otherwise the event's arrival
 *     is stamped and its ack counted as promised (`InboundMessages`, for the penalty);
 *  4. the refresh event is answered here, by the library, on every namespace (it counts against
 *     the user's message budget like any other event);
 *  5. the event name is screened (`TransportLimits.screen`: reserved or unhandled names dropped);
 *  6. everything else goes on to the gateway (where `@WsAuthorize` and the pipes run).
 * One `socket.use` middleware per socket does all of it.
 */
@Injectable()
export class MessagePipeline {
  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly handshake: HandshakePipeline,
    private readonly events: SecurityEventsService,
    private readonly budget: UserMessageBudget,
    private readonly limits: TransportLimits,
    private readonly metrics: SecurityMetrics,
  ) {}

  install(session: ConnectionSession): void {
    session.socket.use((event, next) => this.onEvent(session, event as SocketEvent, next));
  }

  private onEvent(session: ConnectionSession, event: SocketEvent, next: (err?: Error) => void): void {
    const ack = ackOf(event);
    const namespace = session.socket.nsp.name;
    this.metrics.messageReceived(namespace, event[0]);
    if (session.state !== 'open') {
      this.metrics.messageRefused(namespace, event[0], SecurityErrorCode.UNAUTHORIZED);
      reply(session.socket, ack, new WsSecurityException(SecurityErrorCode.UNAUTHORIZED).getBody());
      return;
    }
    if (this.lifecycle.isExpired(session)) {
      this.metrics.messageRefused(namespace, event[0], SecurityErrorCode.TOKEN_EXPIRED);
      reply(session.socket, ack, new WsSecurityException(SecurityErrorCode.TOKEN_EXPIRED).getBody());
      const { userId, tenantId } = session.principal;
      this.events.emit({ kind: 'token_expired', code: SecurityErrorCode.TOKEN_EXPIRED, userId, tenantId, namespace: session.socket.nsp.name, event: eventName(event) });
      this.lifecycle.terminate(session, SecurityErrorCode.TOKEN_EXPIRED);
      return;
    }
    // A socket being closed for the rate-limit penalty is refused everything, without a charge.
    const closing = this.budget.penaltyRetryAfterMs(session.socket);
    if (closing !== undefined) {
      reply(session.socket, ack, new WsSecurityException(SecurityErrorCode.RATE_LIMITED, { retryAfterMs: closing }).getBody());
      return;
    }
    // Stamped on arrival (the penalty tells a burst in flight from a client still sending), its
    // ack counted as promised (a penalty close answers it first).
    this.budget.inbound.track(session.socket, event);
    if (event[0] === this.options.tokens.refreshEvent) {
      void this.refresh(session, event[1], ackOf(event));
      return;
    }
    this.limits.screen(session.socket, event, next);
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

function eventName(event: SocketEvent): string | undefined {
  return typeof event[0] === 'string' ? event[0] : undefined;
}
