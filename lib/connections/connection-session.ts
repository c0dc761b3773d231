import type { Socket } from 'socket.io';
import type { Principal } from '../interfaces/principal.interface.js';
import type { DisconnectReason } from '../metrics/metric-labels.js';
import { SessionTraffic } from '../throttling/session-traffic.js';

/**
 * One physical connection's hold on a per-user slot, shared by every namespace socket of that
 * user on the same Engine.IO connection (`/` and `/chat` over one transport use one slot).
 */
export interface ConnectionLease {
  readonly id: string;
  readonly userKey: string;
  readonly userId: string;
  readonly tenantId: string;
  /** Resolves to whether the store granted the slot. */
  readonly granted: Promise<boolean>;
  /** Namespace sockets using this lease (pending or open). */
  refs: number;
  /** A socket on this lease has connected: presence counts it. */
  opened: boolean;
  released: boolean;
}

/** The library's state for one authenticated namespace socket. */
export class ConnectionSession {
  state: 'pending' | 'open' | 'closed' = 'pending';
  /** Why the server is ending it (set by `terminate`, read by metrics when it closes). */
  endReason: DisconnectReason | undefined = undefined;
  /** Effective principal: token claims with any moderation override applied. */
  principal: Principal;
  /** What the message path keeps per socket: arrivals, pending acks, rate counters and penalty. */
  readonly traffic = new SessionTraffic();

  constructor(
    readonly socket: Socket,
    /** The principal as the token stated it, before overrides. */
    public tokenPrincipal: Principal,
    readonly lease: ConnectionLease,
    permissionOverride: readonly string[] | null,
  ) {
    this.principal = ConnectionSession.effective(tokenPrincipal, permissionOverride);
  }

  get userKey(): string {
    return this.lease.userKey;
  }

  /** Applies a moderation override of the permissions, if any. */
  static effective(principal: Principal, override: readonly string[] | null): Principal {
    return override === null ? principal : Object.freeze({ ...principal, permissions: override });
  }
}

const SESSION = Symbol('realtime-security:session');

/** Attaches the session to the socket; `socket.data.principal` becomes a live read-only view. */
export function attachSession(socket: Socket, session: ConnectionSession): void {
  const data = socket.data as Record<PropertyKey, unknown>;
  Object.defineProperty(data, SESSION, { value: session, enumerable: false, configurable: false });
  Object.defineProperty(data, 'principal', { get: principalOfData, enumerable: true, configurable: false });
}

/** The `socket.data.principal` getter, shared by every socket (no closure per socket). */
function principalOfData(this: Record<PropertyKey, unknown>): Principal {
  return (this[SESSION] as ConnectionSession).principal;
}

/** The session of an authenticated socket, or `undefined` for anything else. */
export function sessionOf(socket: Socket | undefined | null): ConnectionSession | undefined {
  const data = socket?.data as Record<PropertyKey, unknown> | undefined;
  const session = data?.[SESSION];
  return session instanceof ConnectionSession ? session : undefined;
}
