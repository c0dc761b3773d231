import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { TenantRooms } from '../authorization/tenant-rooms.service.js';
import { ConnectionLifecycle, describe } from '../connections/connection-lifecycle.js';
import { ConnectionSession } from '../connections/connection-session.js';
import { SecurityMetrics } from '../metrics/security-metrics.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { ModerationBus, type ModerationCommand } from '../interfaces/moderation-bus.interface.js';
import { ModerationStore, type BanRecord } from '../interfaces/moderation-store.interface.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { SecurityEventKind } from '../interfaces/security-event.interface.js';
import { userKey } from '../utils/user-key.js';
import { isIdentifier } from '../utils/identifier.js';
import { readModeration } from './moderation-read.js';
import { ModerationEpochs } from './moderation-epochs.js';

/** Options of {@link ModerationService.banUser}. */
export interface BanOptions {
  /** When the ban ends (a `Date` or epoch milliseconds, in the future). @default undefined (until unbanned) */
  readonly until?: Date | number;
  /** Why, for the operators' log (at most 500 characters); never sent to the client. @default undefined */
  readonly reason?: string;
}

const MAX_ID_LENGTH = 256;
const MAX_PERMISSIONS = 512;
const MAX_REASON_LENGTH = 500;

/**
 * Live moderation, injectable anywhere. Every decision is stored (so handshakes on every node
 * see it), applied at once to this node's sockets, and published on the {@link ModerationBus}
 * so the other nodes apply it to theirs.
 *
 * - `disconnectUser`: closes every socket of the user (`exception` `UNAUTHORIZED`, then disconnect).
 * - `banUser`: closes every socket with `exception` `BANNED`; handshakes get `BANNED` until
 *   `unbanUser` or `until`. Messages of a socket that slipped through a concurrent handshake are
 *   refused with `BANNED` and close it.
 * - `setPermissions`: replaces the user's permissions (`null` restores the token's); the next
 *   message is authorized with them, and sockets leave the {@link TenantRooms} they may no
 *   longer be in before the returned promise resolves (on this node).
 */
