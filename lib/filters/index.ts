export * from './ws-security-exception.filter.js';
