import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ExtendedError, Socket } from 'socket.io';
import { RESOLVED_OPTIONS } from '../constants.js';
import { OriginPolicy } from '../auth/origin.policy.js';
import { extractCredential, queryCarriesCredential, readCookie } from '../auth/credential.extractor.js';
import { ConnectionLifecycle, describe } from '../connections/connection-lifecycle.js';
import { ConnectionSession } from '../connections/connection-session.js';
import { TENANT_ROOM_PREFIX, TenantRooms } from '../authorization/tenant-rooms.service.js';
import { ModerationEpochs, type ModerationWatch } from '../moderation/moderation-epochs.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityMetrics } from '../metrics/security-metrics.js';
import { HandshakeRefusedError } from '../exceptions/handshake-refused.error.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { RealtimeAuthenticator, type CredentialSource } from '../interfaces/authenticator.interface.js';
import { ModerationStore } from '../interfaces/moderation-store.interface.js';
import { readModeration } from '../moderation/moderation-read.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { ThrottledLog } from '../utils/throttled-log.js';
import { ConnectRateLimiter } from '../throttling/connect-rate.limiter.js';
import { flatString } from '../utils/flat-string.js';
import { isIdentifier } from '../utils/identifier.js';
import { userKey } from '../utils/user-key.js';
import { filterMissedPackets, recoveredIdentity, replayMissedPackets, resetRecoveredData, takeMissedPackets } from './session-recovery.js';

/** Moderation re-reads one handshake makes while changes keep landing, before it gives up (`SERVICE_UNAVAILABLE`). */
const MAX_MODERATION_REREADS = 3;

/** A Socket.IO namespace middleware. */
export type NamespaceMiddleware = (socket: Socket, next: (err?: ExtendedError) => void) => void;

/** The app's own middlewares for a socket's namespace, in order (the lists may grow after installation). */
export type AppMiddlewares = (socket: Socket) => readonly NamespaceMiddleware[];

