import { useRedisTopology } from '../support/redis.js';

/** `cluster-failures.spec.ts` on a real sharded Redis Cluster of the file's own: the whole cluster stopped and restarted empty, then flushed. */
useRedisTopology('cluster');
await import('./cluster-failures.spec.js');
