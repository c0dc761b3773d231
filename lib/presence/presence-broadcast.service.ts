import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { RESOLVED_OPTIONS } from '../constants.js';
import { hasPermission, parseRequiredPermission, type PermissionRequirement } from '../authorization/permission.matcher.js';
import { ConnectionLifecycle, describe } from '../connections/connection-lifecycle.js';
import type { ConnectionSession } from '../connections/connection-session.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { PresenceAudience, PresenceSubject } from '../interfaces/realtime-security-options.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import type { PresenceChange } from './presence.interface.js';
import { PresenceService } from './presence.service.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/** What a client receives: the subject, the status, and `lastSeen` on offline. Nothing else. */
export interface PresenceUpdatePayload {
  readonly userId: string;
  readonly status: 'online' | 'offline';
  readonly lastSeen?: number;
}

/**
 * The built-in `presence_update` broadcast (on when `presence.broadcast.namespaces` is set).
 * The audience is always drawn from the subject's own tenant, on the configured namespaces,
 * and each viewer's live principal must pass `audience` (default: holds `presence:read`). The
 * permission is checked at send time, so a permission removed mid-session stops the updates.
 * Internal: configure it through the module options.
 */
@Injectable()
export class PresenceBroadcastService implements OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeSecurity');
  /** A failing resolver fails every audience check: one log line per interval. */
  private readonly failures = new ThrottledLog(this.logger);
  private readonly subscription: Subscription | null;
  private readonly audience: PresenceAudience;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    private readonly lifecycle: ConnectionLifecycle,
    presence: PresenceService,
  ) {
    const broadcast = options.presence.broadcast;
    this.audience = broadcast.audience ?? permissionAudience(parseRequiredPermission(broadcast.permission));
    this.subscription = broadcast.namespaces.size === 0 ? null : presence.changes$.subscribe((change) => this.send(change));
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  private send(change: PresenceChange): void {
    const { namespaces, event } = this.options.presence.broadcast;
    const subject: PresenceSubject = Object.freeze({ tenantId: change.tenantId, userId: change.userId });
    const payload: PresenceUpdatePayload = change.type === 'offline' && change.lastSeen !== null
      ? { userId: change.userId, status: 'offline', lastSeen: change.lastSeen }
      : { userId: change.userId, status: change.type };
    // Same tenant only, by construction: the index holds nobody else.
    for (const session of [...this.lifecycle.tenantSessions(change.tenantId)]) {
      if (session.state !== 'open' || !namespaces.has(session.socket.nsp.name)) continue;
      if (session.principal.tenantId !== change.tenantId) continue;
      if (this.allows(session, subject)) session.socket.emit(event, payload);
    }
  }

  private allows(session: ConnectionSession, subject: PresenceSubject): boolean {
    try {
      return this.audience(session.principal, subject) === true;
    } catch (error) {
      this.failures.error('audience', `presence audience check failed: ${describe(error)}`);
      return false;
    }
  }
}

function permissionAudience(required: PermissionRequirement | null): PresenceAudience {
  return (viewer: Principal) => required !== null && hasPermission(viewer.permissions, required);
}
