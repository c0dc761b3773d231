import type { BanRecord, ModerationStore } from '../interfaces/moderation-store.interface.js';
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
    const raw = await this.read(() => this.redis.commands.get(this.redis.keys.ban(userKey)));
    if (raw === null) return null;
    const parsed = parseJson(raw);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return Object.freeze({ until: null });
    const { until, reason } = parsed as { until?: unknown; reason?: unknown };
    const end = typeof until === 'number' && Number.isFinite(until) ? until : null;
    if (end !== null && end <= Date.now()) return null;
    return Object.freeze({ until: end, ...(typeof reason === 'string' ? { reason } : {}) });
  }

  async setPermissions(userKey: string, permissions: readonly string[] | null): Promise<void> {
    const key = this.redis.keys.permissions(userKey);
    if (permissions === null) await this.redis.commands.del(key);
    else await this.redis.commands.set(key, JSON.stringify(permissions));
  }

  async getPermissions(userKey: string): Promise<readonly string[] | null> {
    const raw = await this.read(() => this.redis.commands.get(this.redis.keys.permissions(userKey)));
    if (raw === null) return null;
    const parsed = parseJson(raw);
    // A damaged override grants nothing rather than falling back to the token's permissions.
    if (!Array.isArray(parsed) || parsed.length > MAX_PERMISSIONS) return Object.freeze([]);
    return Object.freeze(parsed.filter((p): p is string => typeof p === 'string'));
  }

  private async read(query: () => Promise<string | null>): Promise<string | null> {
    try {
      return await query();
    } catch (error) {
      if (this.onUnavailable === 'fail-open') return null;
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
