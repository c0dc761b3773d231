import type { SecurityErrorCode } from '../exceptions/security-error-code.js';

/**
 * The closed sets every metric attribute comes from. Nothing a client chooses (an event name, a
 * namespace, a payload) and no identifier (user, tenant, token, address, node) is ever a value:
 * names outside the declared sets fold into {@link OTHER}.
 */

/** What an undeclared namespace or event name is counted as. */
export const OTHER = '(other)';

/** How a connection reaches the server. */
export type ConnectionTransport = 'websocket' | 'polling' | 'webtransport' | 'sse' | 'other';

/** Why an open connection ended. */
export type DisconnectReason =
  | 'client'
  | 'transport_close'
  | 'transport_error'
  | 'ping_timeout'
  | 'parse_error'
  | 'server'
  | 'shutdown'
  | 'banned'
  | 'moderation'
  | 'token_expired'
  | 'rate_limited'
  | 'other';

/** A moderation command this node applied. */
export type ModerationAction = 'ban' | 'unban' | 'disconnect' | 'permissions';

/** What a failed Redis command failed of. */
export type RedisFailureKind = 'timeout' | 'unavailable' | 'error';

/** Socket.IO's `disconnect` reasons (a closed set of its own), as metric values. */
const SOCKET_REASONS: Readonly<Record<string, DisconnectReason>> = {
  'client namespace disconnect': 'client',
  'transport close': 'transport_close',
  'transport error': 'transport_error',
  'ping timeout': 'ping_timeout',
  'parse error': 'parse_error',
  'server namespace disconnect': 'server',
  'server shutting down': 'shutdown',
  'forced close': 'server',
  'forced server close': 'server',
};

/** A Socket.IO disconnect reason as a metric value (anything else is `other`). */
export function socketDisconnectReason(reason: unknown): DisconnectReason {
  return typeof reason === 'string' && Object.hasOwn(SOCKET_REASONS, reason) ? SOCKET_REASONS[reason] : 'other';
}

/** Why the server ended a connection with this code (`terminate`). */
export function terminationReason(code: SecurityErrorCode): DisconnectReason {
  switch (code) {
    case 'BANNED':
      return 'banned';
    case 'TOKEN_EXPIRED':
      return 'token_expired';
    case 'RATE_LIMITED':
      return 'rate_limited';
    // A moderator's disconnect closes with UNAUTHORIZED.
    case 'UNAUTHORIZED':
      return 'moderation';
    default:
      return 'server';
  }
}

/** An engine transport name as a metric value. */
export function transportOf(name: unknown): ConnectionTransport {
  return name === 'websocket' || name === 'polling' || name === 'webtransport' ? name : 'other';
}

/** A failed Redis command's error as a metric value; `null` for the script cache miss the library handles itself. */
export function redisFailureKind(error: unknown): RedisFailureKind | null {
  const message = error instanceof Error ? error.message : '';
  if (message.startsWith('NOSCRIPT')) return null;
  if (message.includes('timed out')) return 'timeout';
  if (/Connection is closed|isn't writeable|MaxRetriesPerRequest|ECONNREFUSED|ECONNRESET|EPIPE/.test(message) || (error instanceof Error && error.name === 'MaxRetriesPerRequestError')) return 'unavailable';
  return 'error';
}
