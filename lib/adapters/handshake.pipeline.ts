import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ExtendedError, Socket } from 'socket.io';
import { RESOLVED_OPTIONS } from '../constants.js';
import { OriginPolicy } from '../auth/origin.policy.js';
import { extractCredential, queryCarriesCredential, readCookie } from '../auth/credential.extractor.js';
import { ConnectionLifecycle, describe } from '../connections/connection-lifecycle.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { HandshakeRefusedError } from '../exceptions/handshake-refused.error.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import { RealtimeAuthenticator } from '../interfaces/authenticator.interface.js';
import { ModerationStore } from '../interfaces/moderation-store.interface.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { userKey } from '../utils/user-key.js';

/** A Socket.IO namespace middleware. */
export type NamespaceMiddleware = (socket: Socket, next: (err?: ExtendedError) => void) => void;

/** Engine.IO's `allowRequest` hook. */
export type EngineGate = (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => void;

/**
 * The handshake, in order. Runs before a connection exists, on every namespace and transport:
 *  0. engine gate (first HTTP request): Origin for cookie-bearing and browser requests;
 *  1. no credential in the query string;
 *  2. one credential, from `auth.token`, `Authorization: Bearer` or the cookie;
 *  3. Origin allowed for that credential;
 *  4. authenticate (JWT or the pluggable authenticator);
 *  5. not banned; moderation permission override applied;
 *  6. the app's own namespace middlewares, if any;
 *  7. admit: per-user and per-process connection ceilings (the slot is taken last, so a refusal
 *     above never holds one; a refusal after it releases it).
 */
@Injectable()
export class HandshakePipeline {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly origins: OriginPolicy;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(RealtimeAuthenticator) private readonly authenticator: RealtimeAuthenticator,
    @Inject(ModerationStore) private readonly moderation: ModerationStore,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly events: SecurityEventsService,
  ) {
    this.origins = new OriginPolicy(options.origins.allowed, options.origins.enforce);
  }

  /** Step 0, on the first HTTP request of every Engine.IO connection (refused with HTTP 403). */
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

  /**
   * The namespace middleware running steps 1-7. `appMiddlewares` are the app's own, run at
   * step 6; the list may grow after installation.
   */
  middleware(appMiddlewares: readonly NamespaceMiddleware[]): NamespaceMiddleware {
    return (socket, next) => {
      this.run(socket, appMiddlewares).then(
        (session) => {
          next();
          this.lifecycle.settle(session);
        },
        (error: unknown) => next(this.refusal(socket, error)),
      );
    };
  }

  /** Steps 1-5 for a credential presented in band (refresh): the same checks as a handshake. */
  async authenticateToken(socket: Socket, token: string): Promise<{ principal: Principal; override: readonly string[] | null }> {
    const principal = await this.authenticator.authenticate({
      credential: token,
      source: 'auth-payload',
      namespace: socket.nsp.name,
      address: socket.handshake.address,
      origin: headerValue(socket.handshake.headers.origin),
      headers: socket.handshake.headers,
    });
    if (principal === null) throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
    return { principal, override: await this.checkModeration(principal) };
  }

  private async run(socket: Socket, appMiddlewares: readonly NamespaceMiddleware[]) {
    const { handshake } = socket;
    if (queryCarriesCredential(handshake.query)) throw new HandshakeRefusedError(SecurityErrorCode.UNAUTHORIZED);
    const extracted = extractCredential(handshake.auth, handshake.headers, this.options.credentials);
    if (extracted === null || extracted === 'malformed') throw new HandshakeRefusedError(SecurityErrorCode.UNAUTHORIZED);
    const origin = headerValue(handshake.headers.origin);
    if (!this.origins.acceptsRequest(handshake.headers, extracted.source)) throw new HandshakeRefusedError(SecurityErrorCode.ORIGIN_REJECTED);
    const principal = await this.authenticator.authenticate({
      credential: extracted.credential,
      source: extracted.source,
      namespace: socket.nsp.name,
      address: handshake.address,
      origin,
      headers: handshake.headers,
    });
    if (principal === null) throw new HandshakeRefusedError(SecurityErrorCode.UNAUTHORIZED);
    if (principal.expiresAt + this.options.tokens.graceMs <= Date.now()) throw new HandshakeRefusedError(SecurityErrorCode.TOKEN_EXPIRED);
    const override = await this.checkModeration(principal);
    for (const middleware of appMiddlewares) await runMiddleware(middleware, socket);
    return this.lifecycle.admit(socket, principal, override);
  }

  /** Throws `BANNED` for a banned user; returns the permission override, if any. */
  private async checkModeration(principal: Principal): Promise<readonly string[] | null> {
    const key = userKey(principal.tenantId, principal.userId);
    const [ban, override] = await Promise.all([this.moderation.getBan(key), this.moderation.getPermissions(key)]);
    if (ban !== null) throw new WsSecurityException(SecurityErrorCode.BANNED);
    return override;
  }

  /** Maps any failure to a coded refusal; unexpected errors are logged (never with a credential). */
  private refusal(socket: Socket, error: unknown): ExtendedError {
    let refusal: ExtendedError;
    if (error instanceof HandshakeRefusedError) refusal = error;
    else if (error instanceof WsSecurityException) refusal = new HandshakeRefusedError(error.code);
    else if (isAppRefusal(error)) refusal = error;
    else {
      this.logger.error(`handshake step failed on ${JSON.stringify(socket.nsp.name)}: ${describe(error)}`);
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

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