/** Engine.IO's `allowRequest` hook. */
export type EngineGate = (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => void;

/**
 * The handshake, in order. Runs before a connection exists, on every namespace and transport:
 *  0. engine gate (first HTTP request): Origin for cookie-bearing and browser requests;
 *  1. every CONNECT charged to the address (`rateLimit.handshakesPerAddress`; a connection's
 *     first is covered by its Engine.IO handshake); one CONNECT at a time per namespace and
 *     connection (a second closes the connection); `rateLimit.refusedConnectsPerConnection`
 *     refused CONNECTs close the connection;
 *  2. no credential in the query string;
 *  3. one credential, from `auth.token`, `Authorization: Bearer` or the cookie;
 *  4. Origin allowed for that credential;
 *  5. authenticate (JWT or the pluggable authenticator); user and tenant ids follow the
 *     identifier rule (`isIdentifier`); not expired (plus grace);
 *  6. a recovered session (connection-state recovery) is this same user's; the CONNECT is
 *     charged to the user (`rateLimit.connectsPerUser`), before any store is asked;
 *  7. not banned; moderation permission override applied (from here until the socket opens, a
 *     moderation change of the user applied on this node makes step 11 read again);
 *  8. admit: per-user and per-process connection ceilings; the principal is attached
 *     (`socket.data.principal`);
 *  9. a recovered session's restored rooms are re-checked: tenant rooms as a join would be,
 *     others by `recovery.authorizeRoom` (dropped by default); the rooms that fail are left;
 * 10. the app's own namespace middlewares (`server.use()`), which see the principal; a refusal
 *     here, at step 11 (or the client leaving) releases the slot taken at step 8;
 * 11. a ban or permission change that landed since step 7: read again, applied (rooms re-checked);
 * 12. a recovered session's missed packets are sent, now that its user is known, without those
 *     addressed to a room it was dropped from.
 * Every refusal is `connect_error` `{ message: 'Connection refused', data: { code } }`.
 */
@Injectable()
export class HandshakePipeline {
  private readonly logger = new Logger('RealtimeSecurity');
  /** A failing store or authenticator refuses every handshake: one log line per interval, not one each. */
  private readonly failures = new ThrottledLog(this.logger);
  private readonly origins: OriginPolicy;
  /**
   * Namespaces with a CONNECT in progress, per engine connection: the one name itself in the
   * usual case, a set only while several are; the entry goes once none is (nothing kept per connection).
   */
  private readonly connecting = new WeakMap<Socket['conn'], string | Set<string>>();

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(RealtimeAuthenticator) private readonly authenticator: RealtimeAuthenticator,
    @Inject(ModerationStore) private readonly moderation: ModerationStore,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly events: SecurityEventsService,
    private readonly metrics: SecurityMetrics,
    private readonly rooms: TenantRooms,
    private readonly epochs: ModerationEpochs,
    private readonly connects: ConnectRateLimiter,
  ) {
    this.origins = new OriginPolicy(options.origins.allowed, options.origins.enforce);
  }

  /** Step 0, on the first HTTP request of every Engine.IO connection (HTTP 403, or 400 for a websocket upgrade; body `ORIGIN_REJECTED`). */
  readonly engineGate: EngineGate = (req, callback) => {
    const cookieName = this.options.credentials.cookieName;
    const carriesCookie = cookieName !== null && readCookie(headerValue(req.headers.cookie), cookieName) !== undefined;
    if (!this.origins.acceptsRequest(req.headers, carriesCookie ? 'cookie' : null)) {
      this.events.emit({ kind: 'origin_refused', code: SecurityErrorCode.ORIGIN_REJECTED, address: req.socket.remoteAddress });
      callback(SecurityErrorCode.ORIGIN_REJECTED, false);
      return;
    }
    callback(null, true);
  };

  /** The namespace middleware running steps 1-10; `appMiddlewares` gives step 9's list. */
  middleware(appMiddlewares: AppMiddlewares): NamespaceMiddleware {
    return (socket, next) => {
      const startedAt = performance.now();
      // Held by the adapter for a recovered session; sent at step 10 or dropped.
      const missed = takeMissedPackets(socket);
      // 1. every CONNECT is charged to the address (the first one of a connection was paid by its handshake)
      if (!this.connects.chargeAddress(socket)) {
        next(this.refusal(socket, new HandshakeRefusedError(SecurityErrorCode.RATE_LIMITED)));
        this.countRefusal(socket);
        return;
      }
      if (!this.beginConnect(socket)) {
        // Socket.IO would run both and connect two sockets on one namespace: protocol abuse.
        this.events.emit({ kind: 'handshake_refused', code: SecurityErrorCode.BAD_REQUEST, namespace: socket.nsp.name, address: socket.handshake.address });
        socket.conn.close();
        this.metrics.handshakeSettled(socket.nsp.name, SecurityErrorCode.BAD_REQUEST, startedAt);
        next(new HandshakeRefusedError(SecurityErrorCode.BAD_REQUEST));
        return;
      }
      this.run(socket, appMiddlewares(socket), missed).then(
        (session) => {
          this.endConnect(socket);
          this.metrics.handshakeSettled(socket.nsp.name, null, startedAt);
          next();
          this.lifecycle.settle(session);
        },
        (error: unknown) => {
          this.endConnect(socket);
          const refusal = this.refusal(socket, error);
          this.metrics.handshakeSettled(socket.nsp.name, refusal instanceof HandshakeRefusedError ? refusal.code : SecurityErrorCode.UNAUTHORIZED, startedAt);
          next(refusal);
          this.countRefusal(socket);
        },
      );
    };
  }

  /**
   * Steps 5 and 7 for a credential presented in band (refresh): the same checks as a handshake.
   * Throws a coded `WsSecurityException`; an unexpected failure is logged (redacted) and is
   * `SERVICE_UNAVAILABLE`.
   */
  async authenticateToken(socket: Socket, token: string): Promise<{ principal: Principal; override: readonly string[] | null }> {
    let watch: ModerationWatch | undefined;
    try {
      const principal = await this.authenticate(socket, token, 'auth-payload');
      const key = userKey(principal.tenantId, principal.userId);
      watch = this.epochs.watch(key);
      let override = await this.checkModeration(principal, key);
      // A change applied to the open socket while this read was in flight must not be undone by it.
      for (let reread = 0; watch.changed(); reread += 1) {
        if (reread >= MAX_MODERATION_REREADS) throw new WsSecurityException(SecurityErrorCode.SERVICE_UNAVAILABLE);
        watch.reset();
        override = await this.checkModeration(principal, key);
      }
      return { principal, override };
    } catch (error) {
      if (error instanceof WsSecurityException) throw error;
      this.failures.error('refresh', `token refresh failed on ${JSON.stringify(socket.nsp.name)}: ${failureDetail(error, token)}`);
      throw new WsSecurityException(SecurityErrorCode.SERVICE_UNAVAILABLE);
    } finally {
      watch?.end();
    }
  }

  private async run(socket: Socket, appMiddlewares: readonly NamespaceMiddleware[], missed: unknown[][]): Promise<ConnectionSession> {
    const { handshake } = socket;
    // 2. no credential in the query string
    if (queryCarriesCredential(handshake.query)) throw new HandshakeRefusedError(SecurityErrorCode.UNAUTHORIZED);
    // 3. one credential
    const extracted = extractCredential(handshake.auth, handshake.headers, this.options.credentials);
    if (extracted === null || extracted === 'malformed') throw new HandshakeRefusedError(SecurityErrorCode.UNAUTHORIZED);
    // 4. Origin, for that credential
    if (!this.origins.acceptsRequest(handshake.headers, extracted.source)) throw new HandshakeRefusedError(SecurityErrorCode.ORIGIN_REJECTED);
    // 5. authenticate
    const principal = await this.authenticate(socket, extracted.credential, extracted.source);
    // 6. recovery is the same user's
    const previousData = socket.recovered ? this.checkRecovery(socket, principal) : null;
    // Kept by the lease and session of this connection: stored flat.
    const key = flatString(userKey(principal.tenantId, principal.userId));
    // 6b. the CONNECT is charged to the user, before any store is asked
    if (!this.connects.chargeUser(principal, key)) throw new HandshakeRefusedError(SecurityErrorCode.RATE_LIMITED);
    const watch = this.epochs.watch(key);
    try {
      // 7. moderation
      const override = await this.checkModeration(principal, key);
      // 8. admit (takes the slot)
      const session = await this.lifecycle.admit(socket, principal, override, key);
      // 9-11; any failure releases the slot
      const restored = socket.recovered ? new Set(socket.rooms) : null;
      try {
        if (restored !== null) await this.reauthorizeRecoveredRooms(session, previousData);
        await this.runAppMiddlewares(socket, appMiddlewares);
        await this.settleModeration(session, watch);
      } catch (error) {
        this.lifecycle.close(session);
        throw error;
      }
      // 12. missed packets of a recovered session, without those of the rooms it lost
      if (restored !== null && missed.length > 0) {
        const kept = new Set(socket.rooms);
        const dropped = new Set([...restored].filter((room) => !kept.has(room)));
        replayMissedPackets(socket, filterMissedPackets(missed, kept, dropped));
      }
      return session;
    } finally {
      watch.end();
    }
  }

  /**
   * Step 9: every room Socket.IO restored to a recovered socket (its own id room aside) is
   * re-checked with the session's principal; the rooms that fail are left before it connects.
   */
  private async reauthorizeRecoveredRooms(session: ConnectionSession, previousData: object | null): Promise<void> {
    const socket = session.socket;
    const restored = [...socket.rooms].filter((room) => room !== socket.id);
    await Promise.all(restored.map(async (room) => {
      const keep = room.startsWith(TENANT_ROOM_PREFIX)
        ? await this.rooms.reauthorizeRecovered(session, room, previousData)
        : await this.appKeepsRoom(session, room);
      if (!keep) await socket.leave(room);
    }));
  }

  /** `recovery.authorizeRoom` for a recovered room that is not a tenant room; dropped without one, or when it fails. */
  private async appKeepsRoom(session: ConnectionSession, room: string): Promise<boolean> {
    const authorizeRoom = this.options.recovery.authorizeRoom;
    if (authorizeRoom === null) return false;
    try {
      return (await authorizeRoom({ principal: session.principal, room, namespace: session.socket.nsp.name })) === true;
    } catch (error) {
      this.failures.error('recovery', `recovery.authorizeRoom failed (dropping the room): ${describe(error)}`);
      return false;
    }
  }

  /**
   * Step 11: a ban or permission change applied on this node since step 7 was not seen by its
   * read nor, the socket being not yet open, applied to it: read again and apply (a ban refuses).
   * Synchronous with the open that follows, so a later change finds the socket open.
   */
  private async settleModeration(session: ConnectionSession, watch: ModerationWatch): Promise<void> {
    for (let reread = 0; watch.changed(); reread += 1) {
      if (reread >= MAX_MODERATION_REREADS) throw new HandshakeRefusedError(SecurityErrorCode.SERVICE_UNAVAILABLE);
      watch.reset();
      const override = await this.checkModeration(session.tokenPrincipal, session.userKey);
      session.principal = ConnectionSession.effective(session.tokenPrincipal, override);
      await this.rooms.revalidate(session);
    }
  }

  /** Step 5: the authenticator's principal, well formed and unexpired; coded refusals otherwise. */
  private async authenticate(socket: Socket, credential: string, source: CredentialSource): Promise<Principal> {
    let principal: Principal | null;
    try {
      principal = await this.authenticator.authenticate({
        credential,
        source,
        namespace: socket.nsp.name,
        address: socket.handshake.address,
        origin: headerValue(socket.handshake.headers.origin),
        headers: socket.handshake.headers,
      });
    } catch (error) {
      if (error instanceof WsSecurityException) throw error;
      throw new StepFailure('authenticator', redact(describe(error), credential));
    }
    if (principal === null) throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    if (!isPrincipal(principal)) throw new StepFailure('authenticator', 'returned a malformed principal');
    // One identifier rule for every authenticator: an identity moderation could not name is refused.
    if (!isIdentifier(principal.userId) || !isIdentifier(principal.tenantId)) throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    if (principal.expiresAt + this.options.tokens.graceMs <= Date.now()) throw new WsSecurityException(SecurityErrorCode.TOKEN_EXPIRED);
    return principal;
  }

  /**
   * Step 6: a recovered socket comes back with the previous connection's id, rooms and data, so
   * it must be the same user's; its data then gets the new session. Returns the restored data.
   */
  private checkRecovery(socket: Socket, principal: Principal): object | null {
    const previous = recoveredIdentity(socket);
    if (previous === null || previous.userId !== principal.userId || previous.tenantId !== principal.tenantId) {
      throw new HandshakeRefusedError(SecurityErrorCode.UNAUTHORIZED);
    }
    return resetRecoveredData(socket);
  }

  /** Step 7: throws `BANNED` for a banned user; returns the permission override, if any. */
  private async checkModeration(principal: Principal, key = userKey(principal.tenantId, principal.userId)): Promise<readonly string[] | null> {
    const { ban, permissions } = await readModeration(this.moderation, key);
    if (ban !== null) throw new WsSecurityException(SecurityErrorCode.BANNED);
    return permissions;
  }

  /** Step 9, in order; the client closing meanwhile ends it (so a stalled middleware never keeps the slot). */
  private async runAppMiddlewares(socket: Socket, middlewares: readonly NamespaceMiddleware[]): Promise<void> {
    if (middlewares.length === 0) return;
    let onClose = (): void => undefined;
    const closed = new Promise<never>((_, reject) => {
      onClose = () => reject(new HandshakeRefusedError(SecurityErrorCode.SERVICE_UNAVAILABLE));
      socket.conn.once('close', onClose);
    });
    try {
      for (const middleware of middlewares) await Promise.race([runMiddleware(middleware, socket), closed]);
    } finally {
      socket.conn.off('close', onClose);
      closed.catch(() => undefined);
    }
  }

  /** A refused CONNECT; the connection closes once it has used up its refusals (after the refusal is sent). */
  private countRefusal(socket: Socket): void {
    if (!this.connects.refused(socket)) return;
    // Socket.IO writes CONNECT_ERROR on the next tick; the close then flushes it first.
    setImmediate(() => socket.conn.close());
  }

  private beginConnect(socket: Socket): boolean {
    const name = socket.nsp.name;
    const names = this.connecting.get(socket.conn);
    if (names === undefined) this.connecting.set(socket.conn, name);
    else if (names === name || (typeof names !== 'string' && names.has(name))) return false;
    else if (typeof names === 'string') this.connecting.set(socket.conn, new Set([names, name]));
    else names.add(name);
    return true;
  }

  private endConnect(socket: Socket): void {
    const name = socket.nsp.name;
    const names = this.connecting.get(socket.conn);
    if (names === name) this.connecting.delete(socket.conn);
    else if (names !== undefined && typeof names !== 'string') {
      names.delete(name);
      if (names.size === 0) this.connecting.delete(socket.conn);
    }
  }

  /** Maps any failure to a coded refusal; unexpected errors are logged (never with a credential). */
  private refusal(socket: Socket, error: unknown): ExtendedError {
    let refusal: ExtendedError;
    if (error instanceof HandshakeRefusedError) refusal = error;
    else if (error instanceof WsSecurityException) refusal = new HandshakeRefusedError(error.code);
    else if (isAppRefusal(error)) refusal = error;
    else {
      this.failures.error('handshake', `handshake step failed on ${JSON.stringify(socket.nsp.name)}: ${failureDetail(error)}`);
      refusal = new HandshakeRefusedError(SecurityErrorCode.SERVICE_UNAVAILABLE);
    }
    const code = refusal instanceof HandshakeRefusedError ? refusal.code : SecurityErrorCode.UNAUTHORIZED;
    this.events.emit({
      kind: code === SecurityErrorCode.ORIGIN_REJECTED ? 'origin_refused' : code === SecurityErrorCode.BANNED ? 'banned' : 'handshake_refused',
      code,
      namespace: socket.nsp.name,
      address: socket.handshake.address,
    });
    return refusal;
  }
}

