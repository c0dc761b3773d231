export * from './user-key.js';
