export * from './security-error-code.js';
export * from './ws-security.exception.js';
export * from './handshake-refused.error.js';
