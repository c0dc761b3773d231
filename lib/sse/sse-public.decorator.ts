import { assertNoSseRule, SSE_RULE_METADATA, type SsePublicRule } from './sse-access-rule.js';

const PUBLIC: SsePublicRule = Object.freeze({ kind: 'public' });

/**
 * Opens an `@Sse()` route (or every `@Sse()` route of a controller) to any authenticated
 * principal, with no permission. Without it or `@SseAuthorize`, the route is refused with 403
 * `FORBIDDEN`. The stream is still authenticated, Origin-checked, counted and revocable.
 */
export function SsePublic(): MethodDecorator & ClassDecorator {
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder = descriptor !== undefined ? (descriptor.value as object) : target;
    assertNoSseRule(holder, '@SsePublic', propertyKey);
    Reflect.defineMetadata(SSE_RULE_METADATA, PUBLIC, holder);
  };
}
