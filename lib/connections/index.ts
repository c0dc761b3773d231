export * from './connection-lifecycle.js';
export { ConnectionSession, sessionOf } from './connection-session.js';
export * from './in-memory-connection-lease.store.js';
