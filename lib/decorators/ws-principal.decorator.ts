import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { sessionOf } from '../connections/connection-session.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import type { Principal } from '../interfaces/principal.interface.js';

/**
 * Injects the authenticated {@link Principal} of the socket into a gateway handler:
 * `handle(@WsPrincipal() principal: Principal)`. Current after refreshes and permission changes.
 */
export const WsPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const session = sessionOf(context.switchToWs().getClient<Socket>());
  if (session === undefined) throw new WsSecurityException(SecurityErrorCode.UNAUTHORIZED);
  return session.principal;
});
