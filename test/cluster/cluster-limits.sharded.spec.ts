import { useRedisTopology } from '../support/redis.js';

/** `cluster-limits.spec.ts` on a real sharded Redis Cluster (3 masters, 3 replicas) started for this file. */
useRedisTopology('cluster');
await import('./cluster-limits.spec.js');
