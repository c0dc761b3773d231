import { Logger } from '@nestjs/common';
import { InMemoryConnectionLeaseStore } from '../connections/in-memory-connection-lease.store.js';
import type { ConnectionLeaseStore } from '../interfaces/connection-lease-store.interface.js';
import type { RedisUnavailablePolicy } from '../interfaces/realtime-security-options.interface.js';
import { everyHashFieldBatch, inBatches } from './batches.js';
import { redact } from './redis-error-log.js';
import type { RedisConnection } from './redis-connection.js';
import { LEASE_ACQUIRE, LEASE_REAP, LEASE_RELEASE } from './redis-scripts.js';
import { ThrottledLog } from '../utils/throttled-log.js';

const BATCH = 500;

/** What a rebuild changed. */
export interface LeaseResyncResult {
  /** Slots of live connections written back (they had vanished, e.g. after a flush). */
  readonly restored: number;
  /** Slots of this node that no live connection holds any more, released. */
  readonly removed: number;
}

/**
 * Per-user connection slots in Redis, shared by every node. `acquire` checks and takes a slot
 * in one Lua script (one round trip), so parallel handshakes of one user on several nodes never
 * pass the ceiling. Each slot records its node, and each node keeps an index of its slots, so a
 * dead node's slots can be released (`reapNode`) and a node's slots rebuilt from what it really
 * holds (`resync`) after Redis lost them. Slots are hash fields, so no count can go negative.
 *
 * While Redis is unreachable, `acquire` throws (the handshake is refused with
 * `SERVICE_UNAVAILABLE`) or, with `onUnavailable: 'fail-open'`, counts the slot in this process
 * only; `release` never throws (the slot is dropped locally and `resync` removes it from Redis).
 */
export class RedisConnectionLeaseStore implements ConnectionLeaseStore {
  private readonly logger = new Logger('RealtimeSecurity');
  /** Redis down defers every release: one log line per interval. */
  private readonly failures = new ThrottledLog(this.logger);
  /** Slots this process holds: node-index field → [userKey, leaseId]. */
  private readonly held = new Map<string, readonly [string, string]>();
  /** Acquires in flight (a rebuild must not release them). */
  private readonly pending = new Set<string>();
  /**
   * Releases Redis did not confirm (it was unreachable or slower than `commandTimeoutMs`):
   * node-index field → [userKey, leaseId], retried by {@link retryReleases} on every maintenance
   * tick (each heartbeat) until Redis answers.
   */
  private readonly unreleased = new Map<string, readonly [string, string]>();
  /** Acquires that failed or timed out: the script may still run, so their release must run whatever happens to the reply. */
  private readonly uncertain = new Set<string>();
  /** Fail-open fallback: slots granted while Redis was unreachable, per process. */
  private fallback = new InMemoryConnectionLeaseStore();
  private lastReleaseError = 0;

  constructor(
    private readonly redis: RedisConnection,
    private readonly nodeId: string,
    private readonly onUnavailable: RedisUnavailablePolicy = 'fail-closed',
  ) {}

  async acquire(userKey: string, leaseId: string, max: number): Promise<boolean> {
    const field = indexField(userKey, leaseId);
    if (this.held.has(field)) return true;
    this.pending.add(field);
    try {
      const granted = Number(await LEASE_ACQUIRE.run(this.redis.commands, this.keysFor(userKey), [leaseId, max, this.nodeId, field, 0])) > 0;
      if (granted) this.held.set(field, [userKey, leaseId]);
      return granted;
    } catch (error) {
      this.uncertain.add(field);
      if (this.onUnavailable !== 'fail-open') throw error;
      const granted = await this.fallback.acquire(userKey, leaseId, max);
      if (granted) this.held.set(field, [userKey, leaseId]);
      // Refused here: nobody will release it, yet the Redis script may still take the slot.
      else void this.release(userKey, leaseId);
      return granted;
    } finally {
      this.pending.delete(field);
    }
  }

  async release(userKey: string, leaseId: string): Promise<void> {
    const field = indexField(userKey, leaseId);
    this.held.delete(field);
    await this.fallback.release(userKey, leaseId);
    try {
      // Behind an acquire of unknown outcome (same connection, so it runs after it): EVAL, so it
      // takes effect even if this call times out too.
      // With the presence close of the same connection when it comes in the same turn (one script).
      const once = this.uncertain.delete(field);
      await this.redis.disconnects.release(this.nodeId, userKey, leaseId, this.keysFor(userKey), [leaseId, field], once);
      this.unreleased.delete(field);
    } catch (error) {
      // Redis is unreachable or slow: the slot is gone here; the maintenance loop retries the
      // release there (and `resync` removes it on recovery).
      this.unreleased.set(field, [userKey, leaseId]);
      if (Date.now() - this.lastReleaseError > 10_000) {
        this.lastReleaseError = Date.now();
        this.failures.warn('release', `connection slot release deferred until Redis is back: ${redact(error)}`);
      }
    }
  }

