export * from './in-memory-moderation.store.js';
export * from './in-process-moderation.bus.js';
export * from './moderation.service.js';
