import { SecurityMetrics } from '../metrics/security-metrics.js';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Subject, type Observable, type Subscription } from 'rxjs';
import { NODE_ID, RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle, describe, type ConnectionLifecycleEvent } from '../connections/connection-lifecycle.js';
import { PresenceBus } from '../interfaces/presence-bus.interface.js';
import { PresenceStore, type PresenceConnection, type PresenceRecord } from '../interfaces/presence-store.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { InvalidPresenceQueryError } from './invalid-presence-query.error.js';
import type { ListInRoomOptions, ListOnlineOptions, PresenceChange, PresenceInfo, PresencePage, RoomPresenceChange, RoomPresencePage } from './presence.interface.js';
import type { RoomMember, RoomPresenceStore } from '../interfaces/presence-store.interface.js';
import { RoomPresenceTracker } from './room-presence.tracker.js';
import { ThrottledLog } from '../utils/throttled-log.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const MAX_ID_LENGTH = 512;
/** Most rooms `roomsOf` answers. */
const MAX_ROOMS_OF = 1000;
/** A room name: `resource:id`, the resource a permission name. */
const ROOM_NAME = /^[A-Za-z0-9_.-]{1,64}:[^\u0000-\u001f\u007f]{1,448}$/;
const PREFERENCE = /^[A-Za-z0-9_.:-]{1,32}$/;
const CURSOR_PREFIX = 'p1.';
const MAX_CURSOR_LENGTH = 4 + Math.ceil((MAX_ID_LENGTH * 3 * 4) / 3);
/** How long shutdown waits for the last presence writes to reach the store. */
const SHUTDOWN_DRAIN_MS = 5000;
/** Pauses before retrying a failed store write (a lost close would leave a ghost online). */
const RETRY_DELAYS_MS = [100, 500] as const;

/** Work in flight, for leak checks and metrics. */
export interface PresenceServiceStats {
  /** Users with presence writes queued or running. */
  readonly pendingWrites: number;
  /** Users whose offline is held back by flap damping. */
  readonly dampedOffline: number;
}

/**
 * Server-computed presence. Its only input is `ConnectionLifecycle.changes$`: the server's own
 * observation of authenticated physical connections opening and closing. A user is online while
 * they hold at least one; `lastSeen` is when the last one closed. Nothing here sets a status,
 * and no client event reaches it.
 *
 * Store writes are serialised per user (open/close of one user reach the store in the order
 * they happened, whatever its latency). A failed write is retried twice, then logged, and the
 * next write goes on; nothing a store does can crash the process.
 * `changes$` announces transitions with flap damping: an offline is held for
 * `presence.flapWindowMs`, and a reconnect within it cancels both the offline and the online.
 * Queries always answer the store's current truth.
 */
