import { SecurityMetrics } from '../metrics/security-metrics.js';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { NODE_ID, RESOLVED_OPTIONS } from '../constants.js';
import { ConnectionLifecycle } from '../connections/connection-lifecycle.js';
import { ConnectionLeaseStore } from '../interfaces/connection-lease-store.interface.js';
import { PresenceBus } from '../interfaces/presence-bus.interface.js';
import { PresenceStore, type PresenceTransition } from '../interfaces/presence-store.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { PresenceService } from '../presence/presence.service.js';
import { RoomPresenceTracker } from '../presence/room-presence.tracker.js';
import { REAP_LOCK_MS, REDIS_CONNECTION, SHUTDOWN_CLEANUP_MS } from './cluster.constants.js';
import { RedisConnectionLeaseStore } from './redis-connection-lease.store.js';
import type { RedisConnection } from './redis-connection.js';
import { redact } from './redis-error-log.js';
import { RepeatingTask } from './repeating-task.js';
import { RedisPresenceStore } from './redis-presence.store.js';
import { LOCK_RELEASE, NODE_FORGET, NODE_HEARTBEAT } from './redis-scripts.js';
import { ThrottledLog } from '../utils/throttled-log.js';

/** What one reaping did, for logs and tests. */
export interface ReapReport {
  readonly nodeId: string;
  /** Users the reaping took offline. */
  readonly offline: number;
  /** Users the reaping took out of a room (one per user and room). */
  readonly roomLeaves: number;
  readonly durationMs: number;
}

/**
 * This node's life in the cluster (cluster mode only; a no-op otherwise):
 * - **heartbeat** every `heartbeatMs`: renews `node-alive:<id>` (TTL `nodeTimeoutMs`) and the
 *   node's last-beat time;
 * - **reaping**: each beat, finds registered nodes whose alive key has expired; for each, one
 *   node (the holder of a Redis lock) closes its connections (users go offline with
 *   `lastSeen` = its last beat, the change is announced on every node) and releases its
 *   slots. A node is reaped at most `nodeTimeoutMs + heartbeatMs` (+ the reaping itself) after
 *   its last beat;
 * - **pending releases**: each beat, sends again the slot releases Redis did not confirm (an
 *   acquire or release that failed or timed out), so no phantom slot outlives Redis answering
 *   again by more than `heartbeatMs`;
 * - **rebuild**: when its own alive key had vanished (Redis flushed or restarted, or this node
 *   was too slow and got reaped) or Redis comes back after an outage, writes its live
 *   connections back and removes what it no longer holds;
 * - **graceful shutdown**: after the sockets are closed and presence is written, lets flap
 *   damping run its window (users who reconnected elsewhere are not announced offline, the
 *   others are, on every node), then removes whatever of this node is left and deregisters
 *   (no wait for the timeout). Shutdown takes up to `presence.flapWindowMs` longer for it.
 */
