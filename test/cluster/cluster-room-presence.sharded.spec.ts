import { useRedisTopology } from '../support/redis.js';

/** `cluster-room-presence.spec.ts` on a real sharded Redis Cluster of the file's own (flushed on every master). */
useRedisTopology('cluster');
await import('./cluster-room-presence.spec.js');
