import type { IncomingHttpHeaders } from 'node:http';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type MessageEvent, type OnApplicationShutdown } from '@nestjs/common';
import { Observable } from 'rxjs';
import { extractCredential, queryCarriesCredential } from '../auth/credential.extractor.js';
import { ExpiryScheduler } from '../auth/expiry.scheduler.js';
import { OriginPolicy } from '../auth/origin.policy.js';
import { checkResourceId } from '../authorization/resource-id.validator.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle, describe } from '../connections/connection-lifecycle.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { HandshakeRefusedError } from '../exceptions/handshake-refused.error.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { RealtimeAuthenticator, type CredentialSource } from '../interfaces/authenticator.interface.js';
import { ModerationStore } from '../interfaces/moderation-store.interface.js';
import { PermissionResolver } from '../interfaces/permission-resolver.interface.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import type { SecurityEventKind } from '../interfaces/security-event.interface.js';
import { readModeration } from '../moderation/moderation-read.js';
import { HandshakeRateLimiter } from '../throttling/handshake-rate.limiter.js';
import { flatString } from '../utils/flat-string.js';
import { ThrottledLog } from '../utils/throttled-log.js';
import { userKey } from '../utils/user-key.js';
import type { SseAccessRule, SsePermissionRule } from './sse-access-rule.js';
import { SseConnection } from './sse-connection.js';
import { SseRefusedException } from './sse-refused.exception.js';
import { SseTicketService } from './sse-ticket.service.js';
import { isIdentifier } from '../utils/identifier.js';

/** The parts of an HTTP request a stream's admission reads (Express, Fastify and raw Node requests all have them). */
export interface SseRequest {
  readonly headers: IncomingHttpHeaders;
  readonly url?: string;
  readonly originalUrl?: string;
  readonly params?: Readonly<Record<string, string | undefined>>;
  readonly socket?: { readonly remoteAddress?: string };
}

/** Sizes of the stream indexes, for leak checks. */
export interface SseStreamStats {
  readonly open: number;
  readonly heartbeats: number;
  readonly deadlines: number;
}

/**
 * Server-Sent Events under the same protection as sockets. `admit` runs before the first byte
 * of an `@Sse()` route (the guard calls it), in order:
 *  1. per-address handshake rate limit (429 `RATE_LIMITED`);
 *  2. no credential in the query string (401 `UNAUTHORIZED`);
 *  3. one credential: a stream ticket (`?ticket=`), `Authorization: Bearer`, or the cookie;
 *  4. Origin allowed for that credential, exactly as for the Socket.IO handshake (403 `ORIGIN_REJECTED`);
 *  5. authenticate (the module's authenticator; or redeem the ticket), unexpired (401);
 *  6. not banned (403 `BANNED`); moderation permission override applied;
 *  7. the route's rule: `@SsePublic()`, `@SseAuthorize(permission, { resource })`, else 403 `FORBIDDEN`;
 *  8. admit: a slot of the user's ceiling shared with sockets, and of the per-process maximum (429 `CONNECTION_LIMIT`).
 * Then `attach` wraps the route's events: the stream counts for presence while open; token
 * expiry ends it with `error` `{ code: 'TOKEN_EXPIRED' }`; moderation (ban, disconnect, lost
 * permission) ends it on every node; heartbeat comments keep it alive; every close path
 * (client abort, server end, expiry, ban, write error, slow reader, shutdown) releases the slot once.
 */
