export * from './in-memory-presence.store.js';
