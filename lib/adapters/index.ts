export * from './secure-io.adapter.js';
export { SecureServer } from './secure-server.js';