@Injectable()
export class ModerationService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('RealtimeSecurity');
  /** This instance, as the `origin` of what it publishes (it applies its own commands directly). */
  private readonly origin = randomUUID();
  /** Bans this node has applied (user key → until, epoch ms, or `null`), for the per-message check. */
  private readonly bans = new Map<string, number | null>();
  private unsubscribe?: () => void;
  private connections?: Subscription;

  constructor(
    @Inject(ModerationStore) private readonly store: ModerationStore,
    @Inject(ModerationBus) private readonly bus: ModerationBus,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly rooms: TenantRooms,
    private readonly events: SecurityEventsService,
    private readonly metrics: SecurityMetrics,
    private readonly epochs: ModerationEpochs,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.bus.subscribe((command) => {
      if (command.origin !== this.origin) this.apply(command);
    });
    // A handshake that read "not banned" just before a ban landed still opens: close it as it does.
    this.connections = this.lifecycle.changes$.subscribe((change) => {
      if (change.type === 'connected' && this.isBanned(change.userKey)) this.closeSessions(change.userKey, SecurityErrorCode.BANNED, 'banned');
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
    this.connections?.unsubscribe();
  }

  /** Closes every socket of the user, on every node. */
  async disconnectUser(tenantId: string, userId: string): Promise<void> {
    const command = this.command({ kind: 'disconnect', tenantId, userId }, 'disconnectUser');
    this.logger.log(`moderation: disconnect user=${JSON.stringify(userId)} tenant=${JSON.stringify(tenantId)}`);
    this.apply(command);
    await this.bus.publish(command);
  }

  /** Bans the user: every socket closes with `BANNED`, and handshakes are refused with `BANNED`. */
  async banUser(tenantId: string, userId: string, options: BanOptions = {}): Promise<BanRecord> {
    const until = banEnd(options.until);
    const reason = options.reason;
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH)) {
      throw new TypeError(`ModerationService.banUser: reason must be a string of at most ${MAX_REASON_LENGTH} characters.`);
    }
    const command = this.command({ kind: 'ban', tenantId, userId, until }, 'banUser');
    const record: BanRecord = Object.freeze({ until, ...(reason !== undefined ? { reason } : {}) });
    await this.store.ban(userKey(tenantId, userId), record);
    this.logger.warn(`moderation: ban user=${JSON.stringify(userId)} tenant=${JSON.stringify(tenantId)} until=${until === null ? 'lifted' : new Date(until).toISOString()}${reason !== undefined ? ` reason=${JSON.stringify(reason)}` : ''}`);
    this.apply(command);
    await this.bus.publish(command);
    return record;
  }

  /** Lifts a ban; the user may connect again. */
  async unbanUser(tenantId: string, userId: string): Promise<void> {
    const command = this.command({ kind: 'unban', tenantId, userId }, 'unbanUser');
    await this.store.unban(userKey(tenantId, userId));
    this.logger.log(`moderation: unban user=${JSON.stringify(userId)} tenant=${JSON.stringify(tenantId)}`);
    this.apply(command);
    await this.bus.publish(command);
  }

  /** The user's active ban, or `null`. */
  async getBan(tenantId: string, userId: string): Promise<BanRecord | null> {
    checkIds('getBan', tenantId, userId);
    return this.store.getBan(userKey(tenantId, userId));
  }

  /**
   * Replaces the user's permissions everywhere (`null`: back to the token's own). Resolves once
   * this node's sockets carry them and have left the rooms they may no longer be in.
   */
  async setPermissions(tenantId: string, userId: string, permissions: readonly string[] | null): Promise<void> {
    if (permissions !== null && (!Array.isArray(permissions) || permissions.length > MAX_PERMISSIONS
      || permissions.some((p) => typeof p !== 'string' || p.length === 0 || p.length > MAX_ID_LENGTH))) {
      throw new TypeError(`ModerationService.setPermissions: permissions must be null or an array of at most ${MAX_PERMISSIONS} non-empty strings.`);
    }
    const frozen = permissions === null ? null : Object.freeze([...permissions]);
    const command = this.command({ kind: 'permissions', tenantId, userId, permissions: frozen }, 'setPermissions');
    await this.store.setPermissions(userKey(tenantId, userId), frozen);
    this.logger.log(`moderation: permissions user=${JSON.stringify(userId)} tenant=${JSON.stringify(tenantId)} ${frozen === null ? 'reset to the token' : `set (${frozen.length})`}`);
    this.metrics.moderationApplied('permissions', 'local');
    await this.applyPermissions(command.tenantId, command.userId, frozen);
    await this.bus.publish(command);
  }

  /** The user's permission override, or `null` when the token's own apply. */
  async getPermissions(tenantId: string, userId: string): Promise<readonly string[] | null> {
    checkIds('getPermissions', tenantId, userId);
    return this.store.getPermissions(userKey(tenantId, userId));
  }

  /**
   * Applies moderation to a principal authenticated elsewhere (e.g. an HTTP guard): `null` when
   * the user is banned, else the principal with any permission override.
   */
  async effectivePrincipal(principal: Principal): Promise<Principal | null> {
    const key = userKey(principal.tenantId, principal.userId);
    const { ban, permissions } = await readModeration(this.store, key);
    if (ban !== null) return null;
    return ConnectionSession.effective(principal, permissions);
  }

  /** Whether this node has applied a ban of the user that is still running (the per-message check). */
  isBanned(key: string, now?: number): boolean {
    // Read the clock only for a user with a ban (the usual answer costs one lookup).
    if (!this.bans.has(key)) return false;
    const until = this.bans.get(key) ?? null;
    if (until !== null && until <= (now ?? Date.now())) {
      this.bans.delete(key);
      return false;
    }
    return true;
  }

  /** Enforces a command on this node's sockets. Idempotent. */
  private apply(command: ModerationCommand): void {
    const key = userKey(command.tenantId, command.userId);
    this.metrics.moderationApplied(command.kind, command.origin === this.origin ? 'local' : 'remote');
    switch (command.kind) {
      case 'disconnect':
        this.closeSessions(key, SecurityErrorCode.UNAUTHORIZED, 'disconnected_by_moderation');
        break;
      case 'ban':
        this.bans.set(key, command.until);
        this.epochs.bump(key);
        this.closeSessions(key, SecurityErrorCode.BANNED, 'banned');
        break;
      case 'unban':
        this.bans.delete(key);
        break;
      case 'permissions':
        this.applyPermissions(command.tenantId, command.userId, command.permissions).catch((error: unknown) => {
          this.logger.error(`moderation: applying a permission change failed: ${describe(error)}`);
        });
        break;
    }
  }

  private closeSessions(key: string, code: SecurityErrorCode, kind: SecurityEventKind): void {
    for (const session of this.lifecycle.sessionsOf(key)) {
      const { userId, tenantId } = session.principal;
      this.events.emit({ kind, code, userId, tenantId, namespace: session.socket.nsp.name });
      this.lifecycle.terminate(session, code);
    }
    // The user's streams (Server-Sent Events) end too, with the same code.
    for (const stream of this.lifecycle.streamsOf(key)) {
      const { userId, tenantId } = stream.principal;
      this.events.emit({ kind, code, userId, tenantId, namespace: stream.route });
      stream.end(code);
    }
  }

  private async applyPermissions(tenantId: string, userId: string, permissions: readonly string[] | null): Promise<void> {
    const key = userKey(tenantId, userId);
    // Handshakes of the user in flight read the store again before their sockets open.
    this.epochs.bump(key);
    const sessions = this.lifecycle.sessionsOf(key);
    // Every socket carries the new permissions before any room is re-checked (synchronously).
    for (const session of sessions) this.lifecycle.refresh(session, session.tokenPrincipal, permissions);
    // Streams re-check their access rule with the new permissions (and end when it no longer holds).
    for (const stream of this.lifecycle.streamsOf(userKey(tenantId, userId))) stream.applyPermissions(permissions);
    await Promise.all(sessions.map((session) => this.rooms.revalidate(session)));
  }

  private command<C extends Omit<ModerationCommand, 'origin'>>(command: C, method: string): C & { origin: string } {
    checkIds(method, command.tenantId, command.userId);
    return Object.freeze({ ...command, origin: this.origin });
  }
}

/** The identifier rule of the handshake: every id a handshake accepts is accepted here too. */
function checkIds(method: string, tenantId: unknown, userId: unknown): void {
  for (const [name, value] of [['tenantId', tenantId], ['userId', userId]] as const) {
    if (!isIdentifier(value)) {
      throw new TypeError(`ModerationService.${method}: ${name} must be a non-empty string of at most ${MAX_ID_LENGTH} characters without control or format characters.`);
    }
  }
}

function banEnd(until: Date | number | undefined): number | null {
  if (until === undefined) return null;
  const at = until instanceof Date ? until.getTime() : until;
  if (typeof at !== 'number' || !Number.isFinite(at) || at <= Date.now()) {
    throw new RangeError('ModerationService.banUser: until must be a Date or epoch milliseconds in the future (leave it out to ban until unbanned).');
  }
  return at;
}