@Injectable()
export class ClusterNodeService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeSecurity');
  /** Redis down fails every presence announcement: one log line per interval. */
  private readonly failures = new ThrottledLog(this.logger);
  private heartbeat?: RepeatingTask;
  private maintenance?: RepeatingTask;
  private beats = 0;
  private redisLost = false;
  private resyncReason: string | null = null;
  private stopped = false;
  private unsubscribe?: () => void;
  private readonly reapListeners = new Set<(report: ReapReport) => void>();

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    @Inject(REDIS_CONNECTION) private readonly redis: RedisConnection | null,
    @Inject(NODE_ID) private readonly nodeId: string,
    @Inject(ConnectionLeaseStore) private readonly leases: ConnectionLeaseStore,
    @Inject(PresenceStore) private readonly presenceStore: PresenceStore,
    @Inject(PresenceBus) private readonly presenceBus: PresenceBus,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly presence: PresenceService,
    private readonly rooms: RoomPresenceTracker,
    private readonly metrics: SecurityMetrics,
  ) {}

  /** Calls `listener` after each reaping this node performs; returns the function that removes it. */
  onReap(listener: (report: ReapReport) => void): () => void {
    this.reapListeners.add(listener);
    return () => this.reapListeners.delete(listener);
  }

  onApplicationBootstrap(): void {
    if (this.redis === null) return;
    const interval = this.redis.settings.heartbeatMs;
    // Separate loops: a long reaping or rebuild never delays this node's own heartbeat.
    this.heartbeat = new RepeatingTask(interval, () => this.beat());
    this.maintenance = new RepeatingTask(interval, () => this.maintain());
    this.unsubscribe = this.redis.onReconnect(() => {
      this.redisLost = true;
      this.heartbeat?.kick();
    });
    this.heartbeat.start();
    this.maintenance.start();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.redis === null || this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    await Promise.all([this.heartbeat?.stop(), this.maintenance?.stop()]);
    // Nest has closed the Socket.IO servers: let every close reach the store, then sweep.
    this.lifecycle.closeAll();
    await withDeadline(this.presence.flush(), SHUTDOWN_CLEANUP_MS);
    // Let flap damping decide (within its window) which users really left, so the other nodes are
    // told about those and not about users who reconnected elsewhere: no storm, no ghost.
    const dampingEnds = Date.now() + this.options.presence.flapWindowMs + 1000;
    while (this.presence.stats.dampedOffline > 0 && Date.now() < dampingEnds) await delay(25);
    await withDeadline(this.presence.flush(), SHUTDOWN_CLEANUP_MS);
    await withDeadline(this.leaveCluster(this.redis), SHUTDOWN_CLEANUP_MS).catch((error: unknown) => {
      this.logger.warn(`cluster: could not deregister at shutdown (other nodes will reap this one): ${redact(error)}`);
    });
  }

  /** Renews this node's heartbeat; asks for a rebuild when its registration had vanished or Redis is back. */
  private async beat(): Promise<void> {
    const redis = this.redis;
    if (redis === null || this.stopped) return;
    const { keys, commands, settings } = redis;
    let existed: boolean;
    try {
      existed = (await NODE_HEARTBEAT.run(commands, [keys.nodeAlive(this.nodeId), keys.nodes()], [this.nodeId, Date.now(), settings.nodeTimeoutMs])) === 1;
    } catch {
      // The connection logs the outage; rebuild once Redis answers again.
      this.redisLost = true;
      return;
    }
    if (this.redisLost) {
      this.redisLost = false;
      this.resyncReason = 'Redis is back';
    } else if (!existed && this.beats > 0) {
      this.resyncReason = 'this node\'s registration had vanished';
    }
    this.beats += 1;
    if (this.resyncReason !== null) this.maintenance?.kick();
  }

  /** A rebuild when one is due, then the reaping of dead nodes. */
  private async maintain(): Promise<void> {
    const redis = this.redis;
    if (redis === null || this.stopped || this.beats === 0) return;
    const reason = this.resyncReason;
    // Another node reaping this one (it was presumed dead) releases slots a batch at a time: rebuild
    // once it has stopped, so nothing it releases after the rebuild stays lost.
    if (reason !== null && (await redis.commands.exists(redis.keys.reapLock(this.nodeId)).catch(() => 1)) === 0) {
      this.resyncReason = null;
      await this.resync(reason).catch((error: unknown) => {
        this.resyncReason ??= reason;
        this.logger.error(`cluster: rebuild failed, retrying: ${redact(error)}`);
      });
    }
    // Slots whose acquire or release Redis did not confirm in time: released once it answers.
    if (this.leases instanceof RedisConnectionLeaseStore) {
      await this.leases.retryReleases().catch((error: unknown) => {
        this.failures.error('retry-release', `cluster: connection slot releases still pending: ${redact(error)}`);
      });
    }
    await this.reapDeadNodes(redis).catch((error: unknown) => {
      this.logger.error(`cluster: reaping failed, retrying: ${redact(error)}`);
    });
  }

  /** Writes this node's live connections back to Redis and removes the ones it no longer holds. */
  async resync(reason: string): Promise<void> {
    const started = Date.now();
    let leaseReport = '';
    if (this.leases instanceof RedisConnectionLeaseStore) {
      const { restored, removed } = await this.leases.resync();
      leaseReport = ` slots restored=${restored} removed=${removed}`;
    }
    let announced = 0;
    if (this.presenceStore instanceof RedisPresenceStore) {
      const changes = await this.presenceStore.resync(Date.now());
      for (const change of changes) this.announce(change, 'rebuild');
      announced = changes.length;
      if (this.rooms.enabled) {
        const roomChanges = await this.presenceStore.resyncRooms();
        for (const change of roomChanges) this.rooms.announce(change, `${this.nodeId}#rebuild`);
        announced += roomChanges.length;
      }
    }
    this.logger.log(`cluster: rebuilt this node's state (${reason}):${leaseReport} presence changes=${announced} in ${Date.now() - started} ms`);
  }

  private async reapDeadNodes(redis: RedisConnection): Promise<void> {
    const { commands, keys } = redis;
    const registered = await commands.hgetall(keys.nodes());
    const others = Object.keys(registered).filter((id) => id !== this.nodeId);
    if (others.length === 0) {
      this.metrics.clusterNodesSeen(1);
      return;
    }
    const alive = await Promise.all(others.map((id) => commands.exists(keys.nodeAlive(id))));
    this.metrics.clusterNodesSeen(1 + alive.filter((a) => a === 1).length);
    for (const [i, deadId] of others.entries()) {
      if (alive[i] === 1 || this.stopped) continue;
      const lock = keys.reapLock(deadId);
      if ((await commands.set(lock, this.nodeId, 'PX', REAP_LOCK_MS, 'NX')) !== 'OK') continue;
      try {
        await this.reap(redis, deadId, Number(registered[deadId]) || Date.now());
      } finally {
        await LOCK_RELEASE.run(commands, [lock], [this.nodeId]).catch(() => undefined);
      }
    }
  }

  private async reap(redis: RedisConnection, deadId: string, lastBeat: number): Promise<void> {
    const started = Date.now();
    let offline = 0;
    let complete = true;
    let roomLeaves = 0;
    if (this.presenceStore instanceof RedisPresenceStore) {
      // Rooms first: the users' room leaves are announced no later than their offline.
      complete = await this.presenceStore.reapNodeRooms(deadId, (change) => {
        roomLeaves += 1;
        this.rooms.announce(change, `${this.nodeId}#reaper`);
      });
    }
    if (complete && this.presenceStore instanceof RedisPresenceStore) {
      complete = await this.presenceStore.reapNode(deadId, lastBeat, (change) => {
        offline += 1;
        this.announce(change, 'reaper');
      });
    }
    if (complete && this.leases instanceof RedisConnectionLeaseStore) complete = await this.leases.reapNode(deadId);
    if (!complete) {
      this.logger.warn(`cluster: node ${JSON.stringify(deadId)} came back while being reaped; stopped`);
      return;
    }
    const { keys, commands } = redis;
    if ((await NODE_FORGET.run(commands, [keys.nodeAlive(deadId), keys.nodes()], [deadId])) === 1) {
      await commands.del(keys.nodeRooms(deadId));
    }
    const report: ReapReport = Object.freeze({ nodeId: deadId, offline, roomLeaves, durationMs: Date.now() - started });
    this.logger.warn(`cluster: reaped dead node ${JSON.stringify(deadId)} (last heartbeat ${new Date(lastBeat).toISOString()}): ${offline} users offline, ${roomLeaves} room leaves in ${report.durationMs} ms`);
    this.metrics.nodeReaped();
    for (const listener of [...this.reapListeners]) listener(report);
  }

  /** Tells every node (this one included) about a change this service caused. */
  private announce(transition: PresenceTransition, role: string): void {
    const { record, change } = transition;
    if (change === 'none') return;
    // Reaped and rebuilt users' transitions are this node's announcements too.
    this.metrics.presenceTransition(change);
    const at = change === 'online' ? record.since ?? Date.now() : record.lastSeen ?? Date.now();
    const message = {
      origin: `${this.nodeId}#${role}`,
      change: Object.freeze({ type: change, tenantId: record.tenantId, userId: record.userId, at, lastSeen: change === 'offline' ? at : null }),
    };
    this.presenceBus.publish(message).catch((error: unknown) => {
      this.failures.error('announce', `cluster: could not announce a presence change: ${redact(error)}`);
    });
  }

  /** Graceful exit: deregister, then close whatever this node still holds in Redis. */
  private async leaveCluster(redis: RedisConnection): Promise<void> {
    const { keys, commands } = redis;
    await commands.del(keys.nodeAlive(this.nodeId));
    const now = Date.now();
    if (this.presenceStore instanceof RedisPresenceStore) {
      await this.presenceStore.reapNodeRooms(this.nodeId, (change) => this.rooms.announce(change, `${this.nodeId}#shutdown`));
      await this.presenceStore.reapNode(this.nodeId, now, () => undefined);
    }
    if (this.leases instanceof RedisConnectionLeaseStore) await this.leases.reapNode(this.nodeId);
    await NODE_FORGET.run(commands, [keys.nodeAlive(this.nodeId), keys.nodes()], [this.nodeId]);
    await commands.del(keys.nodeRooms(this.nodeId));
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
