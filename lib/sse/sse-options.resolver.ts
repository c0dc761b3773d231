import { InvalidRealtimeSecurityOptionsError as Invalid } from '../module/invalid-options.error.js';
import type { ResolvedSseOptions, SseOptions } from './sse-options.interface.js';

const QUERY_PARAMETER = /^[A-Za-z0-9_-]{1,32}$/;
/** Names that the query-credential check refuses anyway: a ticket there would never get through. */
const RESERVED_PARAMETERS = new Set(['token', 'access_token', 'accesstoken', 'id_token', 'refresh_token', 'auth', 'authorization', 'jwt', 'bearer', 'session', 'api_key', 'apikey', 'password', 'secret']);

function int(option: string, value: unknown, min: number, max: number, fallback: number, zeroAllowed = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || ((value < min || value > max) && !(zeroAllowed && value === 0))) {
    throw new Invalid(option, `must be an integer from ${min} to ${max}${zeroAllowed ? ' (or 0)' : ''}`, `Set it within that range or leave it out for ${fallback}.`);
  }
  return value;
}

/** Validates `sse` once, at start-up. */
export function resolveSseOptions(sse: SseOptions | undefined): ResolvedSseOptions {
  if (sse !== undefined && (sse === null || typeof sse !== 'object')) {
    throw new Invalid('sse', 'must be an object', 'Pass `sse: { heartbeatMs, maxBufferedBytes, tickets }` or leave it out.');
  }
  const tickets = sse?.tickets ?? {};
  const enabled = tickets.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new Invalid('sse.tickets.enabled', 'must be true or false', 'Leave it out for true.');
  const queryParameter = tickets.queryParameter ?? 'ticket';
  if (typeof queryParameter !== 'string' || !QUERY_PARAMETER.test(queryParameter) || RESERVED_PARAMETERS.has(queryParameter.toLowerCase())) {
    throw new Invalid('sse.tickets.queryParameter', 'must be 1..32 letters, digits, _ or -, and not a credential name such as token', "Leave it out for 'ticket'.");
  }
  return Object.freeze({
    heartbeatMs: int('sse.heartbeatMs', sse?.heartbeatMs, 1000, 300_000, 15_000),
    maxBufferedBytes: int('sse.maxBufferedBytes', sse?.maxBufferedBytes, 16 * 1024, 256 * 1024 * 1024, 1024 * 1024),
    maxLifetimeMs: int('sse.maxLifetimeMs', sse?.maxLifetimeMs, 1000, 86_400_000, 0, true),
    idleTimeoutMs: int('sse.idleTimeoutMs', sse?.idleTimeoutMs, 1000, 86_400_000, 0, true),
    tickets: Object.freeze({ enabled, ttlMs: int('sse.tickets.ttlMs', tickets.ttlMs, 1000, 60_000, 10_000), queryParameter }),
  });
}
