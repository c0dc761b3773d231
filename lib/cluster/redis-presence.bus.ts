import type { PresenceBus, PresenceBusMessage } from '../interfaces/presence-bus.interface.js';
import type { PresenceChange } from '../presence/presence.interface.js';
import type { RedisStreamBus } from './redis-stream.bus.js';

const CHANNEL = 'presence';
const MAX_ID = 512;

/** Presence changes to every node over the Redis stream bus; messages read back are checked field by field. */
export class RedisPresenceBus implements PresenceBus {
  constructor(private readonly bus: RedisStreamBus) {}

  async publish(message: PresenceBusMessage): Promise<void> {
    await this.bus.publish(CHANNEL, message.origin, message.change);
  }

  subscribe(listener: (message: PresenceBusMessage) => void): () => void {
    return this.bus.on(CHANNEL, (payload, origin) => {
      const change = asChange(payload);
      if (change !== null) listener(Object.freeze({ origin, change }));
    });
  }
}

function asChange(value: unknown): PresenceChange | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (v.type !== 'online' && v.type !== 'offline') return null;
  if ([v.tenantId, v.userId].some((id) => typeof id !== 'string' || id.length === 0 || id.length > MAX_ID)) return null;
  if (typeof v.at !== 'number' || !Number.isFinite(v.at)) return null;
  if (v.lastSeen !== null && (typeof v.lastSeen !== 'number' || !Number.isFinite(v.lastSeen))) return null;
  return Object.freeze({ type: v.type, tenantId: v.tenantId as string, userId: v.userId as string, at: v.at, lastSeen: v.lastSeen as number | null });
}
