import type { PermissionRequirement } from '../authorization/permission.matcher.js';

/** Metadata key of `@SseAuthorize` / `@SsePublic` (namespaced, never an app's own). */
export const SSE_RULE_METADATA = 'realtime-security:sse-rule';

/** What the request looks like to a resource selector: the route parameters and the query. */
export interface SseRequestView {
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly query: URLSearchParams;
}

/**
 * Names the resource instance (topic, channel) a stream is about: a route parameter or query
 * parameter name (the route parameter wins), or a function of the request.
 */
export type SseResourceSelector = string | ((request: SseRequestView) => unknown);

/** What `@SseAuthorize(permission, options)` stores. */
export interface SsePermissionRule {
  readonly kind: 'permission';
  readonly permission: string;
  readonly requirement: PermissionRequirement;
  readonly resource?: SseResourceSelector;
}

/** What `@SsePublic()` stores: any authenticated principal. */
export interface SsePublicRule {
  readonly kind: 'public';
}

/** An `@Sse()` route with no rule is refused (`FORBIDDEN`). */
export interface SseDeniedRule {
  readonly kind: 'denied';
}

export type SseAccessRule = SsePermissionRule | SsePublicRule | SseDeniedRule;

const DENIED: SseDeniedRule = Object.freeze({ kind: 'denied' });

/** The rule on a method or class itself (or its nearest ancestor's). */
export function sseRuleOn(target: object, own = false): SsePermissionRule | SsePublicRule | undefined {
  for (let t: object | null = target; t !== null && t !== Function.prototype && t !== Object.prototype; t = own ? null : Object.getPrototypeOf(t)) {
    const rule = Reflect.getOwnMetadata(SSE_RULE_METADATA, t) as SsePermissionRule | SsePublicRule | undefined;
    if (rule !== undefined) return rule;
  }
  return undefined;
}

/** The rule of one `@Sse()` handler: the method's beats the controller's; none is denied. The guard and the inventory both read it here. */
export function readSseRule(handler: object, controller: object): SseAccessRule {
  return sseRuleOn(handler) ?? sseRuleOn(controller) ?? DENIED;
}

/** Throws when a method or class already carries `@SseAuthorize` or `@SsePublic`. */
export function assertNoSseRule(holder: object, decorator: string, propertyKey?: string | symbol): void {
  if (sseRuleOn(holder, true) === undefined) return;
  const where = propertyKey !== undefined ? `method ${String(propertyKey)}` : `class ${(holder as { name?: string }).name ?? '(anonymous)'}`;
  throw new Error(`${decorator} on ${where}: it already has @SseAuthorize or @SsePublic. Keep exactly one access decorator per method or class.`);
}