  /**
   * Sends again every release Redis did not confirm; called by the maintenance loop each
   * heartbeat. A slot whose acquire or release timed out is therefore gone from Redis at most one
   * heartbeat after Redis answers again. Resolves with how many were confirmed now.
   */
  async retryReleases(): Promise<number> {
    if (this.unreleased.size === 0) return 0;
    const entries = [...this.unreleased];
    const results = await inBatches(entries, BATCH, async ([field, [userKey, leaseId]]) => {
      if (this.held.has(field) || this.pending.has(field)) return false;
      await LEASE_RELEASE.run(this.redis.commands, this.keysFor(userKey), [leaseId, field]);
      if (this.unreleased.get(field)?.[1] === leaseId) this.unreleased.delete(field);
      return true;
    });
    return results.filter(Boolean).length;
  }

  /** Releases waiting for Redis to confirm them. */
  get unconfirmedReleases(): number {
    return this.unreleased.size;
  }

  async count(userKey: string): Promise<number> {
    return this.redis.commands.hlen(this.redis.keys.userLeases(userKey));
  }

  /** Slots this process holds now. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Makes Redis hold exactly this node's live slots: writes back those that vanished (without
   * checking the ceiling: the connections exist) and releases those no connection holds.
   */
  async resync(): Promise<LeaseResyncResult> {
    const { commands, keys } = this.redis;
    const indexed = (await Promise.all(keys.buckets.map(async (bucket) =>
      (await commands.hkeys(keys.nodeLeases(this.nodeId, bucket))).map((field) => ({ bucket, field }))))).flat();
    const stale = indexed.filter(({ field }) => !this.held.has(field) && !this.pending.has(field));
    await inBatches(stale, BATCH, async ({ bucket, field }) => {
      const [userKey, leaseId] = parseField(field, 2) ?? ['', ''];
      if (userKey === '' || keys.bucketOf(userKey) !== bucket) await commands.hdel(keys.nodeLeases(this.nodeId, bucket), field);
      else await LEASE_RELEASE.run(commands, this.keysFor(userKey), [leaseId, field]);
      this.unreleased.delete(field);
    });
    const written = await inBatches([...this.held], BATCH, ([field, [userKey, leaseId]]) =>
      LEASE_ACQUIRE.run(commands, this.keysFor(userKey), [leaseId, 0, this.nodeId, field, 1]));
    this.fallback = new InMemoryConnectionLeaseStore();
    return { restored: written.filter((result) => Number(result) === 2).length, removed: stale.length };
  }

  /**
   * Releases every slot of a dead node, bucket by bucket, a batch at a time; stops (returning
   * `false`) as soon as that node turns out to be alive again (checked before each batch: the
   * alive key lives in another slot of a cluster, so no script can check it).
   */
  async reapNode(deadNodeId: string): Promise<boolean> {
    const { commands, keys } = this.redis;
    const alive = keys.nodeAlive(deadNodeId);
    const stillDead = async () => (await commands.exists(alive)) === 0;
    if (!(await stillDead())) return false;
    const complete = await Promise.all(keys.buckets.map((bucket) => {
      const index = keys.nodeLeases(deadNodeId, bucket);
      return everyHashFieldBatch(commands, index, BATCH, async (fields) => {
        if (!(await stillDead())) return false;
        await Promise.all(fields.map((field) => {
          const [userKey, leaseId] = parseField(field, 2) ?? ['', ''];
          // A damaged field, or one filed under the wrong bucket, names no slot here: drop it from the index.
          if (userKey === '' || keys.bucketOf(userKey) !== bucket) return commands.hdel(index, field);
          return LEASE_REAP.run(commands, [keys.userLeases(userKey), index], [leaseId, field, deadNodeId]);
        }));
        return true;
      });
    }));
    return complete.every(Boolean) && (await stillDead());
  }

  private keysFor(userKey: string): string[] {
    const { keys } = this.redis;
    return [keys.userLeases(userKey), keys.nodeLeases(this.nodeId, keys.bucketOf(userKey))];
  }
}

/** A node-index field: the JSON array of the identifiers (unambiguous whatever they contain). */
export function indexField(...parts: string[]): string {
  return JSON.stringify(parts);
}

/** Parses a node-index field of `arity` strings, or `null` for anything else. */
export function parseField(field: string, arity: number): string[] | null {
  try {
    const value: unknown = JSON.parse(field);
    return Array.isArray(value) && value.length === arity && value.every((v) => typeof v === 'string') ? (value as string[]) : null;
  } catch {
    return null;
  }
}
