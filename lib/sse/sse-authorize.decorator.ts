import { parseRequiredPermission } from '../authorization/permission.matcher.js';
import { assertNoSseRule, SSE_RULE_METADATA, type SsePermissionRule, type SseResourceSelector } from './sse-access-rule.js';

/** Options of {@link SseAuthorize}. */
export interface SseAuthorizeOptions {
  /**
   * Names the resource instance the stream is about, so a scoped grant (`notifications:read:ops`)
   * covers exactly that instance: a route or query parameter name (`'topic'`), or a function of
   * `{ params, query }`. The value must be a valid resource id (`authorization.resourceIdPattern`),
   * else the request is refused with 400 `VALIDATION_FAILED`. Resources are always inside the
   * principal's tenant.
   * @default undefined (the permission is needed on every instance)
   */
  resource?: SseResourceSelector;
}

const PARAMETER_NAME = /^[A-Za-z_$][A-Za-z0-9_$-]{0,63}$/;

/**
 * Requires a permission to open an `@Sse()` stream (on a method, or every `@Sse()` route of a
 * controller; a method's decorator beats its class's). Same grammar and matcher as
 * `@WsAuthorize`: `resource:action` or `resource:action:<id>`; grants may use `*` segments.
 *
 * ```ts
 * @SseAuthorize('notifications:read')
 * @Sse('notifications')
 * notifications(@SsePrincipal() principal: Principal) {}
 * ```
 */
export function SseAuthorize(permission: string, options: SseAuthorizeOptions = {}): MethodDecorator & ClassDecorator {
  const requirement = parseRequiredPermission(permission);
  if (requirement === null) {
    throw new Error(
      `@SseAuthorize(${JSON.stringify(String(permission)).slice(0, 80)}): not a permission. ` +
        "Write 'resource:action' (e.g. 'notifications:read') or 'resource:action:<id>'; letters, digits and _.- only, no wildcard.",
    );
  }
  const resource = options.resource;
  if (resource !== undefined) {
    if (typeof resource === 'string' ? !PARAMETER_NAME.test(resource) || resource === '__proto__' : typeof resource !== 'function') {
      throw new Error(`@SseAuthorize('${permission}'): option \`resource\` must be a route or query parameter name (e.g. 'topic') or a function of the request.`);
    }
    if (requirement.id !== undefined) {
      throw new Error(`@SseAuthorize('${permission}'): a permission with a fixed instance cannot also take \`resource\` from the request. Drop one of them.`);
    }
  }
  const rule: SsePermissionRule = Object.freeze({ kind: 'permission', permission, requirement: Object.freeze(requirement), ...(resource !== undefined ? { resource } : {}) });
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder = descriptor !== undefined ? (descriptor.value as object) : target;
    assertNoSseRule(holder, '@SseAuthorize', propertyKey);
    Reflect.defineMetadata(SSE_RULE_METADATA, rule, holder);
  };
}