@Injectable()
export class SseStreamService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly failures = new ThrottledLog(this.logger);
  private readonly origins: OriginPolicy;
  private readonly open = new Set<SseConnection>();
  private readonly deadlines = new ExpiryScheduler<SseConnection>((connection) => this.onDeadline(connection));
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(RealtimeAuthenticator) private readonly authenticator: RealtimeAuthenticator,
    @Inject(ModerationStore) private readonly moderation: ModerationStore,
    @Inject(PermissionResolver) private readonly resolver: PermissionResolver,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly limiter: HandshakeRateLimiter,
    private readonly tickets: SseTicketService,
    private readonly events: SecurityEventsService,
  ) {
    this.origins = new OriginPolicy(options.origins.allowed, options.origins.enforce);
  }

  get stats(): SseStreamStats {
    return { open: this.open.size, heartbeats: this.heartbeat === null ? 0 : 1, deadlines: this.deadlines.size };
  }

  /** Steps 1-8; throws `SseRefusedException` (a JSON body, before any stream byte). */
  async admit(request: SseRequest, route: string, rule: SseAccessRule): Promise<SseConnection> {
    const address = request.socket?.remoteAddress;
    // 1. per-address rate
    if (!this.limiter.tryAcquire(address)) throw new SseRefusedException(SecurityErrorCode.RATE_LIMITED);
    // 2. no credential in the query string (a ticket is the one exception)
    const query = new URLSearchParams(queryOf(request.originalUrl ?? request.url ?? ''));
    const ticketName = this.options.sse.tickets.queryParameter;
    const rest: Record<string, string[]> = {};
    for (const [key, value] of query) if (key !== ticketName) (rest[key] ??= []).push(value);
    if (queryCarriesCredential(rest)) this.refuse(SecurityErrorCode.UNAUTHORIZED, route, address, 'query_credential');
    // 3. one credential
    const tickets = this.tickets.enabled ? query.getAll(ticketName) : [];
    if (tickets.length > 1) this.refuse(SecurityErrorCode.UNAUTHORIZED, route, address);
    const ticket = tickets[0];
    let source: CredentialSource | null = null;
    let credential: string | undefined;
    if (ticket === undefined) {
      const extracted = extractCredential(undefined, request.headers, { ...this.options.credentials, authPayload: false });
      if (extracted === null || extracted === 'malformed') this.refuse(SecurityErrorCode.UNAUTHORIZED, route, address);
      source = extracted.source;
      credential = extracted.credential;
    }
    // 4. Origin, for that credential (a ticket is not ambient: like a header)
    if (!this.origins.acceptsRequest(request.headers, source)) this.refuse(SecurityErrorCode.ORIGIN_REJECTED, route, address);
    // 5. authenticate
    const principal = credential !== undefined && source !== null
      ? await this.authenticate(request, route, credential, source)
      : await this.redeem(ticket as string, route, address);
    if (principal.expiresAt + this.options.tokens.graceMs <= Date.now()) this.refuse(SecurityErrorCode.TOKEN_EXPIRED, route, address, undefined, principal);
    // 6. moderation
    const key = flatString(userKey(principal.tenantId, principal.userId));
    const { ban, permissions: override } = await this.readModeration(key);
    if (ban !== null) this.refuse(SecurityErrorCode.BANNED, route, address, undefined, principal);
    const effective = override === null ? principal : Object.freeze({ ...principal, permissions: override });
    // 7. the route's rule
    const resourceId = await this.authorize(rule, request, query, effective, route);
    // 8. admit: the shared ceiling
    let lease;
    try {
      lease = await this.lifecycle.admitStream(principal, key);
    } catch (error) {
      const code = error instanceof HandshakeRefusedError ? error.code : SecurityErrorCode.SERVICE_UNAVAILABLE;
      this.refuse(code, route, address, undefined, principal);
    }
    return new SseConnection(this, lease, principal, override, route, rule, resourceId);
  }

  /** The route's events, as the stream sends them; the slot goes back when this ends, however it ends. */
  attach(connection: SseConnection, events$: Observable<MessageEvent>): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      if (connection.state !== 'admitted') {
        // Ended between the guard and now (a ban, a disconnect, the client gone): still refusable as JSON.
        subscriber.error(new SseRefusedException(connection.endedWith ?? SecurityErrorCode.UNAUTHORIZED));
        return undefined;
      }
      connection.state = 'open';
      connection.subscriber = subscriber;
      connection.openedAt = Date.now();
      connection.lastEventAt = connection.openedAt;
      this.open.add(connection);
      this.startHeartbeat();
      this.scheduleDeadline(connection);
      // Presence counts it now; a ban that landed meanwhile ends it at once (moderation listens).
      this.lifecycle.openStream(connection);
      if (connection.state !== 'open') return () => this.release(connection);
      const inner = events$.subscribe({
        next: (event) => {
          connection.lastEventAt = Date.now();
          subscriber.next(event);
        },
        error: (error: unknown) => {
          this.failures.error('stream', `an @Sse() route's events failed on ${JSON.stringify(connection.route)}: ${describe(error)}`);
          this.end(connection, SecurityErrorCode.INTERNAL);
        },
        complete: () => this.end(connection, null),
      });
      return () => {
        inner.unsubscribe();
        this.release(connection);
      };
    });
  }

  /** Ends a stream (with a final `error` event `{ code }` when a code is given); idempotent. */
  end(connection: SseConnection, code: SecurityErrorCode | null): void {
    if (connection.state === 'closed') return;
    const subscriber = connection.subscriber;
    if (subscriber === null) {
      // Admitted, never opened: the interceptor will find it closed.
      connection.endedWith = code;
      this.release(connection);
      return;
    }
    connection.state = 'closed';
    if (code !== null) subscriber.next({ type: 'error', data: { code } });
    subscriber.complete();
    this.release(connection);
  }

  /** A moderation permission change: the rule is evaluated again; a stream that lost it ends with `FORBIDDEN`. */
  applyPermissions(connection: SseConnection, override: readonly string[] | null): void {
    if (connection.state === 'closed') return;
    const p = connection.tokenPrincipal;
    connection.principal = override === null ? p : Object.freeze({ ...p, permissions: override });
    const rule = connection.rule;
    if (rule.kind !== 'permission') return;
    const principal = connection.principal;
    const settle = (allowed: boolean): void => {
      if (allowed || connection.state === 'closed' || connection.principal !== principal) return;
      this.events.emit({ kind: 'forbidden', code: SecurityErrorCode.FORBIDDEN, userId: p.userId, tenantId: p.tenantId, namespace: connection.route, permission: rule.permission });
      this.end(connection, SecurityErrorCode.FORBIDDEN);
    };
    try {
      const answer = this.resolver.isAllowed({ principal, permission: rule.permission, ...(connection.resourceId !== undefined ? { resourceId: connection.resourceId } : {}), namespace: connection.route, event: 'sse' });
      if (typeof answer === 'boolean') settle(answer);
      else answer.then(settle, () => settle(false));
    } catch {
      settle(false);
    }
  }

  /** Ends every stream of this node (application shutdown); each slot is released once. */
  closeAll(): void {
    for (const connection of [...this.open]) this.end(connection, null);
  }

  /** Before Nest closes the HTTP server, which would otherwise wait for every open stream. */
  beforeApplicationShutdown(): void {
    this.closeAll();
  }

  onApplicationShutdown(): void {
    this.closeAll();
    this.deadlines.clear();
    this.stopHeartbeat();
  }

  /** The one release of a stream's slot; every close path ends here. */
  private release(connection: SseConnection): void {
    connection.state = 'closed';
    connection.subscriber = null;
    this.open.delete(connection);
    this.deadlines.cancel(connection);
    if (this.open.size === 0) this.stopHeartbeat();
    this.lifecycle.releaseStream(connection);
  }

  private async authenticate(request: SseRequest, route: string, credential: string, source: CredentialSource): Promise<Principal> {
    const address = request.socket?.remoteAddress;
    let principal: Principal | null;
    try {
      principal = await this.authenticator.authenticate({
        credential, source, namespace: route, address: address ?? '',
        ...(typeof request.headers.origin === 'string' ? { origin: request.headers.origin } : {}),
        headers: request.headers,
      });
    } catch (error) {
      // TOKEN_EXPIRED, and SERVICE_UNAVAILABLE while no `jwt.jwks` key set could be fetched, keep their codes.
      if (error instanceof WsSecurityException) this.refuse(keptCode(error.code) ?? SecurityErrorCode.UNAUTHORIZED, route, address);
      this.failures.error('authenticate', `stream authentication failed on ${JSON.stringify(route)}: ${describe(error).split(credential).join('[credential]')}`);
      this.refuse(SecurityErrorCode.SERVICE_UNAVAILABLE, route, address);
    }
    // The identifier rule the socket handshake applies: every identity that can stream can be moderated.
    if (principal === null || !isPrincipal(principal) || !isIdentifier(principal.userId) || !isIdentifier(principal.tenantId)) {
      this.refuse(SecurityErrorCode.UNAUTHORIZED, route, address);
    }
    return principal;
  }

  private async redeem(ticket: string, route: string, address: string | undefined): Promise<Principal> {
    let principal: Principal | null;
    try {
      principal = await this.tickets.redeem(ticket);
    } catch (error) {
      this.failures.error('ticket', `stream ticket store failed: ${describe(error).split(ticket).join('[ticket]')}`);
      this.refuse(SecurityErrorCode.SERVICE_UNAVAILABLE, route, address);
    }
    if (principal === null) this.refuse(SecurityErrorCode.UNAUTHORIZED, route, address, 'ticket');
    return principal;
  }

  private async readModeration(key: string): Promise<Awaited<ReturnType<typeof readModeration>>> {
    try {
      return await readModeration(this.moderation, key);
    } catch (error) {
      this.failures.error('moderation', `moderation store failed on a stream admission: ${describe(error)}`);
      throw new SseRefusedException(SecurityErrorCode.SERVICE_UNAVAILABLE);
    }
  }

  /** Step 7; the validated resource id when the rule names one. */
  private async authorize(rule: SseAccessRule, request: SseRequest, query: URLSearchParams, principal: Principal, route: string): Promise<string | undefined> {
    const who = { userId: principal.userId, tenantId: principal.tenantId, namespace: route };
    if (rule.kind === 'public') return undefined;
    if (rule.kind === 'denied') {
      this.events.emit({ kind: 'forbidden', code: SecurityErrorCode.FORBIDDEN, ...who, reason: 'undecorated' });
      throw new SseRefusedException(SecurityErrorCode.FORBIDDEN);
    }
    let resourceId: string | undefined;
    if (rule.resource !== undefined) {
      const id = checkResourceId(selectResource(rule, request, query), this.options.authorization.resourceIdPattern);
      if (id === null) {
        this.events.emit({ kind: 'validation_failed', code: SecurityErrorCode.VALIDATION_FAILED, ...who, permission: rule.permission });
        throw new SseRefusedException(SecurityErrorCode.VALIDATION_FAILED);
      }
      resourceId = id;
    }
    let allowed: boolean;
    try {
      allowed = await this.resolver.isAllowed({ principal, permission: rule.permission, ...(resourceId !== undefined ? { resourceId } : {}), namespace: route, event: 'sse' });
    } catch (error) {
      this.failures.error('resolver', `permission resolver failed on ${JSON.stringify(route)}: ${describe(error)}`);
      throw new SseRefusedException(SecurityErrorCode.SERVICE_UNAVAILABLE);
    }
    if (allowed !== true) {
      this.events.emit({ kind: 'forbidden', code: SecurityErrorCode.FORBIDDEN, ...who, permission: rule.permission });
      throw new SseRefusedException(SecurityErrorCode.FORBIDDEN);
    }
    return resourceId;
  }

  private refuse(code: SecurityErrorCode, route: string, address: string | undefined, reason?: string, principal?: Principal): never {
    const kind: SecurityEventKind = code === SecurityErrorCode.ORIGIN_REJECTED ? 'origin_refused' : code === SecurityErrorCode.BANNED ? 'banned' : code === SecurityErrorCode.TOKEN_EXPIRED ? 'token_expired' : 'handshake_refused';
    this.events.emit({
      kind, code, namespace: route,
      ...(principal !== undefined ? { userId: principal.userId, tenantId: principal.tenantId } : {}),
      ...(address !== undefined ? { address } : {}),
      ...(reason !== undefined ? { reason } : {}),
    });
    throw new SseRefusedException(code);
  }

  private scheduleDeadline(connection: SseConnection): void {
    const expiry = connection.tokenPrincipal.expiresAt + this.options.tokens.graceMs;
    const max = this.options.sse.maxLifetimeMs;
    this.deadlines.schedule(connection, max > 0 ? Math.min(expiry, connection.openedAt + max) : expiry);
  }

  private onDeadline(connection: SseConnection): void {
    if (connection.state !== 'open') return;
    const now = Date.now();
    const p = connection.tokenPrincipal;
    if (p.expiresAt + this.options.tokens.graceMs <= now) {
      this.events.emit({ kind: 'token_expired', code: SecurityErrorCode.TOKEN_EXPIRED, userId: p.userId, tenantId: p.tenantId, namespace: connection.route });
      this.end(connection, SecurityErrorCode.TOKEN_EXPIRED);
      return;
    }
    const max = this.options.sse.maxLifetimeMs;
    if (max > 0 && connection.openedAt + max <= now) {
      this.end(connection, null);
      return;
    }
    this.scheduleDeadline(connection);
  }

  /** One timer for every stream's heartbeat comment, while any is open. */
  private startHeartbeat(): void {
    if (this.heartbeat !== null) return;
    const idle = this.options.sse.idleTimeoutMs;
    this.heartbeat = setInterval(() => {
      const now = Date.now();
      for (const connection of [...this.open]) {
        if (idle > 0 && now - connection.lastEventAt >= idle) this.end(connection, null);
        else connection.subscriber?.next({ comment: '' });
      }
    }, this.options.sse.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat === null) return;
    clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}

