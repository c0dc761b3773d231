import type { ModerationBus, ModerationCommand } from '../interfaces/moderation-bus.interface.js';
import type { RedisStreamBus } from './redis-stream.bus.js';

const CHANNEL = 'moderation';
const MAX_ID = 256;
const MAX_PERMISSIONS = 512;

/**
 * Moderation commands (disconnect, ban, unban, permission changes) to every node, over the
 * Redis stream bus: a node whose Redis connection was down when a ban was published applies it
 * as soon as it reads again. Commands read from Redis are checked field by field before any
 * listener sees them.
 */
export class RedisModerationBus implements ModerationBus {
  constructor(private readonly bus: RedisStreamBus) {}

  async publish(command: ModerationCommand): Promise<void> {
    await this.bus.publish(CHANNEL, command.origin, command);
  }

  subscribe(listener: (command: ModerationCommand) => void): () => void {
    return this.bus.on(CHANNEL, (payload) => {
      const command = asCommand(payload);
      if (command !== null) listener(command);
    });
  }
}

/** The command, rebuilt from known fields only, or `null` when anything is off. */
function asCommand(value: unknown): ModerationCommand | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const ids = [v.origin, v.tenantId, v.userId];
  if (ids.some((id) => typeof id !== 'string' || id.length === 0 || id.length > MAX_ID)) return null;
  const base = { origin: v.origin as string, tenantId: v.tenantId as string, userId: v.userId as string };
  switch (v.kind) {
    case 'disconnect':
    case 'unban':
      return Object.freeze({ ...base, kind: v.kind });
    case 'ban':
      if (v.until !== null && (typeof v.until !== 'number' || !Number.isFinite(v.until))) return null;
      return Object.freeze({ ...base, kind: 'ban', until: v.until as number | null });
    case 'permissions': {
      const p = v.permissions;
      if (p === null) return Object.freeze({ ...base, kind: 'permissions', permissions: null });
      if (!Array.isArray(p) || p.length > MAX_PERMISSIONS || p.some((x) => typeof x !== 'string' || x.length === 0 || x.length > MAX_ID)) return null;
      return Object.freeze({ ...base, kind: 'permissions', permissions: Object.freeze([...(p as string[])]) });
    }
    default:
      return null;
  }
}
