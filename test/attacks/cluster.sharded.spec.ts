import { useRedisTopology } from '../support/redis.js';

/** The cluster attack suite (`cluster.spec.ts`, THREATS 29-34) on a real sharded Redis Cluster of this file's own. */
useRedisTopology('cluster');
await import('./cluster.spec.js');
