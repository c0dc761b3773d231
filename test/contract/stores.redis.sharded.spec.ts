import { useRedisTopology } from '../support/redis.js';

/** The Redis store contracts and Redis-only store behaviour of `stores.redis.spec.ts`, on a real sharded Redis Cluster (3 masters, 3 replicas). */
useRedisTopology('cluster');
await import('./stores.redis.spec.js');
