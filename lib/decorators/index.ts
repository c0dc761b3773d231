export * from './ws-principal.decorator.js';
export { WsAuthorize, type WsAuthorizeOptions } from './ws-authorize.decorator.js';
export * from './ws-public.decorator.js';