function queryOf(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? '' : url.slice(at + 1);
}

function selectResource(rule: SsePermissionRule, request: SseRequest, query: URLSearchParams): unknown {
  const selector = rule.resource;
  const params = request.params ?? {};
  if (typeof selector === 'function') {
    try {
      return selector({ params, query });
    } catch {
      return undefined;
    }
  }
  if (selector === undefined) return undefined;
  if (Object.hasOwn(params, selector)) return params[selector];
  const values = query.getAll(selector);
  return values.length === 1 ? values[0] : undefined;
}

function isPrincipal(value: unknown): value is Principal {
  if (value === null || typeof value !== 'object') return false;
  const p = value as Record<string, unknown>;
  return typeof p.userId === 'string' && p.userId.length > 0
    && typeof p.tenantId === 'string' && p.tenantId.length > 0
    && Array.isArray(p.permissions) && p.permissions.every((x) => typeof x === 'string')
    && typeof p.expiresAt === 'number' && Number.isFinite(p.expiresAt);
}

/** Authenticator refusals whose code a stream keeps; any other is `UNAUTHORIZED`. */
function keptCode(code: SecurityErrorCode): SecurityErrorCode | null {
  return code === SecurityErrorCode.TOKEN_EXPIRED || code === SecurityErrorCode.SERVICE_UNAVAILABLE ? code : null;
}
