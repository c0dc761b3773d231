export * from './principal.interface.js';
export * from './authenticator.interface.js';
export * from './permission-resolver.interface.js';
export * from './connection-lease-store.interface.js';
export * from './moderation-store.interface.js';
export * from './security-event.interface.js';
export * from './realtime-security-options.interface.js';
export * from './presence-store.interface.js';
