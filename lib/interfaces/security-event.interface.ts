import type { SecurityErrorCode } from '../exceptions/security-error-code.js';

/** What happened. */
export type SecurityEventKind =
  | 'handshake_refused'
  | 'origin_refused'
  | 'forbidden'
  | 'token_expired'
  | 'banned'
  | 'disconnected_by_moderation'
  | 'rate_limited'
  | 'validation_failed'
  | 'internal_error';

/** A refusal or an enforcement. Never carries a token, cookie, engine id or payload. */
export interface SecurityEvent {
  readonly kind: SecurityEventKind;
  readonly code: SecurityErrorCode;
  readonly userId?: string;
  readonly tenantId?: string;
  readonly namespace?: string;
  readonly event?: string;
  /** Remote address, for handshake events. */
  readonly address?: string;
  /** Epoch milliseconds. */
  readonly at: number;
}