/** A pluggable step (authenticator, store) failed unexpectedly; `message` is already redacted. */
class StepFailure extends Error {
  constructor(readonly step: string, message: string) {
    super(message);
    this.name = 'StepFailure';
  }
}

/** An app middleware's own refusal (an `Error` it passed to `next`) is forwarded as is. */
class AppMiddlewareRefusal extends Error {
  constructor(readonly original: ExtendedError) {
    super(original.message);
  }
}

function isAppRefusal(error: unknown): error is ExtendedError {
  return error instanceof AppMiddlewareRefusal;
}

function runMiddleware(middleware: NamespaceMiddleware, socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      middleware(socket, (err) => (err ? reject(Object.assign(new AppMiddlewareRefusal(err), { data: err.data })) : resolve()));
    } catch (error) {
      reject(error);
    }
  });
}

/** A principal a custom authenticator returned is used only when it has the documented shape. */
function isPrincipal(value: unknown): value is Principal {
  if (value === null || typeof value !== 'object') return false;
  const p = value as Record<string, unknown>;
  return typeof p.userId === 'string' && p.userId.length > 0
    && typeof p.tenantId === 'string' && p.tenantId.length > 0
    && Array.isArray(p.permissions) && p.permissions.every((x) => typeof x === 'string')
    && typeof p.expiresAt === 'number' && Number.isFinite(p.expiresAt)
    && (p.tokenId === undefined || typeof p.tokenId === 'string');
}

/** What a log line may say about an unexpected failure. */
function failureDetail(error: unknown, credential?: string): string {
  return error instanceof StepFailure ? `${error.step} ${error.message}` : redact(describe(error), credential);
}

/** Token-like runs: JWT-shaped, or long opaque strings with a digit (words and class names stay). */
const TOKEN_LIKE = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|[A-Za-z0-9_\-+/=~]{20,}/g;

/** What may be logged of a failure: never the credential, nor anything that looks like a token. */
function redact(text: string, credential?: string): string {
  const withoutCredential = credential !== undefined && credential.length > 0 ? text.split(credential).join('[credential]') : text;
  return withoutCredential
    .replace(TOKEN_LIKE, (run) => (run.includes('.') || /\d/.test(run) ? '[redacted]' : run))
    .slice(0, 300);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
