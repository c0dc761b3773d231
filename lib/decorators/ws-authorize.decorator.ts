import { parseRequiredPermission } from '../authorization/permission.matcher.js';
import { ruleOn, type PermissionRule, type ResourceSelector } from '../authorization/access-rule.js';
import { PERMISSION_METADATA } from '../constants.js';

/** Options of {@link WsAuthorize}. */
export interface WsAuthorizeOptions {
  /**
   * Names the resource instance the message is about, so a scoped grant
   * (`channel:read:general`) covers exactly that instance: a top-level property name of the
   * payload (`'channelId'`) or a function of the payload (`(dto) => dto.channel.id`). The value
   * must be a valid resource id (see `authorization.resourceIdPattern`), else the message is
   * refused with `VALIDATION_FAILED` before any permission is evaluated.
   * @default undefined (the permission is needed on every instance)
   */
  resource?: ResourceSelector;
}

const PROPERTY_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;
const UNSAFE_PROPERTIES = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Requires a permission on every message a handler (or every handler of a gateway class)
 * receives. A method's decorator beats its class's. Grammar: `resource:action`, or
 * `resource:action:<id>` for one fixed instance; grants may use `*` segments.
 *
 * ```ts
 * @WsAuthorize('channel:read', { resource: 'channelId' })
 * @SubscribeMessage('channel:join')
 * join(@MessageBody() dto: JoinDto) {}
 * ```
 */
export function WsAuthorize(permission: string, options: WsAuthorizeOptions = {}): MethodDecorator & ClassDecorator {
  const requirement = parseRequiredPermission(permission);
  if (requirement === null) {
    throw new Error(
      `@WsAuthorize(${JSON.stringify(String(permission)).slice(0, 80)}): not a permission. ` +
        "Write 'resource:action' (e.g. 'channel:read') or 'resource:action:<id>'; letters, digits and _.- only, no wildcard.",
    );
  }
  const resource = options.resource;
  if (resource !== undefined) {
    if (typeof resource === 'string' ? !PROPERTY_NAME.test(resource) || UNSAFE_PROPERTIES.has(resource) : typeof resource !== 'function') {
      throw new Error(`@WsAuthorize('${permission}'): option \`resource\` must be a payload property name (e.g. 'channelId') or a function of the payload.`);
    }
    if (requirement.id !== undefined) {
      throw new Error(`@WsAuthorize('${permission}'): a permission with a fixed instance cannot also take \`resource\` from the message. Drop one of them.`);
    }
  }
  const rule: PermissionRule = Object.freeze({
    kind: 'permission',
    permission,
    requirement: Object.freeze(requirement),
    ...(resource !== undefined ? { resource } : {}),
  });
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder = descriptor !== undefined ? (descriptor.value as object) : target;
    assertUndecorated(holder, '@WsAuthorize', propertyKey);
    Reflect.defineMetadata(PERMISSION_METADATA, rule, holder);
  };
}

/** Throws when a method or class already carries `@WsAuthorize` or `@WsPublic`. */
export function assertUndecorated(holder: object, decorator: string, propertyKey?: string | symbol): void {
  if (ruleOn(holder, true) === undefined) return;
  const where = propertyKey !== undefined ? `method ${String(propertyKey)}` : `class ${(holder as { name?: string }).name ?? '(anonymous)'}`;
  throw new Error(`${decorator} on ${where}: it already has @WsAuthorize or @WsPublic. Keep exactly one access decorator per method or class.`);
}
