import type { Provider } from '@nestjs/common';
import { NODE_ID, RESOLVED_OPTIONS } from '../constants.js';
import { PresenceBus } from '../interfaces/presence-bus.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { InProcessPresenceBus } from '../presence/in-process-presence.bus.js';
import { RoomPresenceBus } from '../interfaces/room-presence-bus.interface.js';
import { InProcessRoomPresenceBus } from '../presence/in-process-room-presence.bus.js';
import { RedisRoomPresenceBus } from './redis-room-presence.bus.js';
import { BUS_CHANNELS, REDIS_CONNECTION, REDIS_STREAM_BUS } from './cluster.constants.js';
import { RedisConnection } from './redis-connection.js';
import { RedisPresenceBus } from './redis-presence.bus.js';
import { RedisStreamBus } from './redis-stream.bus.js';

/** The Redis connections in cluster mode (`redis` option set), else `null`. */
export const redisConnectionProvider: Provider = {
  provide: REDIS_CONNECTION,
  useFactory: (options: ResolvedRealtimeSecurityOptions, nodeId: string): RedisConnection | null =>
    options.redis === null ? null : new RedisConnection(options.redis, nodeId),
  inject: [RESOLVED_OPTIONS, NODE_ID],
};

/** The cross-node bus on Redis streams in cluster mode, else `null`. */
export const redisStreamBusProvider: Provider = {
  provide: REDIS_STREAM_BUS,
  useFactory: (redis: RedisConnection | null): RedisStreamBus | null => (redis === null ? null : new RedisStreamBus(redis, BUS_CHANNELS)),
  inject: [REDIS_CONNECTION],
};

/** Presence changes between nodes: over Redis in cluster mode, in-process otherwise. */
export const presenceBusProvider: Provider = {
  provide: PresenceBus,
  useFactory: (bus: RedisStreamBus | null): PresenceBus => (bus === null ? new InProcessPresenceBus() : new RedisPresenceBus(bus)),
  inject: [REDIS_STREAM_BUS],
};

/** Room joins and leaves between nodes: over Redis in cluster mode, in-process otherwise. */
export const roomPresenceBusProvider: Provider = {
  provide: RoomPresenceBus,
  useFactory: (bus: RedisStreamBus | null): RoomPresenceBus => (bus === null ? new InProcessRoomPresenceBus() : new RedisRoomPresenceBus(bus)),
  inject: [REDIS_STREAM_BUS],
};
