export * from './ws-principal.decorator.js';
