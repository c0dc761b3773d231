export * from './in-memory-moderation.store.js';
