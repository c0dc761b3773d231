import type { IncomingMessage } from 'node:http';
import { ForbiddenException, Inject, Injectable, ServiceUnavailableException, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  hasPermission,
  ModerationStore,
  parseRequiredPermission,
  RealtimeAuthenticator,
  SecurityErrorCode,
  userKey,
  WsSecurityException,
  type Principal,
} from '../../lib/index.js';
import { HTTP_PERMISSION } from './http-permission.decorator.js';

/** A request that passed `BearerPermissionGuard`. */
export interface AuthenticatedRequest extends IncomingMessage {
  principal: Principal;
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/;

/**
 * HTTP routes of the sample: `Authorization: Bearer <jwt>` only (never a cookie, so no
 * cross-site form can use them), verified by the library's own authenticator, then the
 * route's `@HttpPermission` with any moderation override applied; banned users are refused.
 * 401 without a valid token, 403 without the permission, 503 while a JWKS key set cannot be
 * fetched. Nothing of the token is echoed.
 */
@Injectable()
export class BearerPermissionGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(RealtimeAuthenticator) private readonly authenticator: RealtimeAuthenticator,
    @Inject(ModerationStore) private readonly moderation: ModerationStore,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const permission = this.reflector.getAllAndOverride<string | undefined>(HTTP_PERMISSION, [context.getHandler(), context.getClass()]);
    const required = permission === undefined ? null : parseRequiredPermission(permission);
    // A route without a valid @HttpPermission is closed, not open.
    if (required === null) throw new ForbiddenException();
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (match === null) throw new UnauthorizedException();
    let principal: Principal | null;
    try {
      principal = await this.authenticator.authenticate({
        credential: match[1],
        source: 'authorization-header',
        namespace: 'http',
        address: request.socket.remoteAddress ?? '',
        headers: request.headers,
      });
    } catch (error) {
      // No key set fetched yet (JWKS_URL): the token could not be checked, which is not the caller's fault.
      if (error instanceof WsSecurityException && error.code === SecurityErrorCode.SERVICE_UNAVAILABLE) throw new ServiceUnavailableException();
      principal = null;
    }
    if (principal === null || principal.expiresAt <= Date.now()) throw new UnauthorizedException();
    const key = userKey(principal.tenantId, principal.userId);
    const [ban, override] = await Promise.all([this.moderation.getBan(key), this.moderation.getPermissions(key)]);
    if (ban !== null) throw new ForbiddenException();
    if (!hasPermission(override ?? principal.permissions, required)) throw new ForbiddenException();
    request.principal = principal;
    return true;
  }
}