@Injectable()
export class PresenceService implements OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeSecurity');
  /** A failing store or bus fails every connect and close: one log line per interval per step. */
  private readonly failures = new ThrottledLog(this.logger);
  private readonly queues = new Map<string, Promise<void>>();
  private readonly dampedOffline = new Map<string, NodeJS.Timeout>();
  private readonly changes = new Subject<PresenceChange>();
  private readonly subscription: Subscription;
  private readonly unsubscribeBus: () => void;

  /** Online/offline transitions, after flap damping. Subscribers must not throw. */
  readonly changes$: Observable<PresenceChange> = this.changes.asObservable();

  /**
   * Room joins and leaves (`presence.rooms.enabled`), of every node, as the store saw them (no
   * damping: the `presence_diff` broadcast damps). Subscribers must not throw.
   */
  readonly roomChanges$: Observable<RoomPresenceChange>;

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(PresenceStore) private readonly store: PresenceStore,
    @Inject(NODE_ID) private readonly nodeId: string,
    private readonly lifecycle: ConnectionLifecycle,
    @Inject(PresenceBus) private readonly bus: PresenceBus,
    private readonly rooms: RoomPresenceTracker,
    private readonly metrics: SecurityMetrics,
  ) {
    this.roomChanges$ = rooms.changes$;
    this.subscription = lifecycle.changes$.subscribe((event) => this.observe(event));
    // Changes announced elsewhere (other nodes, or this node reaping a dead one) are reported here too.
    this.unsubscribeBus = bus.subscribe((message) => {
      if (message.origin !== this.nodeId) this.changes.next(Object.freeze({ ...message.change }));
    });
  }

  /** True while the user holds at least one authenticated connection (any node). */
  async isOnline(tenantId: string, userId: string): Promise<boolean> {
    checkId('tenantId', tenantId);
    checkId('userId', userId);
    return (await this.store.get(tenantId, userId))?.status === 'online';
  }

  /** One user's presence. A user never seen (or long forgotten) is `offline` with `lastSeen: null`. */
  async get(tenantId: string, userId: string): Promise<PresenceInfo> {
    checkId('tenantId', tenantId);
    checkId('userId', userId);
    const [record, preference] = await Promise.all([this.store.get(tenantId, userId), this.store.getPreference(tenantId, userId)]);
    const base = record ?? { userId, tenantId, status: 'offline' as const, connections: 0, since: null, lastSeen: null };
    return Object.freeze({
      userId: base.userId, tenantId: base.tenantId, status: base.status, connections: base.connections,
      since: base.since, lastSeen: base.lastSeen, preference,
    });
  }

  /** A page of the tenant's online users; pass `nextCursor` back for the next one. */
  async listOnline(tenantId: string, options: ListOnlineOptions = {}): Promise<PresencePage> {
    checkId('tenantId', tenantId);
    const limit = options.limit ?? DEFAULT_PAGE;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new InvalidPresenceQueryError('limit', `must be an integer from 1 to ${MAX_PAGE}`);
    }
    const after = options.cursor === undefined || options.cursor === null ? null : decodeCursor(options.cursor);
    const found = await this.store.listOnline(tenantId, after, limit + 1);
    const users: PresenceRecord[] = found.slice(0, limit).map((r) => Object.freeze({ ...r }));
    return found.length > limit ? { users, nextCursor: encodeCursor(users[users.length - 1].userId) } : { users };
  }

  /** How many users of the tenant are online. */
  async countOnline(tenantId: string): Promise<number> {
    checkId('tenantId', tenantId);
    return this.store.countOnline(tenantId);
  }

  /**
   * Sets a voluntary status (`'dnd'`, `'away'`: 1..32 of letters, digits and `_.:-`), or clears it
   * with `null`. For server code (for example a handler the user calls, after your own checks);
   * it is reported next to `status` and never changes online/offline.
   */
  async setPreference(tenantId: string, userId: string, preference: string | null): Promise<void> {
    checkId('tenantId', tenantId);
    checkId('userId', userId);
    if (preference !== null && (typeof preference !== 'string' || !PREFERENCE.test(preference))) {
      throw new InvalidPresenceQueryError('preference', 'must be 1..32 letters, digits or _.:- (or null to clear it)');
    }
    await this.store.setPreference(tenantId, userId, preference);
  }

  async getPreference(tenantId: string, userId: string): Promise<string | null> {
    checkId('tenantId', tenantId);
    checkId('userId', userId);
    return this.store.getPreference(tenantId, userId);
  }

  /**
   * A page of the members of a room of the tenant (`room` is `resource:id`, for example
   * `channel:general`, as joined through `TenantRooms`); pass `nextCursor` back for the next one.
   * Needs `presence.rooms.enabled`.
   */
  async listInRoom(tenantId: string, room: string, options: ListInRoomOptions = {}): Promise<RoomPresencePage> {
    const store = this.roomStore();
    checkId('tenantId', tenantId);
    checkRoom(room);
    const limit = options.limit ?? DEFAULT_PAGE;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new InvalidPresenceQueryError('limit', `must be an integer from 1 to ${MAX_PAGE}`);
    }
    const after = options.cursor === undefined || options.cursor === null ? null : decodeCursor(options.cursor);
    const found = await store.listRoom(tenantId, room, after, limit + 1);
    const members: RoomMember[] = found.slice(0, limit).map((m) => Object.freeze({ ...m }));
    return found.length > limit ? { members, nextCursor: encodeCursor(members[members.length - 1].userId) } : { members };
  }

  /** How many users are in a room of the tenant. */
  async countInRoom(tenantId: string, room: string): Promise<number> {
    const store = this.roomStore();
    checkId('tenantId', tenantId);
    checkRoom(room);
    return store.countRoom(tenantId, room);
  }

  /** True while at least one of the user's connections is in the room (any node). */
  async isInRoom(tenantId: string, userId: string, room: string): Promise<boolean> {
    return (await this.roomMember(tenantId, userId, room)) !== null;
  }

  /** The user as a member of the room (connections, `joinedAt`, server-side fields), or `null`. */
  async roomMember(tenantId: string, userId: string, room: string): Promise<RoomMember | null> {
    const store = this.roomStore();
    checkId('tenantId', tenantId);
    checkId('userId', userId);
    checkRoom(room);
    return store.roomMember(tenantId, room, userId);
  }

  /** The rooms the user is in (`resource:id`, sorted), at most `limit` (1..1000, default 1000). */
  async roomsOf(tenantId: string, userId: string, limit = MAX_ROOMS_OF): Promise<readonly string[]> {
    const store = this.roomStore();
    checkId('tenantId', tenantId);
    checkId('userId', userId);
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_ROOMS_OF) {
      throw new InvalidPresenceQueryError('limit', `must be an integer from 1 to ${MAX_ROOMS_OF}`);
    }
    return [...(await store.roomsOf(tenantId, userId, limit))];
  }

  /** Resolves once every connection change observed so far has reached the store. */
  async flush(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
    await this.rooms.flush();
  }

  private roomStore(): RoomPresenceStore {
    const store = this.rooms.store;
    if (store === null) throw new Error('PresenceService: room presence is off. Set presence.rooms.enabled to true in the module options.');
    return store;
  }

  /** Work in flight (both return to zero when nothing is happening). */
  get stats(): PresenceServiceStats {
    return { pendingWrites: this.queues.size, dampedOffline: this.dampedOffline.size };
  }

  /**
   * Runs after Nest has closed the Socket.IO servers: every connection of this node is closed
   * and written to the store at once (no ghost for other nodes). Held offlines are dropped:
   * nobody is left here to tell, and clients reconnecting elsewhere cause no storm.
   */
  async onApplicationShutdown(): Promise<void> {
    this.lifecycle.closeAll();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_DRAIN_MS);
      timer.unref();
    });
    await Promise.race([this.flush(), deadline]);
    clearTimeout(timer);
    for (const held of this.dampedOffline.values()) clearTimeout(held);
    this.dampedOffline.clear();
    this.subscription.unsubscribe();
    this.unsubscribeBus();
    this.changes.complete();
  }

  private observe(event: ConnectionLifecycleEvent): void {
    const connection: PresenceConnection = { tenantId: event.tenantId, userId: event.userId, leaseId: event.leaseId, nodeId: this.nodeId };
    if (event.type === 'connected') {
      this.enqueue(event.userKey, 'connectionOpened', async () => {
        const { change, record } = await retried(() => this.store.connectionOpened(connection, event.at));
        if (change === 'online') this.onOnline(event.userKey, record, event.at);
      });
    } else {
      this.enqueue(event.userKey, 'connectionClosed', async () => {
        const { change, record } = await retried(() => this.store.connectionClosed(connection, event.at));
        if (change === 'offline') this.onOffline(event.userKey, record, event.at);
      });
    }
  }

  /** Chains `task` after the user's previous writes; the chain is dropped once it drains. */
  private enqueue(key: string, step: string, task: () => Promise<void>): void {
    const next = (this.queues.get(key) ?? Promise.resolve()).then(task).catch((error: unknown) => {
      this.failures.error(step, `presence store failed on ${step}: ${describe(error)}`);
    });
    this.queues.set(key, next);
    void next.then(() => {
      if (this.queues.get(key) === next) this.queues.delete(key);
    });
  }

  private onOnline(key: string, record: PresenceRecord, at: number): void {
    const held = this.dampedOffline.get(key);
    if (held !== undefined) {
      // A reconnect within the window: the offline is never announced, so neither is this online.
      clearTimeout(held);
      this.dampedOffline.delete(key);
      return;
    }
    this.announce({ type: 'online', tenantId: record.tenantId, userId: record.userId, at: record.since ?? at, lastSeen: null });
  }

  private onOffline(key: string, record: PresenceRecord, at: number): void {
    const window = this.options.presence.flapWindowMs;
    if (window === 0) {
      this.announce({ type: 'offline', tenantId: record.tenantId, userId: record.userId, at, lastSeen: record.lastSeen ?? at });
      return;
    }
    const timer: NodeJS.Timeout = setTimeout(() => {
      // Through the user's queue: a reconnect observed before the window ended is written first.
      this.enqueue(key, 'get', () => this.confirmOffline(key, timer, record, at));
    }, window);
    timer.unref();
    const previous = this.dampedOffline.get(key);
    if (previous !== undefined) clearTimeout(previous);
    this.dampedOffline.set(key, timer);
  }

  /** The window has passed: announce the offline unless the user is back (on any node). */
  private async confirmOffline(key: string, timer: NodeJS.Timeout, record: PresenceRecord, at: number): Promise<void> {
    if (this.dampedOffline.get(key) !== timer) return;
    this.dampedOffline.delete(key);
    let stillOffline: boolean;
    try {
      const current = await this.store.get(record.tenantId, record.userId);
      // Another offline since (another node's close) is announced by whoever observed it.
      stillOffline = current === null || (current.status === 'offline' && current.lastSeen === record.lastSeen);
    } catch (error) {
      this.failures.error('get', `presence store failed on get: ${describe(error)}`);
      stillOffline = this.lifecycle.sessionsOf(key).length === 0;
    }
    if (stillOffline) {
      this.announce({ type: 'offline', tenantId: record.tenantId, userId: record.userId, at, lastSeen: record.lastSeen ?? at });
    }
  }

  private announce(change: PresenceChange): void {
    const frozen = Object.freeze(change);
    this.metrics.presenceTransition(frozen.type);
    this.changes.next(frozen);
    this.bus.publish({ origin: this.nodeId, change: frozen }).catch((error: unknown) => {
      this.failures.error('publish', `presence bus failed on publish: ${describe(error)}`);
    });
  }
}

