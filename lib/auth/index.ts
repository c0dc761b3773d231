export * from './jwt.authenticator.js';
export { OriginPolicy, normalizeOrigin } from './origin.policy.js';
