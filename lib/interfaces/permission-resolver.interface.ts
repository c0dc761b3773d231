import type { Principal } from './principal.interface.js';

/** The question a permission resolver answers for one message. */
export interface PermissionQuery {
  readonly principal: Principal;
  /** e.g. `channel:read` */
  readonly permission: string;
  /** The resource instance named by the message (e.g. a channel id), when the handler names one. */
  readonly resourceId?: string;
  readonly namespace: string;
  readonly event: string;
}

/**
 * Decides whether a principal holds a permission. The default reads the principal's claims;
 * replace it (for example with a membership lookup) by providing this token. May be async.
 */
export interface PermissionResolver {
  isAllowed(query: PermissionQuery): boolean | Promise<boolean>;
}

/** Injection token of the active {@link PermissionResolver}. */
export const PermissionResolver = Symbol('PermissionResolver');
