import type { BanRecord, ModerationRecord, ModerationStore } from '../interfaces/moderation-store.interface.js';
import type { RedisUnavailablePolicy } from '../interfaces/realtime-security-options.interface.js';
import type { RedisConnection } from './redis-connection.js';

const MAX_PERMISSIONS = 4096;

/**
 * Bans and permission overrides in Redis, so a handshake on any node sees the same answer. A
 * ban with an end is stored with that expiry (`PXAT`), so Redis forgets it on time.
 *
 * While Redis is unreachable, reads throw (the handshake is refused with
 * `SERVICE_UNAVAILABLE`) or, with `onUnavailable: 'fail-open'`, answer "no ban, no override";
 * writes always throw (a moderator must know the decision was not stored).
 */
export class RedisModerationStore implements ModerationStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly onUnavailable: RedisUnavailablePolicy = 'fail-closed',
  ) {}

  async ban(userKey: string, record: BanRecord): Promise<void> {
    const key = this.redis.keys.ban(userKey);
    const value = JSON.stringify({ until: record.until, ...(record.reason !== undefined ? { reason: record.reason } : {}) });
    if (record.until === null) await this.redis.commands.set(key, value);
    else if (record.until <= Date.now()) await this.redis.commands.del(key);
    else await this.redis.commands.set(key, value, 'PXAT', record.until);
  }

  async unban(userKey: string): Promise<void> {
    await this.redis.commands.del(this.redis.keys.ban(userKey));
  }

  async getBan(userKey: string): Promise<BanRecord | null> {
    return banOf(await this.read(() => this.redis.commands.get(this.redis.keys.ban(userKey)), null));
  }

  /** Both in one `MGET`: one round trip per handshake. */
  async getModeration(userKey: string): Promise<ModerationRecord> {
    const [ban = null, permissions = null] = await this.read(() => this.redis.commands.mget(this.redis.keys.ban(userKey), this.redis.keys.permissions(userKey)), []);
    return { ban: banOf(ban), permissions: permissionsOf(permissions) };
  }

  async setPermissions(userKey: string, permissions: readonly string[] | null): Promise<void> {
    const key = this.redis.keys.permissions(userKey);
    if (permissions === null) await this.redis.commands.del(key);
    else await this.redis.commands.set(key, JSON.stringify(permissions));
  }

  async getPermissions(userKey: string): Promise<readonly string[] | null> {
    return permissionsOf(await this.read(() => this.redis.commands.get(this.redis.keys.permissions(userKey)), null));
  }

  /** A read; while Redis is unreachable it throws, or answers `unavailable` with `fail-open`. */
  private async read<T>(query: () => Promise<T>, unavailable: T): Promise<T> {
    try {
      return await query();
    } catch (error) {
      if (this.onUnavailable === 'fail-open') return unavailable;
      throw error;
    }
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

/** A stored ban as read: a damaged record is an indefinite ban (fail closed); an ended one is none. */
function banOf(raw: string | null): BanRecord | null {
  if (raw === null) return null;
  const parsed = parseJson(raw);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return Object.freeze({ until: null });
  const { until, reason } = parsed as { until?: unknown; reason?: unknown };
  const end = typeof until === 'number' && Number.isFinite(until) ? until : null;
  if (end !== null && end <= Date.now()) return null;
  return Object.freeze({ until: end, ...(typeof reason === 'string' ? { reason } : {}) });
}

/** A stored override as read: a damaged one grants nothing rather than falling back to the token's permissions. */
function permissionsOf(raw: string | null): readonly string[] | null {
  if (raw === null) return null;
  const parsed = parseJson(raw);
  if (!Array.isArray(parsed) || parsed.length > MAX_PERMISSIONS) return Object.freeze([]);
  return Object.freeze(parsed.filter((p): p is string => typeof p === 'string'));
}
