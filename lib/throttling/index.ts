export * from './ws-throttler.guard.js';
export * from './ws-throttle.decorator.js';
export * from './ws-throttler-storage.interface.js';
export * from './in-memory-throttler.storage.js';
export { HandshakeRateLimiter } from './handshake-rate.limiter.js';
export * from './user-message.budget.js';
