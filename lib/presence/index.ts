export * from './in-memory-presence.store.js';
export * from './invalid-presence-query.error.js';
export * from './presence.interface.js';
export * from './presence.service.js';
export * from './in-process-presence.bus.js';
export type { PresenceUpdatePayload } from './presence-broadcast.service.js';
