import { HttpException } from '@nestjs/common';
import { DEFAULT_ERROR_MESSAGES, SecurityErrorCode } from '../exceptions/security-error-code.js';

const STATUS: Partial<Record<SecurityErrorCode, number>> = {
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  ORIGIN_REJECTED: 403,
  BANNED: 403,
  FORBIDDEN: 403,
  VALIDATION_FAILED: 400,
  BAD_REQUEST: 400,
  CONNECTION_LIMIT: 429,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
  NOT_FOUND: 404,
};

/**
 * A stream refused before its first byte: HTTP 401/403/429 (or 400/503) with the JSON body
 * `{ error: { code, message } }`; the message is generic, never an echo of the request.
 */
export class SseRefusedException extends HttpException {
  constructor(readonly code: SecurityErrorCode) {
    super({ error: { code, message: DEFAULT_ERROR_MESSAGES[code] } }, STATUS[code] ?? 500);
  }
}
