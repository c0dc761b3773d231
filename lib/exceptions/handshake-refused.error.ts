import { HANDSHAKE_REFUSED_MESSAGE, SecurityErrorCode } from './security-error-code.js';

/**
 * Passed to Socket.IO's `next(err)`: the client receives `connect_error` with the generic
 * `message` and `data.code`. Nothing else of the request is included.
 */
export class HandshakeRefusedError extends Error {
  readonly data: { readonly code: SecurityErrorCode };

  constructor(readonly code: SecurityErrorCode) {
    super(HANDSHAKE_REFUSED_MESSAGE);
    this.name = 'HandshakeRefusedError';
    this.data = { code };
  }
}