/** Runs a store write, retrying after each of `RETRY_DELAYS_MS`; the last failure is thrown. */
async function retried<T>(write: () => Promise<T>): Promise<T> {
  for (const pause of RETRY_DELAYS_MS) {
    try {
      return await write();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, pause).unref());
    }
  }
  return write();
}

function checkId(argument: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new InvalidPresenceQueryError(argument, `must be a string of 1 to ${MAX_ID_LENGTH} characters`);
  }
}

function checkRoom(room: unknown): asserts room is string {
  if (typeof room !== 'string' || !ROOM_NAME.test(room)) {
    throw new InvalidPresenceQueryError('room', 'must be `resource:id` (for example `channel:general`), 3 to 513 characters');
  }
}

function encodeCursor(userId: string): string {
  return CURSOR_PREFIX + Buffer.from(userId, 'utf8').toString('base64url');
}

/** The user id a cursor continues after; anything this service did not issue is refused. */
function decodeCursor(cursor: unknown): string {
  const invalid = () => new InvalidPresenceQueryError('cursor', 'is not a cursor this service issued');
  if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH || !cursor.startsWith(CURSOR_PREFIX)) throw invalid();
  const body = cursor.slice(CURSOR_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw invalid();
  const userId = Buffer.from(body, 'base64url').toString('utf8');
  if (userId.length === 0 || userId.length > MAX_ID_LENGTH || encodeCursor(userId) !== cursor) throw invalid();
  return userId;
}
