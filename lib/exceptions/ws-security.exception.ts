import { WsException } from '@nestjs/websockets';
import { DEFAULT_ERROR_MESSAGES, SecurityErrorCode } from './security-error-code.js';

/** One field that failed validation: its path and the names of the rules it broke, never its value. */
export interface FieldError {
  readonly path: string;
  readonly constraints: readonly string[];
}

/** The body of every failed ack and `exception` event: `{ error: { code, message, ... } }`. */
export interface SecurityErrorBody {
  readonly error: {
    readonly code: SecurityErrorCode;
    readonly message: string;
    readonly retryAfterMs?: number;
    readonly fields?: readonly FieldError[];
  };
}

/** Extra detail a refusal may carry to the client. */
export interface WsSecurityExceptionDetails {
  readonly message?: string;
  readonly retryAfterMs?: number;
  readonly fields?: readonly FieldError[];
}

/**
 * The only exception this library raises on a socket: a `WsException` whose error is the
 * coded body, so even Nest's stock filter emits it without echoing the input.
 */
export class WsSecurityException extends WsException {
  readonly code: SecurityErrorCode;

  constructor(code: SecurityErrorCode, details: WsSecurityExceptionDetails = {}) {
    const body: SecurityErrorBody = {
      error: {
        code,
        message: details.message ?? DEFAULT_ERROR_MESSAGES[code],
        ...(details.retryAfterMs !== undefined ? { retryAfterMs: details.retryAfterMs } : {}),
        ...(details.fields !== undefined ? { fields: details.fields } : {}),
      },
    };
    super(body);
    this.code = code;
  }

  getBody(): SecurityErrorBody {
    return this.getError() as SecurityErrorBody;
  }
}
