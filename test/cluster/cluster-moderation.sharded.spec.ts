import { useRedisTopology } from '../support/redis.js';

/** `cluster-moderation.spec.ts` on a real sharded Redis Cluster (3 masters, 3 replicas) started for this file. */
useRedisTopology('cluster');
await import('./cluster-moderation.spec.js');
