import type { RoomPresenceBus, RoomPresenceBusMessage } from '../interfaces/room-presence-bus.interface.js';
import type { RoomPresenceChange } from '../presence/presence.interface.js';
import type { RedisStreamBus } from './redis-stream.bus.js';

/** The bus channel of room joins and leaves. */
export const ROOM_PRESENCE_CHANNEL = 'room-presence';
const MAX_ID = 512;

/** Room joins and leaves to every node over the Redis stream bus; messages read back are checked field by field. */
export class RedisRoomPresenceBus implements RoomPresenceBus {
  constructor(private readonly bus: RedisStreamBus) {}

  async publish(message: RoomPresenceBusMessage): Promise<void> {
    await this.bus.publish(ROOM_PRESENCE_CHANNEL, message.origin, message.change);
  }

  subscribe(listener: (message: RoomPresenceBusMessage) => void): () => void {
    return this.bus.on(ROOM_PRESENCE_CHANNEL, (payload, origin) => {
      const change = asRoomChange(payload);
      if (change !== null) listener(Object.freeze({ origin, change }));
    });
  }
}

function asRoomChange(value: unknown): RoomPresenceChange | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (v.type !== 'join' && v.type !== 'leave') return null;
  if ([v.tenantId, v.userId, v.room].some((id) => typeof id !== 'string' || id.length === 0 || id.length > MAX_ID)) return null;
  if (typeof v.at !== 'number' || !Number.isFinite(v.at)) return null;
  return Object.freeze({ type: v.type, tenantId: v.tenantId as string, room: v.room as string, userId: v.userId as string, at: v.at });
}
