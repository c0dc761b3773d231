/**
 * Stable error codes. Clients branch on these; messages are generic and may change.
 * Handshake refusals use the first group, message refusals the second.
 */
export const SecurityErrorCode = {
  UNAUTHORIZED: 'UNAUTHORIZED',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  ORIGIN_REJECTED: 'ORIGIN_REJECTED',
  CONNECTION_LIMIT: 'CONNECTION_LIMIT',
  BANNED: 'BANNED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  FORBIDDEN: 'FORBIDDEN',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  RATE_LIMITED: 'RATE_LIMITED',
  NOT_FOUND: 'NOT_FOUND',
  BAD_REQUEST: 'BAD_REQUEST',
  INTERNAL: 'INTERNAL',
  /** `TenantRooms.join` past `presence.rooms.maxRoomsPerConnection`. */
  ROOM_LIMIT: 'ROOM_LIMIT',
} as const;

export type SecurityErrorCode = (typeof SecurityErrorCode)[keyof typeof SecurityErrorCode];

/** Generic, input-free messages: one per code, so nothing a client sent is ever echoed. */
export const DEFAULT_ERROR_MESSAGES: Readonly<Record<SecurityErrorCode, string>> = {
  UNAUTHORIZED: 'Authentication required',
  TOKEN_EXPIRED: 'Token expired',
  ORIGIN_REJECTED: 'Origin not allowed',
  CONNECTION_LIMIT: 'Too many connections',
  BANNED: 'Access revoked',
  SERVICE_UNAVAILABLE: 'Service unavailable, retry later',
  FORBIDDEN: 'Forbidden',
  VALIDATION_FAILED: 'Validation failed',
  RATE_LIMITED: 'Rate limit exceeded',
  NOT_FOUND: 'Not found',
  BAD_REQUEST: 'Bad request',
  INTERNAL: 'Internal error',
  ROOM_LIMIT: 'Too many rooms',
};

/** The generic message every refused handshake carries; `data.code` tells the reason. */
export const HANDSHAKE_REFUSED_MESSAGE = 'Connection refused';
