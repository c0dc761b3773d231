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
  /** The permission that was missing (`forbidden`) or whose resource id was invalid. */
  readonly permission?: string;
  /** A fixed word chosen by the library (e.g. `undecorated`), never client input. */
  readonly reason?: string;
  /** Remote address, for handshake events. */
  readonly address?: string;
  /** Epoch milliseconds. */
  readonly at: number;
}
