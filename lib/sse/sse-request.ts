import type { Principal } from '../interfaces/principal.interface.js';
import type { SseConnection } from './sse-connection.js';

const CONNECTION = Symbol('realtime-security:sse-connection');

/** Attaches an admitted stream to its request (the interceptor and `@SsePrincipal()` read it). */
export function attachSseConnection(request: object, connection: SseConnection): void {
  Object.defineProperty(request, CONNECTION, { value: connection, enumerable: false, configurable: true });
}

/** The admitted stream of a request, if any. */
export function sseConnectionOf(request: unknown): SseConnection | undefined {
  if (request === null || typeof request !== 'object') return undefined;
  const found = (request as Record<PropertyKey, unknown>)[CONNECTION];
  return found !== undefined ? (found as SseConnection) : undefined;
}

/** The stream's principal (moderation override applied), or `undefined` outside an `@Sse()` route. */
export function ssePrincipalOf(request: unknown): Principal | undefined {
  return sseConnectionOf(request)?.principal;
}
