export * from './security-events.service.js';
