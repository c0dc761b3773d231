import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { sseConnectionOf } from './sse-request.js';

/**
 * The authenticated principal of an `@Sse()` route's stream (moderation override applied), for
 * scoping what the stream carries: `@SsePrincipal() principal: Principal`.
 */
export const SsePrincipal = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const connection = sseConnectionOf(context.switchToHttp().getRequest<unknown>());
  if (connection === undefined) throw new Error('@SsePrincipal() is for @Sse() routes, which the module authenticates; this route has no stream.');
  return connection.principal;
});
