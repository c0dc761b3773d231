import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { readAccessRule, type AccessRule, type PermissionRule } from '../authorization/access-rule.js';
import { checkResourceId } from '../authorization/resource-id.validator.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle } from '../connections/connection-lifecycle.js';
import { sessionOf, type ConnectionSession } from '../connections/connection-session.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { PermissionResolver } from '../interfaces/permission-resolver.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { ModerationService } from '../moderation/moderation.service.js';
import { HandlerCache } from '../utils/handler-cache.js';
import { wsClientOf, wsDataOf, wsPatternOf } from '../utils/ws-arguments.js';

/** Answers computed for a principal that changed meanwhile are recomputed, this many times at most. */
const MAX_RECHECKS = 3;

/**
 * Authorization of a gateway handler's message. The module runs its steps (the ban check and
 * `authorize`) inside the one-pass message path (`MessagePipeline`, steps 6 and 8); as a guard of
 * its own (`@UseGuards(WsAuthorizationGuard)`), in order:
 *  1. the socket has an open, unexpired session (`UNAUTHORIZED` / `TOKEN_EXPIRED`);
 *  2. the user is not banned (`BANNED`, and the socket closes);
 *  3. the handler's rule: `@WsPublic()` passes; no decorator is denied (`FORBIDDEN`);
 *  4. `@WsAuthorize(permission, { resource })`: the resource id named by the message is a valid
 *     id (`VALIDATION_FAILED`, never evaluated, never echoed), then the permission resolver
 *     decides on the principal's current permissions (`FORBIDDEN`).
 * A resolver that throws reaches the exception filter as `INTERNAL`. Extend it through the
 * protected hooks.
 */
