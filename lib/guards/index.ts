export * from './ws-authorization.guard.js';
