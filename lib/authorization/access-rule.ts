import { PERMISSION_METADATA, PUBLIC_METADATA } from '../constants.js';
import type { PermissionRequirement } from './permission.matcher.js';

/** Names the resource instance a message is about: a top-level property of the payload, or a function of it. */
export type ResourceSelector = string | ((data: unknown) => unknown);

/** What `@WsAuthorize(permission, options)` stores. */
export interface PermissionRule {
  readonly kind: 'permission';
  /** As written, e.g. `channel:read`. */
  readonly permission: string;
  readonly requirement: PermissionRequirement;
  readonly resource?: ResourceSelector;
}

/** What `@WsPublic()` stores. */
export interface PublicRule {
  readonly kind: 'public';
}

/** No decorator anywhere: the handler is denied by default. */
export interface DeniedRule {
  readonly kind: 'denied';
}

export type AccessRule = PermissionRule | PublicRule | DeniedRule;

const DENIED: DeniedRule = Object.freeze({ kind: 'denied' });

/**
 * The rule of one handler: the method's own decorator beats the class's (the
 * `Reflector.getAllAndOverride` order, over both keys at once so a method-level `@WsPublic()`
 * also beats a class-level `@WsAuthorize`). The guard and the inventory both read it here, so
 * what start-up reports is what runs.
 */
export function readAccessRule(handler: object, gatewayClass: object): AccessRule {
  return ruleOn(handler) ?? ruleOn(gatewayClass) ?? DENIED;
}

/**
 * The rule declared on a method or class, if any; a subclass inherits its nearest ancestor's.
 * `own`: only what is declared on `target` itself.
 */
export function ruleOn(target: object, own = false): PermissionRule | PublicRule | undefined {
  for (let t: object | null = target; t !== null && t !== Function.prototype && t !== Object.prototype; t = own ? null : Object.getPrototypeOf(t)) {
    const rule = (Reflect.getOwnMetadata(PERMISSION_METADATA, t) ?? Reflect.getOwnMetadata(PUBLIC_METADATA, t)) as PermissionRule | PublicRule | undefined;
    if (rule !== undefined) return rule;
  }
  return undefined;
}

/** A short description of a resource selector for logs and the inventory. */
export function describeSelector(selector: ResourceSelector | undefined): string | undefined {
  if (selector === undefined) return undefined;
  return typeof selector === 'string' ? selector : '(function)';
}