@Injectable()
export class WsAuthorizationGuard implements CanActivate {
  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(PermissionResolver) private readonly resolver: PermissionResolver,
    private readonly moderation: ModerationService,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly events: SecurityEventsService,
  ) {}

  private readonly rules = new HandlerCache<AccessRule>();

  /**
   * Synchronous when the permission resolver answers synchronously (the claims resolver does):
   * no promise on the message's way. A promise when the resolver returns one.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'ws') {
      throw new Error('WsAuthorizationGuard guards WebSocket gateway handlers only; use an HTTP guard for controllers.');
    }
    const pattern = wsPatternOf(context);
    const event = typeof pattern === 'string' ? pattern : 'unknown';
    const session = this.getSession(wsClientOf(context), event);
    return this.authorize(this.getRule(context), wsDataOf(context), session, event);
  }

  /**
   * Steps 3 and 4 for a message of an open session (the message path runs them after its own
   * session and rate steps): `true`, or a coded refusal. Synchronous when the permission
   * resolver answers synchronously (the claims resolver does): no promise on the message's way.
   */
  authorize(rule: AccessRule, data: unknown, session: ConnectionSession, event: string): boolean | Promise<boolean> {
    if (rule.kind === 'public') return true;
    if (rule.kind === 'denied') this.throwForbidden(session, event, undefined);
    const resourceId = this.getResourceId(rule, data, session, event);
    const principal = session.principal;
    const answer = this.isAllowed(rule, resourceId, session, event);
    if (typeof answer === 'boolean') {
      // Nothing ran in between: the session and its principal are the ones just read.
      if (session.state !== 'open') throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
      if (answer !== true) this.throwForbidden(session, event, rule.permission);
      return true;
    }
    return this.settle(answer, principal, rule, resourceId, session, event);
  }

  /** An asynchronous answer: the session may have closed, or its permissions changed, meanwhile. */
  private async settle(first: Promise<boolean>, firstPrincipal: unknown, rule: PermissionRule, resourceId: string | undefined, session: ConnectionSession, event: string): Promise<boolean> {
    let pending: boolean | Promise<boolean> = first;
    let principal = firstPrincipal;
    for (let attempt = 0; attempt < MAX_RECHECKS; attempt += 1) {
      if (attempt > 0) {
        principal = session.principal;
        pending = this.isAllowed(rule, resourceId, session, event);
      }
      const allowed = await pending;
      if (session.state !== 'open') throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
      if (session.principal !== principal) continue;
      if (allowed !== true) this.throwForbidden(session, event, rule.permission);
      return true;
    }
    this.throwForbidden(session, event, rule.permission);
  }

  /** Steps 1 and 2: the live session, or a coded refusal. */
  protected getSession(socket: Socket | undefined, event: string): ConnectionSession {
    const session = sessionOf(socket);
    if (session === undefined || session.state !== 'open') throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    if (this.lifecycle.isExpired(session)) {
      const { userId, tenantId } = session.principal;
      this.events.emit({ kind: 'token_expired', code: SecurityErrorCode.TOKEN_EXPIRED, userId, tenantId, namespace: session.socket.nsp.name, event });
      this.lifecycle.terminate(session, SecurityErrorCode.TOKEN_EXPIRED);
      throw new WsSecurityException(SecurityErrorCode.TOKEN_EXPIRED);
    }
    this.checkBan(session, event);
    return session;
  }

  /** Step 2: a banned user's socket is refused `BANNED` and closed. */
  checkBan(session: ConnectionSession, event: string): void {
    if (!this.moderation.isBanned(session.userKey)) return;
    const { userId, tenantId } = session.principal;
    this.events.emit({ kind: 'banned', code: SecurityErrorCode.BANNED, userId, tenantId, namespace: session.socket.nsp.name, event });
    this.lifecycle.terminate(session, SecurityErrorCode.BANNED);
    throw new WsSecurityException(SecurityErrorCode.BANNED);
  }

  /** Step 3: the handler's rule (method beats class). */
  protected getRule(context: ExecutionContext): AccessRule {
    const handler = context.getHandler();
    const gateway = context.getClass();
    let rule = this.rules.get(handler, gateway);
    if (rule === undefined) {
      // Decorators are applied when classes are defined: read once per handler and gateway.
      rule = readAccessRule(handler, gateway);
      this.rules.set(handler, gateway, rule);
    }
    return rule;
  }

  /** Step 4a: the resource id the message names, validated; `undefined` when the rule names none. */
  protected getResourceId(rule: PermissionRule, data: unknown, session: ConnectionSession, event: string): string | undefined {
    if (rule.resource === undefined) return undefined;
    const id = checkResourceId(selectResource(rule.resource, data), this.options.authorization.resourceIdPattern);
    if (id !== null) return id;
    const { userId, tenantId } = session.principal;
    this.events.emit({ kind: 'validation_failed', code: SecurityErrorCode.VALIDATION_FAILED, userId, tenantId, namespace: session.socket.nsp.name, event, permission: rule.permission });
    // The payload's own shape is wrong (path ''), as validation pipes report it; else the property.
    const path = typeof rule.resource !== 'string' ? 'resource' : isRecord(data) ? rule.resource : '';
    throw new WsSecurityException(SecurityErrorCode.VALIDATION_FAILED, { fields: [{ path, constraints: ['resourceId'] }] });
  }

  /** Step 4b: the permission resolver's answer. */
  protected isAllowed(rule: PermissionRule, resourceId: string | undefined, session: ConnectionSession, event: string): boolean | Promise<boolean> {
    const principal = session.principal;
    const namespace = session.socket.nsp.name;
    const permission = rule.permission;
    return this.resolver.isAllowed(resourceId !== undefined ? { principal, permission, resourceId, namespace, event } : { principal, permission, namespace, event });
  }

  /** Reports and refuses with `FORBIDDEN`. */
  protected throwForbidden(session: ConnectionSession, event: string, permission: string | undefined): never {
    const { userId, tenantId } = session.principal;
    this.events.emit({
      kind: 'forbidden', code: SecurityErrorCode.FORBIDDEN, userId, tenantId, namespace: session.socket.nsp.name, event,
      ...(permission !== undefined ? { permission } : { reason: 'undecorated' }),
    });
    throw new WsSecurityException(SecurityErrorCode.FORBIDDEN);
  }
}

/** Reads the resource from the payload: an own property (never the prototype chain), or a function of it. */
function selectResource(selector: NonNullable<PermissionRule['resource']>, data: unknown): unknown {
  if (typeof selector === 'function') {
    try {
      return selector(data);
    } catch {
      return undefined;
    }
  }
  if (!isRecord(data) || !Object.hasOwn(data, selector)) return undefined;
  return data[selector];
}

function isRecord(data: unknown): data is Record<string, unknown> {
  return data !== null && typeof data === 'object' && !Array.isArray(data);
}
