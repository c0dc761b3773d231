import { useRedisTopology } from '../support/redis.js';

/** `cluster-options.spec.ts` on a real sharded Redis Cluster: the app's own ioredis `Cluster` as `redis.client`. */
useRedisTopology('cluster');
await import('./cluster-options.spec.js');
