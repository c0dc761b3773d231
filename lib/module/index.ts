export * from './realtime-security.module.js';
export { InvalidRealtimeSecurityOptionsError } from './invalid-options.error.js';
export { REALTIME_SECURITY_OPTIONS } from './realtime-security.module-definition.js';
