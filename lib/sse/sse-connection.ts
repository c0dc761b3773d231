import type { MessageEvent } from '@nestjs/common';
import type { Observable, Subscriber } from 'rxjs';
import type { ConnectionLease } from '../connections/connection-session.js';
import type { StreamConnection } from '../connections/connection-lifecycle.js';
import type { SecurityErrorCode } from '../exceptions/security-error-code.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { SseAccessRule } from './sse-access-rule.js';

/** What ends and re-checks a stream: the stream service. */
export interface SseConnectionOwner {
  attach(connection: SseConnection, events$: Observable<MessageEvent>): Observable<MessageEvent>;
  end(connection: SseConnection, code: SecurityErrorCode | null): void;
  applyPermissions(connection: SseConnection, override: readonly string[] | null): void;
}

/**
 * One authenticated Server-Sent Events stream: admitted by the guard (its slot taken), open
 * once Nest subscribes to it, closed exactly once whatever ends it.
 */
export class SseConnection implements StreamConnection {
  state: 'admitted' | 'open' | 'closed' = 'admitted';
  /** Effective principal: token claims with any moderation override applied. */
  principal: Principal;
  /** Where events go while open. */
  subscriber: Subscriber<MessageEvent> | null = null;
  openedAt = 0;
  /** When the route last sent an event (heartbeats excluded), for the idle timeout. */
  lastEventAt = 0;
  /** The interceptor has wrapped its events (once, whichever instance got there first). */
  intercepted = false;
  /** Why it ended before it opened (a ban meanwhile), for the refusal the interceptor sends. */
  endedWith: SecurityErrorCode | null = null;

  constructor(
    private readonly owner: SseConnectionOwner,
    readonly lease: ConnectionLease,
    /** The principal as the token (or ticket) stated it. */
    readonly tokenPrincipal: Principal,
    override: readonly string[] | null,
    readonly route: string,
    readonly rule: SseAccessRule,
    /** The resource instance the stream is about, validated, when the rule names one. */
    readonly resourceId: string | undefined,
  ) {
    this.principal = override === null ? tokenPrincipal : Object.freeze({ ...tokenPrincipal, permissions: override });
  }

  /** The route's events, through the service that admitted this stream. */
  attach(events$: Observable<MessageEvent>): Observable<MessageEvent> {
    return this.owner.attach(this, events$);
  }

  end(code: SecurityErrorCode | null): void {
    this.owner.end(this, code);
  }

  applyPermissions(override: readonly string[] | null): void {
    this.owner.applyPermissions(this, override);
  }
}
