import { useRedisTopology } from '../support/redis.js';

/** `cluster-presence.spec.ts` on a real sharded Redis Cluster (3 masters, 3 replicas) started for this file. */
useRedisTopology('cluster');
await import('./cluster-presence.spec.js');
