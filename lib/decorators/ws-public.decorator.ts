import type { PublicRule } from '../authorization/access-rule.js';
import { PUBLIC_METADATA } from '../constants.js';
import { assertUndecorated } from './ws-authorize.decorator.js';

const PUBLIC: PublicRule = Object.freeze({ kind: 'public' });

/**
 * Marks a handler (or every handler of a gateway class) as open to any authenticated
 * principal, with no permission. Without it or `@WsAuthorize`, a handler is denied by default.
 * The socket is still authenticated, unexpired and not banned.
 */
export function WsPublic(): MethodDecorator & ClassDecorator {
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder = descriptor !== undefined ? (descriptor.value as object) : target;
    assertUndecorated(holder, '@WsPublic', propertyKey);
    Reflect.defineMetadata(PUBLIC_METADATA, PUBLIC, holder);
  };
}
